"""The drift rule: its tests agree with scipy's, its false-alarm rate is bounded, small windows never alarm."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, ks_2samp

from drift_checker import DriftCheckError, ParsedColumn, build_statistics, columns_from_rows, decide
from drift_checker.drift_rule import (DRIFT, INSUFFICIENT, NO_DRIFT, FeatureTest, baseline_category_counts,
                                      chi_square_test, holm, ks_p_value, ks_statistic, sketch_cdf, run_feature_test)
from drift_checker.statistics import feature_statistics
from monitor_fixtures import WindowSpec, draw_rows

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def numeric_feature(values: np.ndarray, name: str = "_c0") -> dict:
    return feature_statistics(ParsedColumn.of(name, [repr(float(v)) for v in values]))


def column(values, name: str = "_c0") -> ParsedColumn:
    return ParsedColumn.of(name, [repr(float(v)) if not isinstance(v, str) else v for v in values])


@settings(max_examples=60, deadline=None)
@given(base=st.lists(finite, min_size=2, max_size=300), window=st.lists(finite, min_size=2, max_size=300))
def test_with_an_exact_sketch_the_ks_test_is_scipys_two_sample_test(base, window):
    feature = numeric_feature(np.array(base))
    result = run_feature_test(feature, column(window), "continuous")
    reference = ks_2samp(np.array(base), np.array(window), method="asymp")
    # Same statistic and the same formula: differences are floating-point summation only.
    assert result.statistic == pytest.approx(reference.statistic, abs=1e-9)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-6, abs=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(min_value=2049, max_value=20000), shift=st.floats(min_value=0.0, max_value=0.3),
       seed=st.integers(min_value=0, max_value=2**31))
def test_a_compacted_sketch_only_makes_the_test_more_conservative(n, shift, seed):
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, n)
    window = rng.normal(shift, 1, 500)
    result = run_feature_test(numeric_feature(base), column(window), "continuous")
    exact = ks_2samp(base, window, method="asymp")
    assert result.p_value >= exact.pvalue - 1e-12
    assert result.baseline_size == n


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(min_value=-50, max_value=50), min_size=100, max_size=400))
def test_a_window_identical_to_the_baseline_never_alarms(values):
    rows = [[f"{v}.5", str(v % 4)] for v in values]
    statistics = build_statistics(columns_from_rows(rows))
    verdict = decide(statistics["features"], columns_from_rows(rows))
    assert verdict.status == NO_DRIFT
    assert all(t.p_value == pytest.approx(1.0) for t in verdict.tests)


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(min_value=1, max_value=400), min_window=st.integers(min_value=1, max_value=400),
       shift=st.floats(min_value=0.0, max_value=5.0))
def test_below_the_minimum_window_the_verdict_is_insufficient_data_never_drift(baseline, rows, min_window, shift):
    window = columns_from_rows(draw_rows(rows, seed=rows, spec=WindowSpec(tenure_shift=shift)))
    verdict = decide(baseline.statistics["features"], window, min_window=min_window)
    if rows < min_window:
        assert verdict.status == INSUFFICIENT and verdict.tests == ()
    else:
        assert verdict.status in (DRIFT, NO_DRIFT) and len(verdict.tests) == 4


def test_the_false_alarm_rate_of_unchanged_windows_stays_within_alpha(baseline):
    # 400 seeded windows drawn from the baseline's own distribution, at alpha 0.05 so the rate is measurable.
    # Holm guarantees at most 5 %; P(more than 34 of 400 | p = 0.05) < 1e-4, so a breach means a broken rule.
    flagged = sum(decide(baseline.statistics["features"], columns_from_rows(draw_rows(200, seed=s)),
                         alpha=0.05).status == DRIFT for s in range(10_000, 10_400))
    assert flagged <= 34


def test_a_shift_is_detected_and_named(baseline):
    verdict = decide(baseline.statistics["features"],
                     columns_from_rows(draw_rows(1000, seed=3, spec=WindowSpec(tenure_shift=0.5))))
    assert verdict.status == DRIFT
    assert [t.name for t in verdict.drifted] == ["_c0"]
    assert verdict.drifted[0].test == "kolmogorov-smirnov"


@settings(max_examples=200, deadline=None)
@given(p=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=12),
       alpha=st.floats(min_value=0.001, max_value=0.2))
def test_holm_rejects_the_smallest_p_values_until_the_first_that_fails_its_threshold(p, alpha):
    tests = [FeatureTest(f"_c{i}", "continuous", "t", 0.0, v, 1, 1, 0.0) for i, v in enumerate(p)]
    judged = holm(tests, alpha)
    ordered = sorted(p)
    k = next((i for i, v in enumerate(ordered) if v > alpha / (len(p) - i)), len(p))
    assert sum(t.drifted for t in judged) == k
    assert all(t.p_value <= alpha for t in judged if t.drifted)  # never more than uncorrected tests
    assert all(t.drifted for t in judged if t.p_value <= alpha / len(p))  # at least Bonferroni's rejections


def test_chi_square_is_scipys_homogeneity_test_on_the_two_samples():
    baseline = {"0": 600.0, "1": 300.0, "2": 100.0}
    window = ["0"] * 50 + ["1"] * 40 + ["2"] * 10
    statistic, p, distance = chi_square_test(baseline, window)
    reference = chi2_contingency(np.array([[600, 300, 100], [50, 40, 10]]), correction=False)
    assert statistic == pytest.approx(reference.statistic) and p == pytest.approx(reference.pvalue)
    assert distance == pytest.approx(0.1)


def test_rare_categories_are_pooled_and_codes_match_however_they_are_written():
    baseline = {"0": 9000.0, "1": 990.0, "2": 6.0, "3": 4.0}
    window = ["0.0"] * 90 + ["1"] * 10  # expected counts of "2" and "3" in 100 requests: far below 5
    statistic, p, _ = chi_square_test(baseline, window)
    reference = chi2_contingency(np.array([[9000, 1000], [90, 10]]), correction=False)  # 2 and 3 joined "1"
    assert p == pytest.approx(reference.pvalue)
    assert chi_square_test({"a": 10.0}, ["a", "a"])[1] == 1.0  # one cell: nothing to compare
    with pytest.raises(DriftCheckError, match="holds no values"):
        chi_square_test({}, ["a"])


def test_a_new_category_in_the_window_is_drift():
    _, p, _ = chi_square_test({"0": 5000.0, "1": 5000.0}, ["0"] * 400 + ["1"] * 400 + ["9"] * 200)
    assert p < 1e-10


def test_category_counts_come_exactly_from_buckets_or_approximately_from_the_sketch():
    codes = ParsedColumn.of("_c6", [str(v) for v in [0] * 700 + [1] * 200 + [3] * 100])
    feature = feature_statistics(codes)
    assert baseline_category_counts(feature) == {"0": 700.0, "1": 200.0, "3": 100.0}
    wide = feature_statistics(ParsedColumn.of("_c7", [str(v) for v in range(40)] * 10))  # buckets hold 4 codes
    counts = baseline_category_counts(wide)
    assert sum(counts.values()) == pytest.approx(400) and counts["39"] == pytest.approx(10)
    strings = feature_statistics(ParsedColumn.of("_c8", ["a", "b", "b"]))
    assert baseline_category_counts(strings) == {"a": 1.0, "b": 2.0}


def test_the_ks_statistic_is_attained_at_a_jump_of_either_step_function():
    items, cumulative, error = sketch_cdf({"kll": {"sketch": {"data": [[1.0, 2.0, 3.0, 4.0]]}}})
    assert error == 0.0
    assert ks_statistic(items, cumulative, np.array([3.5, 3.6])) == pytest.approx(0.75)
    assert ks_p_value(0.0, 1000, 1000) == 1.0


@pytest.mark.parametrize("alpha, min_window, message", [
    (0.0, 100, "strictly between 0 and 1"), (1.0, 100, "strictly between 0 and 1"),
    (0.01, 0, "whole number of requests >= 1"), (0.01, 2.5, "whole number of requests >= 1"),
])
def test_invalid_rule_parameters_are_refused(baseline, alpha, min_window, message):
    with pytest.raises(DriftCheckError, match=message):
        decide(baseline.statistics["features"], columns_from_rows(draw_rows(10, seed=1)), alpha=alpha,
               min_window=min_window)


def test_a_continuous_feature_needs_a_sketch():
    with pytest.raises(DriftCheckError, match="without a kll.sketch"):
        run_feature_test({"name": "_c0", "inferred_type": "Fractional", "numerical_statistics": {"distribution": {}}},
                     column([1.0]), "continuous")
