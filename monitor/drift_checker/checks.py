"""Model Monitor's data-quality checks of a window of traffic against a baseline.

Semantics, per check (Model Monitor's "Schema for Violations" and "Schema for Constraints"; where the
documentation leaves a detail open, the choice made here is stated):

- ``missing_column_check`` / ``extra_column_check``: the window has fewer / more columns than the baseline
  constraints list. Columns are matched by position (headerless CSV: ``_c0``, ``_c1``, ...); the window's
  width is its widest row. One violation per missing or extra column, named after it.
- ``completeness_check``: the window's non-null share of a feature is below the constraint's
  ``completeness`` (the baseline's observed share) minus ``completeness_tolerance`` (0 = Model Monitor's
  reading; the CLI exposes it).
- ``data_type_check``: the share of non-null values whose kind matches the constraint's ``inferred_type`` is
  below ``datatype_check_threshold`` (1.0 = every value must match). Integral values also match Fractional
  (a whole number is a valid double); String matches any value; Unknown is not checked.
- ``baseline_drift_check``: one rule decides (``drift_rule.py``): a two-sample test per feature (Kolmogorov-Smirnov
  for continuous features against the baseline's KLL sketch, chi-square for categorical ones), Holm's
  family-wise correction at ``alpha`` across the compared features, and no verdict below ``min_window``
  requests (``insufficient data``). One violation per feature the rule flags, naming its test, statistic and
  p-value. ``comparison_threshold``, ``comparison_method`` and the categorical thresholds of the constraints are
  not used: a fixed distance ignores the sample sizes. ``numeric_distance`` / ``categorical_distance`` remain as
  that former rule, for the benchmark that compares the two.
- ``categorical_values_check``: String features with ``string_constraints.domains``: the share of non-null
  window values inside the domain is below ``domain_content_threshold``.

``monitoring_config.evaluate_constraints`` "Disabled" turns every check off, ``perform_comparison``
"Disabled" the drift checks; a feature's ``monitoringConfigOverrides`` replace the global values for it.
``num_constraints.is_non_negative`` has no violation type in Model Monitor's schema and is not checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .drift_rule import DEFAULT_ALPHA, DEFAULT_MIN_WINDOW, DriftVerdict, decide
from .errors import DriftCheckError
from .statistics import (DEFAULT_MONITORING_CONFIG, FRACTIONAL, NUMERIC_TYPES, STRING, UNKNOWN, ParsedColumn,
                         require_features)

CHECK_TYPES = ("data_type_check", "completeness_check", "baseline_drift_check", "missing_column_check",
               "extra_column_check", "categorical_values_check")
NUMERIC_METHODS = ("Simple", "Robust")
CATEGORICAL_METHODS = ("LInfinity", "ChiSquared")
KS_C_ALPHA_05 = 1.358


@dataclass(frozen=True)
class Violation:
    feature_name: str
    constraint_check_type: str
    description: str

    def as_dict(self) -> dict:
        return {"feature_name": self.feature_name, "constraint_check_type": self.constraint_check_type,
                "description": self.description}


@dataclass
class CheckResult:
    """Violations plus the measured drift distance of every feature that was compared."""

    violations: list[Violation] = field(default_factory=list)
    distances: dict[str, float] = field(default_factory=dict)
    row_count: int = 0
    #: Non-null share of every baseline feature in the window (Model Monitor's feature_non_null metric).
    completeness: dict[str, float] = field(default_factory=dict)
    #: The drift rule's verdict; None when drift was not evaluated (constraints or comparisons disabled).
    verdict: DriftVerdict | None = None

    def as_violations_document(self) -> dict:
        """``constraint_violations.json`` exactly as Model Monitor writes it."""
        return {"violations": [v.as_dict() for v in self.violations]}


# ── distances ────────────────────────────────────────────────────────────────────────────────────────────

def _sketch_points(distribution: Mapping) -> tuple[np.ndarray, np.ndarray] | None:
    """(sorted items, their weights) from a KLL sketch, or None when the baseline has no usable sketch."""
    data = distribution.get("kll", {}).get("sketch", {}).get("data")
    if not isinstance(data, list) or not any(isinstance(level, list) and level for level in data):
        return None
    items, weights = [], []
    for level, values in enumerate(data):
        if not isinstance(values, list):
            raise DriftCheckError(f"kll.sketch.data[{level}] is not a list of numbers")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise DriftCheckError(f"kll.sketch.data[{level}] holds {v!r}; expected numbers")
            items.append(float(v))
            weights.append(float(2 ** level))
    order = np.argsort(items, kind="stable")
    return np.asarray(items)[order], np.asarray(weights)[order]


def numeric_distance(distribution: Mapping, window: np.ndarray) -> float:
    """L-infinity distance between the baseline distribution (KLL sketch or buckets) and the window's ECDF."""
    window = np.sort(window)
    m = len(window)
    if m == 0:
        raise DriftCheckError("numeric_distance: the window has no numeric values")
    sketch = _sketch_points(distribution)
    if sketch is not None:
        items, weights = sketch
        cum = np.cumsum(weights) / weights.sum()
        grid = np.union1d(items, window)
        idx = np.searchsorted(items, grid, side="right")
        f_base = np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0.0)
        f_win = np.searchsorted(window, grid, side="right") / m
        return float(np.max(np.abs(f_base - f_win)))
    buckets = distribution.get("kll", {}).get("buckets")
    if not isinstance(buckets, list) or not buckets:
        raise DriftCheckError("baseline numeric feature has neither kll.sketch.data nor kll.buckets")
    counts = np.array([float(b["count"]) for b in buckets])
    if counts.sum() <= 0:
        raise DriftCheckError("baseline kll.buckets hold no values")
    uppers = np.array([float(b["upper_bound"]) for b in buckets])
    lower = float(buckets[0]["lower_bound"])
    f_base = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
    f_win = np.concatenate([[np.searchsorted(window, lower, side="left") / m],
                            np.searchsorted(window, uppers, side="right") / m])
    return float(np.max(np.abs(f_base - f_win)))


