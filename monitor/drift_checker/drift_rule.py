"""The drift decision: per-feature two-sample tests, a family-wise correction, a minimum window size.

One rule decides whether a window of captured traffic has drifted from the baseline, locally
(``monitor/check_drift.py``) and on AWS (the monitoring job's container, ``processing_job.py``):

- **Continuous features**: the two-sample Kolmogorov-Smirnov test. The statistic is the largest distance between
  the baseline's CDF and the window's empirical CDF. The baseline is available only as Model Monitor statistics:
  its KLL sketch (``kll.sketch.data``, level ``h`` items weighing ``2**h``) gives its CDF to within the sketch's
  rank error, and ``num_present`` gives its size ``n``. The p-value is the one ``scipy.stats.ks_2samp`` computes in
  its ``asymp`` mode, ``kstwo.sf(D, round(n*m/(n+m)))`` (scipy/stats/_stats_py.py), so the critical value
  depends on both sizes. The statistic is first reduced by a bound on the sketch's rank error (the largest item
  weight over the total weight, twice the error of the ETL's and this package's compaction, which keep every
  ``2**h``-th sorted value; 0 for an exact sketch), so an approximate baseline can only make the test more
  conservative, never raise a false alarm.
  Discrete numeric features make KS conservative too (its p-values are then too large, not too small).
- **Categorical features** (String features, and the ETL's integer codes: ``Integral`` in its baseline, see
  docs/contracts.md section 2): Pearson's chi-square test of homogeneity on the 2 x k table of baseline and window
  counts (``scipy.stats.chi2_contingency``, no continuity correction). Both are samples, so this is the two-sample
  test; its degrees of freedom follow the number of categories. Categories whose expected window count is below
  ``MIN_EXPECTED`` are pooled (Cochran's rule), so small windows do not make the chi-square approximation
  anti-conservative. Baseline counts come from ``string_statistics`` or, for integer codes, from the ten
  ``kll.buckets`` when each bucket holds at most one integer (exact counts), else from the sketch.
- **Family-wise correction**: Holm's step-down procedure over the features' p-values at ``alpha`` (the allowed
  false-alarm rate per window), valid under any dependence between features.
- **Minimum window**: below ``min_window`` requests the verdict is ``insufficient data``, never an alarm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np
from scipy.stats import chi2_contingency, kstwo

from .errors import DriftCheckError
from .statistics import FRACTIONAL, INTEGRAL, STRING, ParsedColumn

CONTINUOUS, CATEGORICAL = "continuous", "categorical"
DEFAULT_ALPHA = 0.01
DEFAULT_MIN_WINDOW = 100
MIN_EXPECTED = 5.0
DRIFT, NO_DRIFT, INSUFFICIENT = "drift", "no drift", "insufficient data"


@dataclass(frozen=True)
class FeatureTest:
    """One feature's test against the baseline."""

    name: str
    kind: str
    test: str
    statistic: float
    p_value: float
    window_size: int
    baseline_size: int
    #: Model Monitor's drift distance, for people and dashboards (never the decision): the KS statistic for
    #: continuous features, the largest difference of category shares for categorical ones.
    distance: float
    #: The Holm threshold this feature's p-value was compared with, and whether it was rejected.
    threshold: float = float("nan")
    drifted: bool = False


@dataclass(frozen=True)
class DriftVerdict:
    """The window's verdict: ``drift``, ``no drift`` or ``insufficient data``, with every feature's test."""

    status: str
    window_size: int
    alpha: float
    min_window: int
    tests: tuple[FeatureTest, ...] = field(default_factory=tuple)

    @property
    def drifted(self) -> tuple[FeatureTest, ...]:
        return tuple(t for t in self.tests if t.drifted)


def check_rule_parameters(alpha: float, min_window: int) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise DriftCheckError(f"drift alpha (false-alarm rate per window) is {alpha!r}; expected a number "
                              "strictly between 0 and 1, such as 0.01")
    if isinstance(min_window, bool) or not isinstance(min_window, int) or min_window < 1:
        raise DriftCheckError(f"drift minimum window is {min_window!r}; expected a whole number of requests >= 1")


# ── baseline distributions ───────────────────────────────────────────────────────────────────────────────

