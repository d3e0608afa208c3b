"""Channel data (the ETL's headerless, label-first CSV parts) and the optional ETL manifest.

Pandas' C parser reads the files (it is the fastest CSV reader available here); everything after that is
numpy. Feature values may be empty (XGBoost treats them as missing); labels may not.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".csv.gz")
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Split:
    """One channel: labels (0/1) and the feature matrix, float32 as XGBoost stores them."""

    name: str
    labels: np.ndarray
    features: np.ndarray
    files: tuple[str, ...]

    @property
    def rows(self) -> int:
        return int(self.labels.shape[0])

    @property
    def feature_count(self) -> int:
        return int(self.features.shape[1])


@dataclass(frozen=True)
class FeatureInfo:
    names: tuple[str, ...]
    types: dict[str, str]
    encodings: dict[str, dict]
    label: str
    manifest: dict | None


def _is_data_file(path: Path) -> bool:
    # Spark writes _SUCCESS and .part-*.crc next to its part files; S3 "folders" can leave empty markers.
    name = path.name
    return path.is_file() and not name.startswith((".", "_")) and name.lower().endswith(CSV_SUFFIXES)


def channel_files(channel_dir: Path) -> list[Path]:
    """All CSV files of a channel, recursively (an S3 prefix keeps its sub-folders), in a stable order."""
    files = sorted((p for p in channel_dir.rglob("*") if _is_data_file(p)), key=lambda p: p.as_posix())
    if not files:
        others = sorted(p.relative_to(channel_dir).as_posix() for p in channel_dir.rglob("*") if p.is_file())
        found = f"; found {', '.join(others[:5])}{' …' if len(others) > 5 else ''}" if others else " (folder is empty)"
        raise DataError(f"channel {channel_dir.name}: no CSV files ({', '.join(CSV_SUFFIXES)}) in {channel_dir}{found}")
    return files


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when its name ends in .gz; a bad archive is a DataError, not a traceback."""
    data = path.read_bytes()
    if not path.name.lower().endswith(".gz"):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path.name}: not a valid gzip file ({exc}); compress it with gzip or drop the .gz "
                        "suffix") from None


def field_counts(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(1-based line numbers, fields per line) of every non-blank line of a headerless CSV without quotes.

    Counted on the bytes, independently of pandas: pandas pads a short row with NaN, which XGBoost would then
    train on as missing values.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    if raw.size and raw[-1] != ord("\n"):
        ends = np.append(ends, raw.size)
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64) if ends.size else np.zeros(0, np.int64)
    commas = np.concatenate(([0], np.cumsum(raw == ord(","), dtype=np.int64)))
    carriage = np.zeros(ends.size, dtype=bool)
    nonempty = ends > starts
    carriage[nonempty] = raw[ends[nonempty] - 1] == ord("\r")
    content = (ends - starts - carriage) > 0  # pandas skips empty lines (skip_blank_lines)
    lines = np.flatnonzero(content) + 1
    return lines, (commas[ends] - commas[starts])[content] + 1


def read_csv_file(path: Path) -> np.ndarray | None:
    """One headerless numeric CSV file as float32 rows; None for an empty file (Spark writes empty parts)."""
    if path.stat().st_size == 0:
        return None
    data = _read_bytes(path)
    try:
        with warnings.catch_warnings():  # a value beyond float32 becomes inf, refused by validate_rows
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = pd.read_csv(io.BytesIO(data), header=None, dtype=np.float32, skip_blank_lines=True, engine="c")
    except pd.errors.EmptyDataError:
        return None
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        # pandas says "could not convert string to float: 'tenure'" for a header row; say what to do instead.
        raise DataError(
            f"{path.name}: not a headerless numeric CSV ({str(exc).splitlines()[0]}); "
            "expected label first, then numeric features, no header row"
        ) from None
    if b'"' not in data:  # the ETL's parts never quote; a quoted file keeps pandas' own field handling
        lines, counts = field_counts(data)
        short = counts < frame.shape[1]
        if short.any():
            first = int(np.argmax(short))
            raise DataError(
                f"{path.name}: {int(short.sum())} row(s) have fewer fields than the first row "
                f"({frame.shape[1]}); first: line {int(lines[first])} with {int(counts[first])}. "
                "Every row needs the label and every feature (an empty field is a missing value, a missing "
                "field is an error)"
            )
    return frame.to_numpy(dtype=np.float32, copy=False)