def categorical_distance(buckets: Sequence[Mapping], window: Sequence[str], method: str) -> float:
    """LInfinity distance between category frequencies, or the ChiSquared test's p-value."""
    base = {str(b["value"]): float(b["count"]) for b in buckets}
    total = sum(base.values())
    if total <= 0 or not window:
        raise DriftCheckError("categorical_distance: baseline or window holds no values")
    values, counts = np.unique(np.array(window, dtype=object), return_counts=True)
    current = {str(v): float(c) for v, c in zip(values, counts)}
    m = float(len(window))
    if method == "LInfinity":
        cats = set(base) | set(current)
        return max(abs(base.get(c, 0.0) / total - current.get(c, 0.0) / m) for c in cats)
    # ChiSquared: expected counts from the baseline shares; an unseen category is certain drift.
    if any(c not in base for c in current):
        return 0.0
    from scipy.stats import chi2  # scikit-learn's dependency; only this method needs it

    cats = sorted(base)
    expected = np.array([base[c] / total * m for c in cats])
    observed = np.array([current.get(c, 0.0) for c in cats])
    keep = expected > 0
    stat = float(((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    dof = max(int(keep.sum()) - 1, 1)
    return float(chi2.sf(stat, dof))


# ── configuration ────────────────────────────────────────────────────────────────────────────────────────

def _merge(base: Mapping, override: Mapping | None) -> dict:
    out = {**base, **(override or {})}
    out["distribution_constraints"] = {**base.get("distribution_constraints", {}),
                                       **(override or {}).get("distribution_constraints", {})}
    return out


def _enabled(config: Mapping, key: str) -> bool:
    value = config.get(key, "Enabled")
    if value not in ("Enabled", "Disabled"):
        raise DriftCheckError(f"monitoring_config.{key}: got {value!r}; allowed: Enabled, Disabled")
    return value == "Enabled"


def _threshold(config: Mapping, key: str) -> float:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise DriftCheckError(f"monitoring_config: {key} must be a non-negative number, got {value!r}")
    return float(value)


def effective_config(constraints: Mapping, feature: Mapping | None = None,
                     threshold_override: float | None = None) -> dict:
    """monitoring_config with defaults, the feature's overrides and an optional comparison_threshold override."""
    config = _merge(DEFAULT_MONITORING_CONFIG, constraints.get("monitoring_config"))
    if feature is not None:
        config = _merge(config, feature.get("monitoringConfigOverrides"))
    if threshold_override is not None:
        config["distribution_constraints"]["comparison_threshold"] = threshold_override
    return config


# ── the checks ───────────────────────────────────────────────────────────────────────────────────────────

def _label(name: str, display_names: Mapping[str, str]) -> str:
    human = display_names.get(name)
    return f" (feature {human})" if human and human != name else ""


def _kind_matches(expected: str, kind: str) -> bool:
    if expected == STRING:
        return True
    if expected == FRACTIONAL:
        return kind in NUMERIC_TYPES
    return kind == expected


def _statistics_by_name(statistics: Mapping) -> dict[str, Mapping]:
    return {f["name"]: f for f in require_features(statistics, "baseline statistics")}


def check_window(statistics: Mapping, constraints: Mapping, columns: Sequence[ParsedColumn], *,
                 display_names: Mapping[str, str] | None = None, completeness_tolerance: float = 0.0,
                 alpha: float = DEFAULT_ALPHA, min_window: int = DEFAULT_MIN_WINDOW,
                 categorical: Mapping[str, bool] | None = None) -> CheckResult:
    """Evaluates the baseline's constraints against a window given as columns (position = baseline order).

    display_names maps Model Monitor's column names (``_c0``) to feature names for the descriptions.
    alpha, min_window and categorical are the drift rule's (``drift_rule.decide``).
    """
    names = display_names or {}
    features = require_features(constraints, "baseline constraints")
    stats = _statistics_by_name(statistics)
    global_config = effective_config(constraints)
    rows = max((c.count for c in columns), default=0)
    result = CheckResult(row_count=rows)
    if not _enabled(global_config, "evaluate_constraints"):
        return result
    if rows == 0:
        raise DriftCheckError("the window holds no rows; nothing to check (was any traffic captured?)")

    baseline_n, window_n = len(features), len(columns)
    for feat in features[window_n:]:
        result.violations.append(Violation(
            feat["name"], "missing_column_check",
            f"There are missing columns in current dataset. Number of columns in current dataset: {window_n}, "
            f"Number of columns in baseline constraints: {baseline_n}{_label(feat['name'], names)}"))
    for column in columns[baseline_n:]:
        result.violations.append(Violation(
            column.name, "extra_column_check",
            f"There are extra columns in current dataset. Number of columns in current dataset: {window_n}, "
            f"Number of columns in baseline constraints: {baseline_n}"))

    compared: list[tuple[Mapping, ParsedColumn]] = []
    for feat, column in zip(features, columns):
        name = feat["name"]
        label = _label(name, names)
        config = effective_config(constraints, feat)
        expected = feat["inferred_type"]
        present = column.num_present

        completeness = present / column.count
        result.completeness[name] = completeness
        required = feat.get("completeness")
        if required is not None and completeness < float(required) - completeness_tolerance - 1e-12:
            result.violations.append(Violation(
                name, "completeness_check",
                f"Data completeness requirement is not met. Expected completeness: {float(required) * 100:.1f}%, "
                f"Observed: Only {completeness * 100:.1f}% of data is non-null.{label}"))

        if present == 0 or expected == UNKNOWN:
            continue
        matching = sum(1 for k in column.kinds if k is not None and _kind_matches(expected, k))
        share = matching / present
        type_threshold = _threshold(config, "datatype_check_threshold")
        if share < type_threshold - 1e-12:
            result.violations.append(Violation(
                name, "data_type_check",
                f"Data type match requirement is not met. Expected data type: {expected}, Expected match: "
                f"{type_threshold * 100:.1f}%. Observed: Only {share * 100:.1f}% of data is {expected}.{label}"))

        domains = feat.get("string_constraints", {}).get("domains") if expected == STRING else None
        if domains:
            allowed = {str(d) for d in domains}
            values = column.present_strings()
            inside = sum(1 for v in values if v in allowed) / len(values)
            domain_threshold = _threshold(config, "domain_content_threshold")
            if inside < domain_threshold - 1e-12:
                unknown = sorted({v for v in values if v not in allowed})
                shown = ", ".join(repr(v) for v in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
                result.violations.append(Violation(
                    name, "categorical_values_check",
                    f"Data does not conform to the baseline domain. Expected at least {domain_threshold * 100:.1f}% "
                    f"of values in the domain, Observed: {inside * 100:.1f}%; values outside it: {shown}.{label}"))

        if not _enabled(config["distribution_constraints"], "perform_comparison"):
            continue
        baseline = stats.get(name)
        if baseline is None:
            raise DriftCheckError(f"baseline statistics have no feature {name!r} although the constraints list it")
        compared.append((baseline, column))

    if compared:
        verdict = decide([b for b, _ in compared], [c for _, c in compared], alpha=alpha, min_window=min_window,
                         categorical=categorical)
        result.verdict = verdict
        for test in verdict.tests:
            result.distances[test.name] = test.distance
            if test.drifted:
                result.violations.append(Violation(
                    test.name, "baseline_drift_check",
                    f"Baseline drift: {test.test} test statistic {test.statistic:.4f}, p-value {test.p_value:.3g} "
                    f"<= {test.threshold:.3g} (Holm, false-alarm rate {alpha} per window; {test.window_size} "
                    f"window values, {test.baseline_size} baseline rows){_label(test.name, names)}"))
    return result


def display_names_from_manifest(manifest: Mapping[str, Any]) -> dict[str, str]:
    """``{"_c0": "tenure_months", ...}`` from an ETL manifest (docs/contracts.md section 2)."""
    features = manifest.get("features") if isinstance(manifest, Mapping) else None
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise DriftCheckError("manifest: expected \"features\": a list of feature names (docs/contracts.md section 2)")
    return {f"_c{i}": name for i, name in enumerate(features)}