def sketch_cdf(distribution: Mapping) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(sorted items, cumulative share, rank error) of a baseline's KLL sketch; None without a usable sketch."""
    data = distribution.get("kll", {}).get("sketch", {}).get("data") if isinstance(distribution, Mapping) else None
    if not isinstance(data, list) or not any(isinstance(level, list) and level for level in data):
        return None
    items: list[float] = []
    weights: list[float] = []
    for level, values in enumerate(data):
        if not isinstance(values, list):
            raise DriftCheckError(f"baseline kll.sketch.data[{level}] is not a list of numbers")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise DriftCheckError(f"baseline kll.sketch.data[{level}] holds {v!r}; expected finite numbers")
            items.append(float(v))
            weights.append(float(2 ** level))
    order = np.argsort(items, kind="stable")
    w = np.asarray(weights)[order]
    total = w.sum()
    exact = all(level == 0 for level, values in enumerate(data) if values)
    return np.asarray(items)[order], np.cumsum(w) / total, 0.0 if exact else float(w.max() / total)


def ks_statistic(items: np.ndarray, cumulative: np.ndarray, window: np.ndarray) -> float:
    """sup over x of |F_baseline(x) - F_window(x)|, both right-continuous step functions (attained at a jump)."""
    window = np.sort(window)
    grid = np.union1d(items, window)
    idx = np.searchsorted(items, grid, side="right")
    f_base = np.where(idx > 0, cumulative[np.maximum(idx - 1, 0)], 0.0)
    f_win = np.searchsorted(window, grid, side="right") / len(window)
    return float(np.max(np.abs(f_base - f_win)))


def ks_p_value(statistic: float, n: int, m: int) -> float:
    """Two-sided two-sample KS p-value, as ``scipy.stats.ks_2samp(method="asymp")`` computes it."""
    en = n * m / (n + m)
    return float(np.clip(kstwo.sf(statistic, max(int(round(en)), 1)), 0.0, 1.0))


def _integer_codes_from_buckets(buckets: Sequence[Mapping]) -> dict[str, float] | None:
    """Exact counts of integer codes from kll.buckets, when every non-empty bucket can hold only one integer."""
    counts: dict[str, float] = {}
    last = len(buckets) - 1
    for i, b in enumerate(buckets):
        count = float(b.get("count", 0))
        if count <= 0:
            continue
        lo, hi = float(b["lower_bound"]), float(b["upper_bound"])
        first = math.ceil(lo)
        # [lo, hi) except the last bucket (and a single-bucket constant column), which holds its upper bound too.
        candidates = [k for k in range(first, math.floor(hi) + 1) if k < hi or i == last or lo == hi]
        if len(candidates) != 1:
            return None
        key = str(candidates[0])
        counts[key] = counts.get(key, 0.0) + count
    return counts or None


def baseline_category_counts(feature: Mapping) -> dict[str, float]:
    """Category -> count in the baseline, for a String feature or an Integral (integer-code) feature."""
    kind = feature.get("inferred_type")
    if kind == STRING:
        buckets = (feature.get("string_statistics", {}).get("distribution", {}).get("categorical", {})
                   .get("buckets"))
        if not buckets:
            raise DriftCheckError(f"baseline feature {feature.get('name')}: String feature without "
                                  "string_statistics.distribution.categorical.buckets")
        return {str(b["value"]): float(b["count"]) for b in buckets}
    numerical = feature.get("numerical_statistics", {})
    distribution = numerical.get("distribution", {})
    buckets = distribution.get("kll", {}).get("buckets")
    if buckets:
        exact = _integer_codes_from_buckets(buckets)
        if exact is not None:
            return exact
    sketch = sketch_cdf(distribution)
    if sketch is None:
        raise DriftCheckError(f"baseline feature {feature.get('name')}: no kll.buckets or kll.sketch to count "
                              "its categories from")
    items, cumulative, _ = sketch
    n = float(numerical.get("common", {}).get("num_present", 0)) or 1.0
    shares = np.diff(np.concatenate([[0.0], cumulative]))
    counts: dict[str, float] = {}
    for value, share in zip(items, shares):
        key = _category_key(value)
        counts[key] = counts.get(key, 0.0) + share * n
    return counts


