"""Dataset schema (docs/contracts.md section 1): parsing and validation.

A schema that loads is safe to run: every error names the field (as a JSON path) and says what is allowed,
so a user fixing their own schema does not have to read this code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

OTHER = "__other__"
# Names the ETL itself writes (`_reason`, `_row_number`) or Model Monitor gives headerless columns (`_c0`):
# a dataset column starting with "_" could collide with them.
RESERVED_PREFIX = "_"

_TOP_LEVEL = {"name", "description", "target", "id", "numeric", "categorical", "quality", "split"}
_DEFAULT_QUALITY = {"maxQuarantineShare": 0.05, "minRows": 100, "maxUnknownCategoryShare": 0.25}
_DEFAULT_SPLIT = {"train": 0.7, "validation": 0.15, "test": 0.15, "seed": 42}


class SchemaError(ValueError):
    """The dataset schema is invalid; the message names the field and what is allowed."""


@dataclass(frozen=True)
class Target:
    """The label column and its two values. `kind` is the JSON type the schema gave them (both the same):
    "string" values match the trimmed cell exactly, "number" values match a plain decimal with the same value
    (`1` matches "1", "1.0", "1e0"), "boolean" values match "true"/"false" in any letter case."""
    column: str
    positive: str  # the value as text: "yes", "1", "1.5", "true"
    negative: str
    kind: str = "string"
    positive_number: float | None = None  # kind == "number": the values as numbers
    negative_number: float | None = None


@dataclass(frozen=True)
class NumericFeature:
    name: str
    min: float | None
    max: float | None
    required: bool


@dataclass(frozen=True)
class CategoricalFeature:
    name: str
    categories: tuple[str, ...]
    required: bool

    @property
    def other_code(self) -> int:
        return len(self.categories)

    def encoding(self) -> dict[str, int]:
        codes = {c: i for i, c in enumerate(self.categories)}
        codes[OTHER] = self.other_code
        return codes


@dataclass(frozen=True)
class Quality:
    max_quarantine_share: float
    min_rows: int
    # Per categorical feature: the share of usable rows whose value is not a known category (mapped to
    # __other__). A feature mostly unknown (say, every value upper-cased) carries no signal the model learnt.
    max_unknown_category_share: float = 0.25


@dataclass(frozen=True)
class Split:
    train: float
    validation: float
    test: float
    seed: int


@dataclass(frozen=True)
class DatasetSchema:
    name: str
    target: Target
    id: str | None
    numeric: tuple[NumericFeature, ...]
    categorical: tuple[CategoricalFeature, ...]
    quality: Quality
    split: Split
    raw: Mapping[str, Any]  # the schema exactly as given, for the manifest

    @property
    def features(self) -> list[str]:
        """Feature order of the ETL output and the model: numeric features, then categorical, as listed."""
        return [f.name for f in self.numeric] + [f.name for f in self.categorical]

    @property
    def feature_types(self) -> dict[str, str]:
        return {**{f.name: "numeric" for f in self.numeric}, **{f.name: "categorical" for f in self.categorical}}

    @property
    def required_columns(self) -> list[str]:
        """Columns the input must have: the target, the id (if declared) and every required feature."""
        cols = [self.target.column] + ([self.id] if self.id else [])
        return cols + [f.name for f in (*self.numeric, *self.categorical) if f.required]

    @property
    def columns(self) -> list[str]:
        return ([self.id] if self.id else []) + self.features + [self.target.column]


def _fail(path: str, message: str) -> None:
    raise SchemaError(f"schema: {path}: {message}")


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_keys(obj: Mapping[str, Any], path: str, allowed: set[str], required: set[str]) -> None:
    for key in obj:
        if key not in allowed:
            _fail(f"{path}.{key}" if path else key, f"unknown field; allowed: {', '.join(sorted(allowed))}")
    for key in sorted(required):
        if key not in obj:
            _fail(f"{path}.{key}" if path else key, "is required")


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(path, f"expected an object, got {_type_name(value)}")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(path, f"expected a non-empty string, got {value!r}")
    if value != value.strip():
        _fail(path, f"must not start or end with whitespace, got {value!r}")
    return value


def _column_name(value: Any, path: str) -> str:
    name = _string(value, path)
    if name.startswith(RESERVED_PREFIX):
        _fail(path, f"column names must not start with {RESERVED_PREFIX!r} (reserved for ETL columns), got {name!r}")
    return name


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(path, f"expected a finite number, got {value!r}")
    return float(value)


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        _fail(path, f"expected true or false, got {value!r}")
    return value


def _feature_items(items: Any, section: str, allowed: set[str], required: set[str]) -> Iterator[tuple[str, dict]]:
    """(path, item) for each entry of a feature list, each an object with only the allowed keys."""
    if not isinstance(items, list):
        _fail(section, f"expected a list of features, got {_type_name(items)}")
    for i, item in enumerate(items):
        path = f"{section}[{i}]"
        item = _obj(item, path)
        _check_keys(item, path, allowed, required)
        yield path, item


def _parse_numeric(items: Any) -> tuple[NumericFeature, ...]:
    out = []
    for path, item in _feature_items(items, "numeric", {"name", "min", "max", "required"}, {"name"}):
        lo = _number(item["min"], f"{path}.min") if item.get("min") is not None else None
        hi = _number(item["max"], f"{path}.max") if item.get("max") is not None else None
        if lo is not None and hi is not None and lo > hi:
            _fail(f"{path}.min", f"min ({lo}) must not exceed max ({hi})")
        out.append(NumericFeature(_column_name(item["name"], f"{path}.name"), lo, hi,
                                  _bool(item.get("required", False), f"{path}.required")))
    return tuple(out)


def _parse_categorical(items: Any) -> tuple[CategoricalFeature, ...]:
    out = []
    for path, item in _feature_items(items, "categorical", {"name", "categories", "required"}, {"name", "categories"}):
        cats = item["categories"]
        if not isinstance(cats, list) or not cats:
            _fail(f"{path}.categories", f"expected a non-empty list of strings, got {cats!r}")
        seen: set[str] = set()
        for j, cat in enumerate(cats):
            cat = _string(cat, f"{path}.categories[{j}]")
            if cat == OTHER:
                _fail(f"{path}.categories[{j}]", f"{OTHER!r} is reserved for unknown values")
            if cat in seen:
                _fail(f"{path}.categories[{j}]", f"duplicate category {cat!r}")
            seen.add(cat)
        out.append(CategoricalFeature(_column_name(item["name"], f"{path}.name"), tuple(cats),
                                      _bool(item.get("required", False), f"{path}.required")))
    return tuple(out)


def _parse_quality(value: Any) -> Quality:
    q = _obj(value, "quality")
    _check_keys(q, "quality", set(_DEFAULT_QUALITY), set())
    q = {**_DEFAULT_QUALITY, **q}
    share = _number(q["maxQuarantineShare"], "quality.maxQuarantineShare")
    if not 0.0 <= share <= 1.0:
        _fail("quality.maxQuarantineShare", f"expected a share between 0 and 1, got {share}")
    rows = q["minRows"]
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        _fail("quality.minRows", f"expected an integer >= 1, got {rows!r}")
    unknown = _number(q["maxUnknownCategoryShare"], "quality.maxUnknownCategoryShare")
    if not 0.0 <= unknown <= 1.0:
        _fail("quality.maxUnknownCategoryShare", f"expected a share between 0 and 1, got {unknown}")
    return Quality(share, rows, unknown)


def _parse_split(value: Any) -> Split:
    s = _obj(value, "split")
    _check_keys(s, "split", set(_DEFAULT_SPLIT), set())
    s = {**_DEFAULT_SPLIT, **s}
    shares = {}
    for key in ("train", "validation"):
        shares[key] = _number(s[key], f"split.{key}")
        if not 0.0 < shares[key] < 1.0:
            _fail(f"split.{key}", f"expected a share greater than 0 and less than 1, got {shares[key]}")
    shares["test"] = _number(s["test"], "split.test")
    if not 0.0 <= shares["test"] < 1.0:
        _fail("split.test", f"expected a share from 0 up to (not including) 1, got {shares['test']}")
    total = sum(shares.values())
    if abs(total - 1.0) > 1e-9:
        _fail("split", f"train + validation + test must add up to 1, got {total}")
    seed = s["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        _fail("split.seed", f"expected an integer >= 0, got {seed!r}")
    return Split(shares["train"], shares["validation"], shares["test"], seed)


def _label(value: Any, path: str) -> tuple[str, str, float | None]:
    """(kind, text, number) of one target label: a string, a finite number or a boolean."""
    if isinstance(value, bool):
        return "boolean", "true" if value else "false", None
    if isinstance(value, (int, float)):
        number = _number(value, path)
        return "number", str(value), number
    if isinstance(value, str):
        return "string", _string(value, path), None
    _fail(path, f"expected a string, a number or true/false, got {_type_name(value)}")
    raise AssertionError  # _fail raised


def _parse_target(value: Any) -> Target:
    t = _obj(value, "target")
    _check_keys(t, "target", {"column", "positive", "negative"}, {"column", "positive", "negative"})
    pos_kind, pos, pos_num = _label(t["positive"], "target.positive")
    neg_kind, neg, neg_num = _label(t["negative"], "target.negative")
    if pos_kind != neg_kind:
        _fail("target.negative", f"must have the same type as target.positive ({pos_kind}), got {neg_kind} "
                                 f"{t['negative']!r}")
    if pos == neg or (pos_num is not None and pos_num == neg_num):
        _fail("target.negative", "must differ from target.positive")
    return Target(_column_name(t["column"], "target.column"), pos, neg, pos_kind, pos_num, neg_num)


def parse_schema(raw: Any) -> DatasetSchema:
    """Validates a decoded schema document and returns it typed. Raises SchemaError."""
    doc = _obj(raw, "(root)")
    _check_keys(doc, "", _TOP_LEVEL, {"name", "target"})
    name = _string(doc["name"], "name")
    if "description" in doc and not isinstance(doc["description"], str):
        _fail("description", f"expected a string, got {_type_name(doc['description'])}")

    target = _parse_target(doc["target"])

    id_col = _column_name(doc["id"], "id") if doc.get("id") is not None else None
    numeric = _parse_numeric(doc.get("numeric", []))
    categorical = _parse_categorical(doc.get("categorical", []))
    if not numeric and not categorical:
        _fail("numeric", "the schema needs at least one numeric or categorical feature")

    seen = {target.column: "target.column"}
    if id_col:
        if id_col in seen:
            _fail("id", f"{id_col!r} is already used by {seen[id_col]}")
        seen[id_col] = "id"
    for kind, feats in (("numeric", numeric), ("categorical", categorical)):
        for i, f in enumerate(feats):
            if f.name in seen:
                _fail(f"{kind}[{i}].name", f"{f.name!r} is already used by {seen[f.name]}")
            seen[f.name] = f"{kind}[{i}].name"

    quality = _parse_quality(doc.get("quality", {}))
    split = _parse_split(doc.get("split", {}))
    return DatasetSchema(name, target, id_col, numeric, categorical, quality, split, raw=json.loads(json.dumps(doc)))


def schema_from_text(text: str) -> DatasetSchema:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"schema: not valid JSON: {exc}") from exc
    return parse_schema(raw)


def load_schema(path: str) -> DatasetSchema:
    """Reads and validates a local schema file (the Glue entrypoint reads S3 itself and calls schema_from_text)."""
    with open(path, encoding="utf-8") as fh:
        return schema_from_text(fh.read())
