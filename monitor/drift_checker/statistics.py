"""Model Monitor's data-quality ``statistics.json`` and ``constraints.json``: parsing columns, building both.

Used for the current window's ``statistics.json`` (written next to ``constraint_violations.json``, as Model
Monitor does) and by the detection-rate script to build a baseline without Spark. Formats follow Model
Monitor's published schemas ("Schema for Statistics", "Schema for Constraints").

Type inference reads values as text, the way the analyzer reads headerless CSV: a value is Integral when it
is a whole number written without a decimal point (``12``), Fractional when it is any other number
(``12.0``, ``1e3``), String otherwise; empty fields are missing. A column is String if any value is a String,
else Fractional if any value is Fractional, else Integral; Unknown when every value is missing.

Numeric distributions are stored as Model Monitor stores them: ten equal-width ``kll.buckets`` between min and
max, and a ``kll.sketch`` whose ``data`` is a list of compactor levels, level ``h`` holding items of weight
``2**h``. Up to ``k`` values the sketch is exact (every value at level 0); above that this builder keeps every
``2**h``-th sorted value at level ``h`` (the smallest ``h`` that fits ``k`` items), a deterministic
compaction whose rank error is at most ``2**(h-1)`` items, below the KLL bound for the same ``k``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .errors import DriftCheckError

INTEGRAL, FRACTIONAL, STRING, UNKNOWN = "Integral", "Fractional", "String", "Unknown"
NUMERIC_TYPES = (INTEGRAL, FRACTIONAL)
KLL_K = 2048
KLL_C = 0.64
BUCKETS = 10
# Model Monitor lists string_constraints.domains "for small cardinality"; above this many values it lists none.
MAX_DOMAIN_SIZE = 100

_INTEGRAL_RE = re.compile(r"^[+-]?\d+$")
_FRACTIONAL_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

# Also in etl/mlops_etl/baseline.py (MONITORING_CONFIG, KLL_*, BUCKETS), which writes the baseline: this package
# goes into the model image and that one to Glue, so neither imports the other; tests/monitor/test_shared_defaults.py
# keeps the copies equal.
DEFAULT_MONITORING_CONFIG = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}


def value_kind(text: str | None) -> str | None:
    """Integral, Fractional or String for one field; None when it is missing (empty)."""
    if text is None:
        return None
    value = text.strip()
    if not value:
        return None
    if _INTEGRAL_RE.match(value):
        return INTEGRAL
    if _FRACTIONAL_RE.match(value):
        return FRACTIONAL
    return STRING


@dataclass(frozen=True)
class ParsedColumn:
    """One column of a dataset, values as text (None = missing), with their kinds counted once."""

    name: str
    values: tuple[str | None, ...]
    kinds: tuple[str | None, ...] = field(repr=False)

    @staticmethod
    def of(name: str, values: Sequence[str | None]) -> "ParsedColumn":
        cleaned = tuple(None if v is None or not str(v).strip() else str(v).strip() for v in values)
        return ParsedColumn(name, cleaned, tuple(value_kind(v) for v in cleaned))

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def num_present(self) -> int:
        return sum(1 for k in self.kinds if k is not None)

    @property
    def inferred_type(self) -> str:
        present = {k for k in self.kinds if k is not None}
        if not present:
            return UNKNOWN
        if STRING in present:
            return STRING
        return FRACTIONAL if FRACTIONAL in present else INTEGRAL

    def numbers(self) -> np.ndarray:
        """The values that are numbers (Integral or Fractional), as floats, in row order."""
        return np.array([float(v) for v, k in zip(self.values, self.kinds) if k in NUMERIC_TYPES], dtype=float)

    def present_strings(self) -> list[str]:
        return [v for v, k in zip(self.values, self.kinds) if k is not None]


def columns_from_rows(rows: Sequence[Sequence[str]], names: Sequence[str] | None = None) -> list[ParsedColumn]:
    """Headerless rows into columns. Width = the widest row; shorter rows are missing the trailing fields.

    Columns are named ``_c0``, ``_c1``, ... (Model Monitor's names for headerless CSV) unless ``names`` gives
    names for the first ones.
    """
    width = max((len(r) for r in rows), default=0)
    names = list(names or [])
    out = []
    for i in range(width):
        name = names[i] if i < len(names) else f"_c{i}"
        out.append(ParsedColumn.of(name, [r[i] if i < len(r) else None for r in rows]))
    return out


def kll_sketch(sorted_values: np.ndarray, k: int = KLL_K) -> list[list[float]]:
    """Compactor levels of a deterministic KLL-style summary (see the module doc)."""
    n = len(sorted_values)
    if n <= k:
        return [[float(v) for v in sorted_values]]
    level = math.ceil(math.log2(n / k))
    step = 2 ** level
    items = sorted_values[step // 2::step]
    return [[] for _ in range(level)] + [[float(v) for v in items]]


def _buckets(sorted_values: np.ndarray, count: int = BUCKETS) -> list[dict]:
    lo, hi = float(sorted_values[0]), float(sorted_values[-1])
    if hi == lo:
        return [{"lower_bound": lo, "upper_bound": hi, "count": int(len(sorted_values))}]
    edges = np.linspace(lo, hi, count + 1)
    # Buckets are [lower, upper) except the last, which also holds the maximum.
    idx = np.clip(np.searchsorted(edges, sorted_values, side="right") - 1, 0, count - 1)
    counts = np.bincount(idx, minlength=count)
    return [{"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": int(counts[i])}
            for i in range(count)]


def feature_statistics(column: ParsedColumn) -> dict:
    """One entry of ``statistics.json``'s ``features``."""
    kind = column.inferred_type
    present = column.num_present
    common = {"num_present": present, "num_missing": column.count - present}
    if kind in NUMERIC_TYPES:
        values = np.sort(column.numbers())
        return {
            "name": column.name,
            "inferred_type": kind,
            "numerical_statistics": {
                "common": common,
                "mean": float(values.mean()),
                "sum": float(values.sum()),
                "std_dev": float(values.std()),
                "min": float(values[0]),
                "max": float(values[-1]),
                "distribution": {"kll": {
                    "buckets": _buckets(values),
                    "sketch": {"parameters": {"c": KLL_C, "k": float(KLL_K)}, "data": kll_sketch(values)},
                }},
            },
        }
    if kind == STRING:
        strings = column.present_strings()
        values, counts = np.unique(np.array(strings, dtype=object), return_counts=True)
        return {
            "name": column.name,
            "inferred_type": STRING,
            "string_statistics": {
                "common": common,
                "distinct_count": int(len(values)),
                "distribution": {"categorical": {"buckets": [
                    {"value": str(v), "count": int(c)} for v, c in zip(values, counts)]}},
            },
        }
    return {"name": column.name, "inferred_type": UNKNOWN, "numerical_statistics": {"common": common}}


def build_statistics(columns: Sequence[ParsedColumn]) -> dict:
    """``statistics.json`` for a dataset given as columns."""
    item_count = max((c.count for c in columns), default=0)
    return {"version": 0, "dataset": {"item_count": item_count},
            "features": [feature_statistics(c) for c in columns]}


def suggest_constraints(statistics: Mapping, monitoring_config: Mapping | None = None) -> dict:
    """``constraints.json`` for a baseline, as Model Monitor's suggestion step writes it.

    completeness is the baseline's observed non-null share; numeric features get ``is_non_negative``;
    String features with at most MAX_DOMAIN_SIZE distinct values list them as ``domains``.
    """
    item_count = statistics.get("dataset", {}).get("item_count", 0)
    features = []
    for feat in statistics.get("features", []):
        kind = feat.get("inferred_type", UNKNOWN)
        block = feat.get("numerical_statistics") or feat.get("string_statistics") or {}
        present = block.get("common", {}).get("num_present", 0)
        entry: dict = {"name": feat["name"], "inferred_type": kind,
                       "completeness": float(present) / item_count if item_count else 0.0}
        if kind in NUMERIC_TYPES:
            entry["num_constraints"] = {"is_non_negative": bool(block.get("min", 0) >= 0)}
        elif kind == STRING:
            buckets = block.get("distribution", {}).get("categorical", {}).get("buckets", [])
            if len(buckets) <= MAX_DOMAIN_SIZE:
                entry["string_constraints"] = {"domains": sorted(str(b["value"]) for b in buckets)}
        features.append(entry)
    config = {**DEFAULT_MONITORING_CONFIG, **(monitoring_config or {})}
    config["distribution_constraints"] = {**DEFAULT_MONITORING_CONFIG["distribution_constraints"],
                                          **(monitoring_config or {}).get("distribution_constraints", {})}
    return {"version": 0, "features": features, "monitoring_config": config}


def require_features(doc: Mapping, what: str) -> list[Mapping]:
    """The ``features`` list of a statistics or constraints document, validated enough to be used."""
    features = doc.get("features") if isinstance(doc, Mapping) else None
    if not isinstance(features, list) or not features:
        raise DriftCheckError(f"{what}: expected a non-empty \"features\" list (Model Monitor format)")
    for i, feat in enumerate(features):
        if not isinstance(feat, Mapping) or not isinstance(feat.get("name"), str):
            raise DriftCheckError(f"{what}: features[{i}] has no \"name\"")
        kind = feat.get("inferred_type")
        if kind not in (INTEGRAL, FRACTIONAL, STRING, UNKNOWN):
            raise DriftCheckError(f"{what}: features[{i}] ({feat['name']}) has inferred_type {kind!r}; "
                                  f"allowed: {INTEGRAL}, {FRACTIONAL}, {STRING}, {UNKNOWN}")
    return features