def _category_key(value: float | str) -> str:
    """Integer codes as '2' whether written 2 or 2.0; anything else as written."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return str(int(number)) if number.is_integer() else value
    return str(int(value)) if float(value).is_integer() else str(value)


def chi_square_test(baseline: Mapping[str, float], window: Sequence[str]) -> tuple[float, float, float]:
    """(statistic, p-value, largest share difference) of the 2 x k homogeneity test, rare categories pooled.

    The p-value is 1 when fewer than two cells remain (nothing to compare).
    """
    current: dict[str, float] = {}
    for v in window:
        key = _category_key(v)
        current[key] = current.get(key, 0.0) + 1.0
    cats = sorted(set(baseline) | set(current))
    base = np.array([baseline.get(c, 0.0) for c in cats])
    win = np.array([current.get(c, 0.0) for c in cats])
    m, n = win.sum(), base.sum()
    if m <= 0 or n <= 0:
        raise DriftCheckError("chi-square test: the baseline or the window holds no values")
    distance = float(np.max(np.abs(base / n - win / m)))
    expected = (base + win) * m / (m + n)
    rare = expected < MIN_EXPECTED
    columns_base, columns_win = list(base[~rare]), list(win[~rare])
    if rare.any():
        columns_base.append(base[rare].sum())
        columns_win.append(win[rare].sum())
        # A pooled cell that is still too small joins the smallest regular category.
        if len(columns_base) > 1 and (columns_base[-1] + columns_win[-1]) * m / (m + n) < MIN_EXPECTED:
            smallest = int(np.argmin(np.add(columns_base[:-1], columns_win[:-1])))
            columns_base[smallest] += columns_base.pop()
            columns_win[smallest] += columns_win.pop()
    table = np.array([columns_base, columns_win])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0, distance
    result = chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue), distance


# ── one feature, then the window ─────────────────────────────────────────────────────────────────────────

def feature_kind(baseline_feature: Mapping, categorical: bool | None = None) -> str:
    """continuous or categorical: given, else from the baseline type (String and the ETL's Integral codes)."""
    if categorical is not None:
        return CATEGORICAL if categorical else CONTINUOUS
    return CATEGORICAL if baseline_feature.get("inferred_type") in (STRING, INTEGRAL) else CONTINUOUS


def run_feature_test(baseline_feature: Mapping, column: ParsedColumn, kind: str) -> FeatureTest | None:
    """The feature's two-sample test, or None when the window holds no usable value of it."""
    name = str(baseline_feature.get("name"))
    if kind == CATEGORICAL:
        values = column.present_strings()
        if not values:
            return None
        counts = baseline_category_counts(baseline_feature)
        statistic, p, distance = chi_square_test(counts, values)
        return FeatureTest(name, kind, "chi-square", statistic, p, len(values), int(round(sum(counts.values()))),
                           distance)
    numerical = baseline_feature.get("numerical_statistics", {})
    sketch = sketch_cdf(numerical.get("distribution", {}))
    if sketch is None:
        raise DriftCheckError(f"baseline feature {name}: {baseline_feature.get('inferred_type', FRACTIONAL)} "
                              "feature without a kll.sketch; the KS test needs the baseline's distribution")
    window = column.numbers()
    if len(window) == 0:
        return None
    items, cumulative, rank_error = sketch
    n = int(numerical.get("common", {}).get("num_present", 0)) or len(items)
    distance = ks_statistic(items, cumulative, window)
    p = ks_p_value(max(distance - rank_error, 0.0), n, len(window))
    return FeatureTest(name, kind, "kolmogorov-smirnov", distance, p, len(window), n, distance)


def holm(tests: Sequence[FeatureTest], alpha: float) -> list[FeatureTest]:
    """Holm's step-down: the i-th smallest p-value is compared with alpha / (k - i) until one is not rejected."""
    order = sorted(range(len(tests)), key=lambda i: tests[i].p_value)
    out = list(tests)
    rejecting = True
    for rank, i in enumerate(order):
        threshold = alpha / (len(tests) - rank)
        rejected = rejecting and tests[i].p_value <= threshold
        rejecting = rejected
        out[i] = replace(tests[i], threshold=threshold, drifted=rejected)
    return out


def decide(baseline_features: Sequence[Mapping], columns: Sequence[ParsedColumn], *, alpha: float = DEFAULT_ALPHA,
           min_window: int = DEFAULT_MIN_WINDOW, categorical: Mapping[str, bool] | None = None) -> DriftVerdict:
    """The window's verdict. ``columns[i]`` is the window's column for ``baseline_features[i]``.

    categorical maps a baseline column name to True/False to override the type inferred from the baseline.
    """
    check_rule_parameters(alpha, min_window)
    rows = max((c.count for c in columns), default=0)
    if rows < min_window:
        return DriftVerdict(INSUFFICIENT, rows, alpha, min_window)
    tests = []
    for feature, column in zip(baseline_features, columns):
        kind = feature_kind(feature, (categorical or {}).get(str(feature.get("name"))))
        result = run_feature_test(feature, column, kind)
        if result is not None:
            tests.append(result)
    judged = holm(tests, alpha)
    status = DRIFT if any(t.drifted for t in judged) else NO_DRIFT
    return DriftVerdict(status, rows, alpha, min_window, tuple(judged))