def validate_rows(name: str, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split label from features and reject what XGBoost would silently mis-train on."""
    if matrix.shape[1] < 2:
        raise DataError(f"channel {name}: rows have {matrix.shape[1]} column(s); expected the label plus ≥ 1 feature")
    labels = matrix[:, 0]
    features = matrix[:, 1:]
    bad = ~np.isin(labels, (0.0, 1.0))
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"channel {name}: {int(bad.sum())} row(s) have a label other than 0 or 1 "
            f"(first: row {row + 1}, label {labels[row]!r}); the label must be the first column"
        )
    infinite = np.isinf(features)
    if infinite.any():
        row, col = (int(i[0]) for i in np.nonzero(infinite))
        raise DataError(f"channel {name}: infinite feature value at row {row + 1}, feature column {col + 1}")
    positives = int(labels.sum())
    if positives == 0 or positives == labels.shape[0]:
        raise DataError(
            f"channel {name}: all {labels.shape[0]} labels are {int(labels[0])}; AUC needs both classes"
        )
    return labels, features


def load_split(
    name: str, channel_dir: Path, *, should_stop: Callable[[], bool] = lambda: False
) -> Split:
    """Read and validate every CSV file of one channel."""
    parts: list[np.ndarray] = []
    used: list[str] = []
    width: int | None = None
    for path in channel_files(channel_dir):
        if should_stop():
            break
        block = read_csv_file(path)
        if block is None:
            log.info("channel %s: skipping empty file %s", name, path.name)
            continue
        if width is not None and block.shape[1] != width:
            raise DataError(
                f"channel {name}: {path.name} has {block.shape[1]} columns but {used[0]} has {width}"
            )
        width = block.shape[1]
        parts.append(block)
        used.append(path.name)
    if not parts:
        raise DataError(f"channel {name}: the CSV files in {channel_dir} hold no rows")
    matrix = parts[0] if len(parts) == 1 else np.concatenate(parts)
    labels, features = validate_rows(name, matrix)
    return Split(name=name, labels=labels, features=features, files=tuple(used))


def find_manifest(channel_dir: Path) -> Path:
    direct = channel_dir / MANIFEST_NAME
    if direct.is_file():
        return direct
    found = sorted(channel_dir.rglob(MANIFEST_NAME))
    if len(found) != 1:
        raise ConfigError(
            f"channel manifest: expected exactly one {MANIFEST_NAME} in {channel_dir}, found {len(found)}"
        )
    return found[0]


def parse_manifest(manifest: object) -> FeatureInfo:
    """Feature names, types and encodings from the ETL manifest (contracts §2)."""
    if not isinstance(manifest, dict):
        raise ConfigError("manifest.json must be a JSON object")
    features = manifest.get("features")
    if (
        not isinstance(features, list)
        or not features
        or not all(isinstance(f, str) and f for f in features)
    ):
        raise ConfigError("manifest.json: 'features' must be a non-empty list of feature names")
    if len(set(features)) != len(features):
        dupes = sorted({f for f in features if features.count(f) > 1})
        raise ConfigError(f"manifest.json: duplicate feature names {', '.join(dupes)}")
    label = manifest.get("label", "label")
    types = manifest.get("featureTypes", {})
    encodings = manifest.get("encodings", {})
    if not isinstance(label, str) or not isinstance(types, dict) or not isinstance(encodings, dict):
        raise ConfigError("manifest.json: 'label' must be a string, 'featureTypes' and 'encodings' objects")
    return FeatureInfo(
        names=tuple(features),
        types={f: str(types.get(f, "numeric")) for f in features},
        encodings={k: v for k, v in encodings.items() if k in features},
        label=label,
        manifest=manifest,
    )


def read_manifest(channel_dir: Path) -> FeatureInfo:
    path = find_manifest(channel_dir)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"manifest.json is not valid JSON: {exc}") from None
    return parse_manifest(manifest)


def default_features(count: int) -> FeatureInfo:
    names = tuple(f"f{i}" for i in range(count))
    return FeatureInfo(names=names, types={n: "numeric" for n in names}, encodings={}, label="label", manifest=None)


def check_feature_counts(splits: Sequence[Split], info: FeatureInfo) -> None:
    expected = len(info.names)
    for split in splits:
        if split.feature_count != expected:
            source = "the manifest lists" if info.manifest is not None else f"channel {splits[0].name} has"
            raise DataError(
                f"channel {split.name}: rows have {split.feature_count} features but {source} {expected}"
            )
