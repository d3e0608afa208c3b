"""SageMaker Model Monitor data-quality baseline files (statistics.json, constraints.json) for the train split.

The format is the one Model Monitor's analyzer writes for a headerless CSV: columns named `_c0`, `_c1`, ...,
numeric columns with `numerical_statistics` and a KLL distribution (10 equal-width buckets between min and
max, plus the sketch). Numeric features are written as doubles ("12.0"), so they are `Fractional`;
categorical codes are written as integers, so they are `Integral`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

BUCKETS = 10
KLL_C = 0.64  # Model Monitor's KLL parameters
KLL_K = 2048

# Also in monitor/drift_checker/statistics.py (DEFAULT_MONITORING_CONFIG, KLL_*, BUCKETS): this package goes to
# Glue and that one into the model image, so neither imports the other; tests/monitor/test_shared_defaults.py
# keeps the copies equal.
MONITORING_CONFIG = {
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


def column_name(j: int) -> str:
    """The name Model Monitor gives column j of a headerless CSV."""
    return f"_c{j}"


def sketch_levels(n: int) -> int:
    """Level h of the sketch items: each stands for 2**h rows, and about n / 2**h <= KLL_K of them are kept."""
    h = 0
    while (n >> h) > KLL_K:
        h += 1
    return h


def bucket_width(lo: float, hi: float) -> float:
    return (hi - lo) / BUCKETS if hi > lo else 0.0


def buckets(lo: float, hi: float, counts: Sequence[int]) -> list[dict[str, Any]]:
    """Equal-width buckets over [lo, hi] (one bucket when the column is constant)."""
    width = bucket_width(lo, hi)
    if width == 0:
        return [{"lower_bound": lo, "upper_bound": hi, "count": int(counts[0])}]
    edges = [lo + b * width for b in range(BUCKETS)] + [hi]
    return [{"lower_bound": edges[b], "upper_bound": edges[b + 1], "count": int(counts[b])} for b in range(BUCKETS)]


def _number(value: float, integral: bool) -> float | int:
    return int(value) if integral and float(value).is_integer() else float(value)


def feature_statistics(j: int, integral: bool, agg: Mapping[str, Any]) -> dict[str, Any]:
    n = int(agg["count"])
    h = sketch_levels(n)
    sketch_items = [_number(v, integral) for v in agg["sketch"]]
    return {
        "name": column_name(j),
        "inferred_type": "Integral" if integral else "Fractional",
        "numerical_statistics": {
            "common": {"num_present": n, "num_missing": 0},
            "mean": float(agg["sum"]) / n if n else 0.0,
            "sum": float(agg["sum"] or 0.0),
            "std_dev": float(agg["std_dev"] or 0.0),
            "min": float(agg["min"]),
            "max": float(agg["max"]),
            "distribution": {
                "kll": {
                    "buckets": buckets(float(agg["min"]), float(agg["max"]), agg["bucket_counts"]),
                    "sketch": {
                        "parameters": {"c": KLL_C, "k": float(KLL_K)},
                        # Levels from weight 1 upwards; only the top level holds items.
                        "data": [[] for _ in range(h)] + [sketch_items],
                    },
                }
            },
        },
    }


def statistics_json(aggs: Sequence[Mapping[str, Any]], integral: Sequence[bool], item_count: int) -> dict[str, Any]:
    return {
        "version": 0,
        "dataset": {"item_count": int(item_count)},
        "features": [feature_statistics(j, integral[j], agg) for j, agg in enumerate(aggs)],
    }


def constraints_json(aggs: Sequence[Mapping[str, Any]], integral: Sequence[bool]) -> dict[str, Any]:
    features = []
    for j, agg in enumerate(aggs):
        features.append({
            "name": column_name(j),
            "inferred_type": "Integral" if integral[j] else "Fractional",
            # Missing values were imputed (numeric) or coded as __other__ (categorical): every row is complete.
            "completeness": 1.0,
            "num_constraints": {"is_non_negative": bool(agg["min"] is not None and not math.isnan(agg["min"])
                                                        and agg["min"] >= 0)},
        })
    return {"version": 0, "features": features, "monitoring_config": MONITORING_CONFIG}
