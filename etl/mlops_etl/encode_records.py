"""Raw records -> model feature rows, with a run's manifest: the ETL's encoding outside Spark.

Used where records arrive one batch at a time (the local pipeline turns generated production traffic into
endpoint requests). Pure pandas/numpy; applies exactly the ETL's rules (rules.py), so a valid row encodes to
the same doubles the Spark job writes (tests/etl/test_encode_records.py checks this row by row).

Serving-time records cannot be quarantined, so: a missing value is imputed (numeric: the manifest's train
median; categorical: the `__other__` code), an unknown category gets the `__other__` code, and an out-of-range
number passes through unchanged (drift monitoring is what should notice it). Text that is not a number in a
numeric feature raises ValueError naming the rows.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from .rules import NUMBER_REGEX, SPACE

OTHER = "__other__"


def _as_text(values: pd.Series) -> pd.Series:
    """Trimmed text per value (<NA> for missing): numbers are rendered as Python prints them (shortest repr)."""
    def text(v: Any) -> Any:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return pd.NA
        if isinstance(v, (bool, np.bool_)):
            return str(v)
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            return repr(float(v))
        s = str(v).strip(SPACE)
        return s if s else pd.NA

    return values.map(text).astype("string")


def _numeric(values: pd.Series, name: str, fill: float) -> np.ndarray:
    text = _as_text(values)
    present = text.notna().to_numpy()
    ok = text.str.fullmatch(NUMBER_REGEX).fillna(False).to_numpy(dtype=bool)
    out = np.full(len(values), fill, dtype=np.float64)
    parsed = np.array([float(s) for s in text[present & ok]], dtype=np.float64)
    bad = present & ~ok
    finite = np.isfinite(parsed)
    if not finite.all():  # "1e999": a plain number that overflows a double
        idx = np.flatnonzero(present & ok)[~finite]
        bad[idx] = True
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(f"feature {name!r}: non-numeric value(s) at row(s) {rows}, e.g. {text.iloc[rows[0]]!r}")
    out[present & ok] = parsed
    return out


def _categorical(values: pd.Series, codes: Mapping[str, int]) -> np.ndarray:
    text = _as_text(values)
    other = codes[OTHER]
    mapped = text.map(lambda s: codes.get(s, other) if s is not pd.NA and s != OTHER else other)
    return mapped.to_numpy(dtype=np.float64)


def encode_records(df_raw: pd.DataFrame, manifest: Mapping[str, Any]) -> np.ndarray:
    """Feature matrix (rows x len(manifest["features"])), float64, in the manifest's feature order, no label.

    df_raw holds raw records by column name (as read from CSV, ideally as text); columns that are not features
    are ignored, and a feature column that is absent counts as missing on every row.
    """
    features = manifest["features"]
    types = manifest["featureTypes"]
    n = len(df_raw)
    out = np.empty((n, len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        column = df_raw[name] if name in df_raw.columns else pd.Series([None] * n, dtype=object)
        column = column.reset_index(drop=True)
        if types[name] == "numeric":
            out[:, j] = _numeric(column, name, float(manifest["imputation"][name]))
        elif types[name] == "categorical":
            out[:, j] = _categorical(column, manifest["encodings"][name])
        else:
            raise ValueError(f"manifest: feature {name!r} has unknown type {types[name]!r}")
    return out
