#!/usr/bin/env python3
"""Synthetic customer-churn data drawn from a known ground-truth logistic model.

Everything here is synthetic: no real customer is described. Because the label is sampled from a known
probability, the best ROC AUC any model can reach on the data (the Bayes-optimal AUC) is computable, which
lets the pipeline's tests tell "the model learned the signal" from "the model is broken".

The most important feature for drift tests is ``tenure_months`` (``IMPORTANT_FEATURE``): it carries the
strongest per-standard-deviation effect on churn, so shifting it moves both the feature distribution and the
churn rate.

Pure functions: ``generate``, ``true_probability``, ``bayes_auc``, ``schema_dict``. The CLI at the bottom only
parses flags, calls them and writes files.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

IMPORTANT_FEATURE = "tenure_months"
ID_COLUMN = "customer_id"
TARGET_COLUMN = "churned"
POSITIVE, NEGATIVE = "yes", "no"

# Numeric features: schema range, whether required, and the nominal standard deviation used by the
# ``shift`` drift knob. The stds were measured once on 1,000,000 clean rows (seed 0) and are fixed here so a
# shift means the same thing whatever the row count (tests/etl/test_synthetic_churn.py re-measures them).
NUMERIC: dict[str, dict] = {
    "tenure_months": {"min": 0, "max": 120, "required": True, "std": 24.25},
    "monthly_charges": {"min": 0, "max": 500, "required": True, "std": 25.12},
    "total_charges": {"min": 0, "max": 100000, "required": False, "std": 1788.0},
    "support_calls": {"min": 0, "max": 50, "required": True, "std": 1.095},
    "data_usage_gb": {"min": 0, "max": 5000, "required": False, "std": 88.52},
    "age": {"min": 18, "max": 100, "required": False, "std": 14.58},
}
CATEGORICAL: dict[str, dict] = {
    "contract": {"categories": {"month-to-month": 0.55, "one-year": 0.24, "two-year": 0.21}, "required": True},
    "payment_method": {
        "categories": {"electronic-check": 0.34, "mailed-check": 0.22, "bank-transfer": 0.22, "credit-card": 0.22},
        "required": False,
    },
    "internet_service": {"categories": {"dsl": 0.35, "fiber": 0.45, "none": 0.20}, "required": True},
    "region": {"categories": {"north": 0.30, "south": 0.25, "east": 0.25, "west": 0.20}, "required": False},
}
COLUMNS = [ID_COLUMN, *NUMERIC, *CATEGORICAL, TARGET_COLUMN]
_SPACE = " \t\n\r\f\v"  # what the ETL trims (Java regex \s)

# Share of rows whose optional value is left empty (before any dirty rows are added).
MISSING_RATE = {"total_charges": 0.01, "data_usage_gb": 0.04, "age": 0.03, "payment_method": 0.02, "region": 0.03}

# Ground truth: logit(p) = INTERCEPT + sum of the terms below. A missing optional value contributes 0, so the
# probability is a function of exactly what a row shows. region, total_charges and data_usage_gb carry no
# signal of their own (total_charges only through its correlation with tenure and charges).
INTERCEPT = -0.30
COEF_TENURE = -0.040
COEF_MONTHLY = 0.020  # per unit above 65
COEF_CALLS = 0.35
COEF_AGE = -0.015  # per year above 46
CONTRACT_EFFECT = {"month-to-month": 0.0, "one-year": -1.1, "two-year": -2.2}
INTERNET_EFFECT = {"dsl": 0.0, "fiber": 0.45, "none": -0.4}
PAYMENT_EFFECT = {"electronic-check": 0.5}

# Exact logits are multiples of 1e-4 (see bayes_auc); rounding computed ones to 9 decimals merges those that are
# equal in exact arithmetic and keeps apart any that differ.
LOGIT_DECIMALS = 9
# Decimals of the Bayes AUC recorded in the meta file. With exact ties the AUC is a ratio of whole numbers, the
# same on any CPU; 9 decimals keep every change that matters visible (one tie or one swapped pair moves it by at
# least 0.5/(n_pos * n_neg), >= 5e-9 up to 20,000 rows) and no floating-point noise (about 1e-16).
BAYES_AUC_DECIMALS = 9

# Independent random streams per component: drifting one feature or adding dirty rows leaves every other
# column's draws unchanged for the same seed, so clean vs. dirty or base vs. drifted data differ only where
# intended.
_STREAMS = {name: i for i, name in enumerate(
    ["tenure", "internet", "monthly", "calls", "usage", "age", "total", "contract", "payment", "region",
     "label", "missing", "dirty"])}


@dataclass(frozen=True)
class Drift:
    """How production data differs from the training data.

    shift: numeric feature -> k, moves the feature by k nominal standard deviations (values stay in range).
    category_mix: categorical feature -> {category: probability}; the named categories get these
        probabilities and the rest share what is left in their original proportions.
    churn_rate_delta: added to the churn base rate by moving the intercept (a prior shift).
    """

    shift: Mapping[str, float] = field(default_factory=dict)
    category_mix: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    churn_rate_delta: float = 0.0

    def validate(self) -> None:
        for name in self.shift:
            if name not in NUMERIC:
                raise ValueError(f"shift: unknown numeric feature {name!r}; allowed: {sorted(NUMERIC)}")
        for name, mix in self.category_mix.items():
            if name not in CATEGORICAL:
                raise ValueError(f"category_mix: unknown categorical feature {name!r}; allowed: {sorted(CATEGORICAL)}")
            cats = CATEGORICAL[name]["categories"]
            for cat, prob in mix.items():
                if cat not in cats:
                    raise ValueError(f"category_mix: {name} has no category {cat!r}; allowed: {list(cats)}")
                if not 0.0 <= prob <= 1.0:
                    raise ValueError(f"category_mix: {name}={cat}:{prob} is not a probability")
            if sum(mix.values()) > 1.0 + 1e-9:
                raise ValueError(f"category_mix: probabilities for {name} add up to more than 1")
            if len(mix) == len(cats) and abs(sum(mix.values()) - 1.0) > 1e-9:
                raise ValueError(f"category_mix: probabilities for every category of {name} must add up to 1")
        if not -1.0 < self.churn_rate_delta < 1.0:
            raise ValueError("churn_rate_delta must be between -1 and 1")

    def as_dict(self) -> dict:
        return {"shift": dict(self.shift), "categoryMix": {k: dict(v) for k, v in self.category_mix.items()},
                "churnRateDelta": self.churn_rate_delta}


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAMS[stream]])


def _mixed_probabilities(name: str, drift: Drift) -> dict[str, float]:
    base = dict(CATEGORICAL[name]["categories"])
    mix = dict(drift.category_mix.get(name, {}))
    if not mix:
        return base
    rest = [c for c in base if c not in mix]
    left = 1.0 - sum(mix.values())
    rest_total = sum(base[c] for c in rest)
    probs = {}
    for cat in base:
        probs[cat] = mix[cat] if cat in mix else (left * base[cat] / rest_total if rest_total > 0 else 0.0)
    return probs


def _draw_category(u: np.ndarray, probs: Mapping[str, float]) -> np.ndarray:
    # Inverse-CDF sampling from one uniform per row: changing the mix moves as few rows as possible.
    names = list(probs)
    edges = np.cumsum([probs[n] for n in names])
    edges[-1] = 1.0
    idx = np.searchsorted(edges, u, side="right")
    return np.array(names, dtype=object)[np.minimum(idx, len(names) - 1)]


def _shifted(values: np.ndarray, name: str, drift: Drift) -> np.ndarray:
    k = drift.shift.get(name, 0.0)
    return values + k * NUMERIC[name]["std"] if k else values


def _clip(values: np.ndarray, name: str) -> np.ndarray:
    return np.clip(values, NUMERIC[name]["min"], NUMERIC[name]["max"])


def _logit(df: pd.DataFrame) -> np.ndarray:
    def num(col: str) -> np.ndarray:
        return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)

    def cat(col: str, effects: Mapping[str, float], missing_ok: bool) -> np.ndarray:
        terms = {c: effects.get(c, 0.0) for c in CATEGORICAL[col]["categories"]}
        values = df[col].astype("string").str.strip(_SPACE)
        # Unknown categories map to NaN: the ground truth is undefined for them.
        out = values.map(terms).astype(float).to_numpy(dtype=float, na_value=np.nan)
        return np.where(values.isna().to_numpy(), 0.0 if missing_ok else np.nan, out)

    age = num("age")
    age_term = np.where(np.isnan(age), 0.0, COEF_AGE * (age - 46.0))
    return (INTERCEPT + COEF_TENURE * num("tenure_months") + COEF_MONTHLY * (num("monthly_charges") - 65.0)
            + COEF_CALLS * num("support_calls") + age_term
            + cat("contract", CONTRACT_EFFECT, missing_ok=False)
            + cat("internet_service", INTERNET_EFFECT, missing_ok=False)
            + cat("payment_method", PAYMENT_EFFECT, missing_ok=True))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def true_probability(df: pd.DataFrame, intercept_offset: float = 0.0) -> np.ndarray:
    """Ground-truth churn probability of each row (NaN where a value the model needs is unusable).

    intercept_offset is the prior shift that ``generate`` applied for ``churn_rate_delta`` (recorded in the
    data's meta file as ``interceptOffset``); 0 for undrifted data.
    """
    return _sigmoid(_logit(df) + intercept_offset)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half."""
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    pos = labels.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def bayes_auc(df: pd.DataFrame) -> tuple[float, int]:
    """AUC of the true probabilities against the sampled labels, over rows where both are usable.

    Returns (auc, rows used). Dirty rows whose model inputs are unparseable or whose label is not yes/no are
    left out, which is why the count is returned too.

    The AUC depends only on how rows rank, and sigmoid is increasing, so rows are ranked by their logit. Two
    rows whose logits are equal in exact arithmetic (different features adding up to the same value, common
    with these decimal coefficients) must tie: they count half a pair. Computed in floating point those sums
    can differ in the last bits, and the true probabilities derived from them (numpy's exp differs between
    SIMD paths) may or may not collide depending on the CPU: each such pair then moves the AUC by
    1/(n_pos * n_neg), about 1.3e-6 on the committed sample. Rounding the logit to LOGIT_DECIMALS restores
    exact ties on any CPU: every feature value lies on a decimal grid (whole numbers, cents, tenths) and every
    coefficient is a decimal, so exact logits are multiples of 1e-4 (tests assert it), while the floating-point
    error of a logit is below 1e-13. The intercept offset of a churn-rate drift is the same for every row and
    cannot change the ranking, so the result holds for drifted data too.
    """
    logit = _logit(df)
    label = df[TARGET_COLUMN].astype("string").str.strip(_SPACE)
    usable = np.isfinite(logit) & label.isin([POSITIVE, NEGATIVE]).fillna(False).to_numpy(dtype=bool)
    score = np.round(logit[usable], LOGIT_DECIMALS)
    return roc_auc(score, (label[usable] == POSITIVE).to_numpy()), int(usable.sum())


def _intercept_offset_for(base_logit: np.ndarray, target_rate: float) -> float:
    # Mean probability is monotone in the offset, so bisection finds the offset that hits the target rate.
    lo, hi = -20.0, 20.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if _sigmoid(base_logit + mid).mean() < target_rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def _clean_frame(rows: int, seed: int, drift: Drift) -> tuple[pd.DataFrame, float]:
    tenure_raw = _rng(seed, "tenure").gamma(shape=1.3, scale=22.0, size=rows)
    tenure = np.floor(_clip(_shifted(tenure_raw, "tenure_months", drift), "tenure_months"))

    internet = _draw_category(_rng(seed, "internet").random(rows), _mixed_probabilities("internet_service", drift))
    base_charge = np.select([internet == "dsl", internet == "fiber"], [55.0, 85.0], 25.0)
    monthly = base_charge + _rng(seed, "monthly").normal(0.0, 12.0, rows)
    monthly = np.round(_clip(np.maximum(_shifted(monthly, "monthly_charges", drift), 18.0), "monthly_charges"), 2)

    calls_raw = _rng(seed, "calls").poisson(1.2, rows).astype(float)
    calls = np.round(_clip(_shifted(calls_raw, "support_calls", drift), "support_calls"))

    usage_scale = np.select([internet == "dsl", internet == "fiber"], [40.0, 120.0], 0.0)
    usage = usage_scale * np.exp(_rng(seed, "usage").normal(0.0, 0.6, rows))
    usage = np.round(_clip(_shifted(usage, "data_usage_gb", drift), "data_usage_gb"), 1)

    age = np.round(_clip(_shifted(_rng(seed, "age").normal(46.0, 15.0, rows), "age", drift), "age"))

    total = tenure * monthly * _rng(seed, "total").uniform(0.95, 1.05, rows)
    total = np.round(_clip(_shifted(total, "total_charges", drift), "total_charges"), 2)

    df = pd.DataFrame({
        ID_COLUMN: [f"C{seed}-{i + 1:08d}" for i in range(rows)],
        "tenure_months": pd.array(tenure.astype(np.int64), dtype="Int64"),
        "monthly_charges": monthly,
        "total_charges": total,
        "support_calls": pd.array(calls.astype(np.int64), dtype="Int64"),
        "data_usage_gb": usage,
        "age": pd.array(age.astype(np.int64), dtype="Int64"),
        "contract": _draw_category(_rng(seed, "contract").random(rows), _mixed_probabilities("contract", drift)),
        "payment_method": _draw_category(_rng(seed, "payment").random(rows),
                                         _mixed_probabilities("payment_method", drift)),
        "internet_service": internet,
        "region": _draw_category(_rng(seed, "region").random(rows), _mixed_probabilities("region", drift)),
    })

    # Missing optional values; new customers (tenure 0) have not been billed yet, so no total.
    miss = _rng(seed, "missing")
    for col, rate in MISSING_RATE.items():
        mask = miss.random(rows) < rate
        if col == "total_charges":
            mask |= tenure == 0
        df[col] = df[col].astype(object).where(~mask, None) if col in CATEGORICAL else df[col].mask(mask)

    base_logit = _logit(df)
    offset = 0.0
    if drift.churn_rate_delta:
        target = float(np.clip(_sigmoid(base_logit).mean() + drift.churn_rate_delta, 1e-4, 1 - 1e-4))
        offset = _intercept_offset_for(base_logit, target)
    p = _sigmoid(base_logit + offset)
    churned = _rng(seed, "label").random(rows) < p
    df[TARGET_COLUMN] = np.where(churned, POSITIVE, NEGATIVE).astype(object)
    return df, offset


# Realistic defects. Each dirty row gets one; the comment says what the ETL is expected to do with it.
DIRTY_KINDS = (
    "non_numeric",        # quarantined: text in a numeric column
    "out_of_range",       # quarantined: value outside the schema's [min, max]
    "null_target",        # quarantined: empty label
    "invalid_target",     # quarantined: label that is neither yes nor no
    "missing_required",   # quarantined: a required feature left empty
    "duplicate_id",       # quarantined: a second row for an id already seen
    "unknown_category",   # kept: mapped to __other__ (one value also holds a comma, so it gets quoted)
    "multiline_category", # kept: a quoted value spanning two lines, mapped to __other__
    "padded_values",      # kept: surrounding spaces, trimmed by the ETL
)


def _add_dirty_rows(df: pd.DataFrame, seed: int, fraction: float) -> pd.DataFrame:
    rows = len(df)
    count = int(round(rows * fraction))
    if count == 0:
        return df
    rng = _rng(seed, "dirty")
    picked = np.sort(rng.choice(np.arange(1, rows), size=min(count, rows - 1), replace=False))
    kinds = rng.integers(0, len(DIRTY_KINDS), size=len(picked))
    out = df.astype(object).where(df.notna(), None)
    for i, k in zip(picked.tolist(), kinds.tolist()):
        kind = DIRTY_KINDS[k]
        if kind == "non_numeric":
            out.at[i, "monthly_charges"] = ["n/a", "abc", "12,50", "$45.00"][i % 4]
        elif kind == "out_of_range":
            if i % 2:
                out.at[i, "tenure_months"] = -3
            else:
                out.at[i, "age"] = 230
        elif kind == "null_target":
            out.at[i, TARGET_COLUMN] = None
        elif kind == "invalid_target":
            out.at[i, TARGET_COLUMN] = ["maybe", "Y", "churned"][i % 3]
        elif kind == "missing_required":
            out.at[i, ["contract", "tenure_months", "internet_service"][i % 3]] = None
        elif kind == "duplicate_id":
            out.at[i, ID_COLUMN] = out.at[int(rng.integers(0, i)), ID_COLUMN]
        elif kind == "unknown_category":
            if i % 2:
                out.at[i, "region"] = "central"
            else:
                out.at[i, "payment_method"] = "crypto, via app"
        elif kind == "multiline_category":
            out.at[i, "payment_method"] = "bank-transfer\n(standing order)"
        elif kind == "padded_values":
            out.at[i, TARGET_COLUMN] = f"  {out.at[i, TARGET_COLUMN]} "
            out.at[i, "contract"] = f" {out.at[i, 'contract']}  "
    return out


def generate(rows: int, seed: int, drift: Drift | None = None, dirty_fraction: float = 0.0) -> pd.DataFrame:
    """Deterministic synthetic churn table: same (rows, seed, drift, dirty_fraction) -> same frame.

    Columns: ``COLUMNS``. Optional features have missing values (``MISSING_RATE``); ``dirty_fraction`` of the
    rows (never the first) get one defect from ``DIRTY_KINDS`` each (0 = clean data).
    """
    df, _ = generate_with_offset(rows, seed, drift, dirty_fraction)
    return df


def generate_with_offset(rows: int, seed: int, drift: Drift | None = None,
                         dirty_fraction: float = 0.0) -> tuple[pd.DataFrame, float]:
    """``generate`` plus the intercept offset applied for ``drift.churn_rate_delta`` (0 without it)."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if not 0.0 <= dirty_fraction <= 0.5:
        raise ValueError("dirty_fraction must be between 0 and 0.5")
    drift = drift or Drift()
    drift.validate()
    df, offset = _clean_frame(rows, seed, drift)
    return _add_dirty_rows(df, seed, dirty_fraction), offset


def schema_dict() -> dict:
    """The dataset schema (docs/contracts.md section 1) for this generator's data."""
    return {
        "name": "customer-churn",
        "target": {"column": TARGET_COLUMN, "positive": POSITIVE, "negative": NEGATIVE},
        "id": ID_COLUMN,
        "numeric": [
            {"name": n, "min": s["min"], "max": s["max"], **({"required": True} if s["required"] else {})}
            for n, s in NUMERIC.items()
        ],
        "categorical": [
            {"name": n, "categories": list(s["categories"]), **({"required": True} if s["required"] else {})}
            for n, s in CATEGORICAL.items()
        ],
        "quality": {"maxQuarantineShare": 0.05, "minRows": 100},
        "split": {"train": 0.7, "validation": 0.15, "test": 0.15, "seed": 42},
    }


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """CSV with header, RFC 4180 quoting, empty field for a missing value, LF line endings."""
    df.to_csv(path, index=False, lineterminator="\n")


def metadata(df: pd.DataFrame, rows: int, seed: int, drift: Drift, dirty_fraction: float, offset: float) -> dict:
    auc, used = bayes_auc(df)
    label = df[TARGET_COLUMN].astype("string").str.strip(_SPACE)
    valid = label.isin([POSITIVE, NEGATIVE]).fillna(False).to_numpy(dtype=bool)
    return {
        "synthetic": True,
        "generator": "data/synthetic_churn.py",
        "rows": rows,
        "seed": seed,
        "dirtyFraction": dirty_fraction,
        "drift": drift.as_dict(),
        "interceptOffset": offset,
        "churnRate": float((label[valid] == POSITIVE).mean()),
        "bayesAuc": round(auc, BAYES_AUC_DECIMALS),
        "bayesAucRows": used,
        "importantFeature": IMPORTANT_FEATURE,
    }


def _parse_shift(items: Sequence[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--shift expects FEATURE=K, got {item!r}")
        out[name.strip()] = float(value)
    return out


def _parse_mix(items: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for item in items:
        name, sep, rest = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--category-mix expects FEATURE=CAT:P[,CAT:P], got {item!r}")
        for part in rest.split(","):
            cat, sep2, prob = part.rpartition(":")
            if not sep2:
                raise argparse.ArgumentTypeError(f"--category-mix expects CAT:P, got {part!r}")
            out.setdefault(name.strip(), {})[cat.strip()] = float(prob)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate synthetic customer-churn data (known ground truth).")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", required=True, help="CSV to write; <out>.meta.json is written beside it")
    parser.add_argument("--dirty-fraction", type=float, default=0.0, help="share of rows with a defect (default 0)")
    parser.add_argument("--shift", action="append", default=[], metavar="FEATURE=K",
                        help="shift a numeric feature by K nominal standard deviations (repeatable)")
    parser.add_argument("--category-mix", action="append", default=[], metavar="FEATURE=CAT:P[,CAT:P]",
                        help="set category probabilities of a categorical feature (repeatable)")
    parser.add_argument("--churn-rate-delta", type=float, default=0.0, help="add to the churn base rate")
    parser.add_argument("--schema-out", help="also write the dataset schema JSON here")
    args = parser.parse_args(argv)

    try:
        drift = Drift(shift=_parse_shift(args.shift), category_mix=_parse_mix(args.category_mix),
                      churn_rate_delta=args.churn_rate_delta)
        df, offset = generate_with_offset(args.rows, args.seed, drift, args.dirty_fraction)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        print(f"synthetic_churn: {exc}", file=sys.stderr)
        return 2
    write_csv(df, args.out)
    meta = metadata(df, args.rows, args.seed, drift, args.dirty_fraction, offset)
    Path(f"{args.out}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    if args.schema_out:
        Path(args.schema_out).write_text(json.dumps(schema_dict(), indent=2) + "\n")
    print(f"synthetic_churn: rows={args.rows} seed={args.seed} churn_rate={meta['churnRate']:.4f} "
          f"bayes_auc={meta['bayesAuc']:.4f} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
