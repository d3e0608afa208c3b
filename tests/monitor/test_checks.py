"""The data-quality checks on generated windows: each violation type is detected, a clean window passes."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy.stats import ks_2samp

from monitor_fixtures import WindowSpec, draw_rows
from drift_checker import (Baseline, DriftCheckError, build_statistics, categorical_distance, check_rows,
                           columns_from_rows, numeric_distance, suggest_constraints)


def kinds(result) -> list[tuple[str, str]]:
    return sorted((v.feature_name, v.constraint_check_type) for v in result.violations)


def window_with(column: int, value: str, count: int) -> list[list[str]]:
    """The clean 1,000-row window of seed 7 with `value` in `column` of its first `count` rows."""
    rows = draw_rows(1000, seed=7)
    for row in rows[:count]:
        row[column] = value
    return rows


def test_a_clean_window_passes(baseline):
    result, statistics = check_rows(baseline, draw_rows(1000, seed=7))
    assert result.violations == []
    assert result.as_violations_document() == {"violations": []}
    assert set(result.distances) == {"_c0", "_c1", "_c2", "_c3"}
    assert max(result.distances.values()) < 0.06
    assert statistics["dataset"]["item_count"] == 1000
    assert [f["inferred_type"] for f in statistics["features"]] == ["Fractional", "Fractional", "Integral", "String"]


@pytest.mark.parametrize("seed", range(20, 30))
def test_clean_windows_of_other_seeds_pass_too(baseline, seed):
    assert check_rows(baseline, draw_rows(1000, seed=seed))[0].violations == []


def test_numeric_drift_is_a_baseline_drift_check_with_model_monitors_description(baseline):
    result, _ = check_rows(baseline, draw_rows(1000, seed=7, spec=WindowSpec(tenure_shift=0.5)),
                           display_names={"_c0": "tenure_months"})
    assert kinds(result) == [("_c0", "baseline_drift_check")]
    violation = result.violations[0]
    distance = result.distances["_c0"]
    assert violation.description.startswith(f"Baseline drift: kolmogorov-smirnov test statistic {distance:.4f}, "
                                            "p-value ")
    assert "(Holm, false-alarm rate 0.01 per window; 1000 window values, 5000 baseline rows)" in violation.description
    assert violation.description.endswith("(feature tenure_months)")
    assert 0.15 < result.distances["_c0"] < 0.25
    assert result.verdict.status == "drift"


def test_categorical_drift_is_a_chi_square_test_and_reports_the_share_distance(baseline):
    result, _ = check_rows(baseline, draw_rows(1000, seed=7, spec=WindowSpec(plan_probs=(0.4, 0.5, 0.1))))
    assert kinds(result) == [("_c3", "baseline_drift_check")]
    assert "chi-square test" in result.violations[0].description
    assert 0.15 < result.distances["_c3"] < 0.3  # shares moved by 0.2, plus sampling noise


def test_missing_values_are_a_completeness_check(baseline):
    rows = window_with(1, "", 30)
    result, statistics = check_rows(baseline, rows)
    assert kinds(result) == [("_c1", "completeness_check")]
    expected = "Expected completeness: 100.0%, Observed: Only 97.0% of data is non-null."
    assert expected in result.violations[0].description
    assert statistics["features"][1]["numerical_statistics"]["common"] == {"num_present": 970, "num_missing": 30}
    tolerant, _ = check_rows(baseline, rows, completeness_tolerance=0.05)
    assert tolerant.violations == []


def test_text_in_a_numeric_column_is_a_data_type_check(baseline):
    result, _ = check_rows(baseline, window_with(0, "n/a", 10))
    assert kinds(result) == [("_c0", "data_type_check")]
    assert result.violations[0].description.startswith(
        "Data type match requirement is not met. Expected data type: Fractional, Expected match: 100.0%. "
        "Observed: Only 99.0% of data is Fractional.")


def test_whole_numbers_match_fractional_but_decimals_do_not_match_integral(baseline):
    rows = draw_rows(1000, seed=7)
    for row in rows:
        row[0] = str(int(float(row[0])))  # "40" in a Fractional column: a valid double
    rows[0][2] = "2.5"  # a decimal in the Integral column
    result, _ = check_rows(baseline, rows)
    assert kinds(result) == [("_c2", "data_type_check")]


def test_data_type_threshold_allows_a_share_of_mismatches(baseline):
    relaxed = Baseline(baseline.statistics, copy.deepcopy(baseline.constraints))
    relaxed.constraints["monitoring_config"]["datatype_check_threshold"] = 0.95
    assert check_rows(relaxed, window_with(0, "n/a", 10))[0].violations == []
    assert kinds(check_rows(relaxed, window_with(0, "n/a", 60))[0]) == [("_c0", "data_type_check")]


def test_unknown_categories_are_a_categorical_values_check(baseline):
    result, _ = check_rows(baseline, window_with(3, "weekly", 5))
    assert kinds(result) == [("_c3", "categorical_values_check")]
    assert "Observed: 99.5%; values outside it: 'weekly'." in result.violations[0].description


def test_a_missing_trailing_column_is_a_missing_column_check(baseline):
    rows = [row[:3] for row in draw_rows(1000, seed=7)]
    result, _ = check_rows(baseline, rows, display_names={"_c3": "plan"})
    assert kinds(result) == [("_c3", "missing_column_check")]
    assert result.violations[0].description == (
        "There are missing columns in current dataset. Number of columns in current dataset: 3, "
        "Number of columns in baseline constraints: 4 (feature plan)")


def test_an_extra_column_is_an_extra_column_check(baseline):
    rows = [row + ["1"] for row in draw_rows(1000, seed=7)]
    result, statistics = check_rows(baseline, rows)
    assert kinds(result) == [("_c4", "extra_column_check")]
    assert "Number of columns in current dataset: 5, Number of columns in baseline constraints: 4" in \
        result.violations[0].description
    assert statistics["features"][4]["name"] == "_c4"


def test_several_problems_in_one_window_are_all_reported(baseline):
    rows = draw_rows(1000, seed=7, spec=WindowSpec(tenure_shift=1.0))
    for row in rows[:50]:
        row[1] = ""
        row[3] = "weekly"
    rows[0].append("extra")
    result, _ = check_rows(baseline, rows)
    # 5% of a category the baseline never saw is also a shift of the category shares: both checks report it.
    assert kinds(result) == [("_c0", "baseline_drift_check"), ("_c1", "completeness_check"),
                             ("_c3", "baseline_drift_check"), ("_c3", "categorical_values_check"),
                             ("_c4", "extra_column_check")]
    # The extra field of one row leaves the other rows' fifth column missing, which no constraint covers.


def test_numeric_distance_is_the_two_sample_ks_statistic_when_the_sketch_is_exact():
    rng = np.random.default_rng(3)
    base, window = rng.normal(0, 1, 1500), rng.normal(0.3, 1, 800)
    statistics = build_statistics(columns_from_rows([[f"{v:.6f}"] for v in base]))
    distribution = statistics["features"][0]["numerical_statistics"]["distribution"]
    parsed = np.array([float(f"{v:.6f}") for v in base])
    # Both are max |i/1500 - j/800| over the same step functions, formed differently: a few ulp of 1 apart at
    # most, while two different values of it are multiples of 1/lcm(1500, 800) = 1/12,000 apart (8.3e-5).
    assert numeric_distance(distribution, window) == pytest.approx(ks_2samp(parsed, window).statistic, abs=1e-12)


def test_numeric_distance_weighs_sketch_levels_by_powers_of_two():
    # Level 1 items count twice: the baseline is {1, 2, 2} in distribution, so F(1) = 1/3.
    distribution = {"kll": {"sketch": {"data": [[1.0], [2.0]]}}}
    assert numeric_distance(distribution, np.array([1.0, 2.0])) == pytest.approx(0.5 - 1 / 3)


def test_numeric_distance_falls_back_to_bucket_edges_without_a_sketch():
    distribution = {"kll": {"buckets": [{"lower_bound": 0.0, "upper_bound": 5.0, "count": 50},
                                        {"lower_bound": 5.0, "upper_bound": 10.0, "count": 50}]}}
    # Window: 80% at or below 5, so |0.5 - 0.8| at the first edge; values below 0 count at the lower edge.
    assert numeric_distance(distribution, np.array([1.0] * 8 + [7.0] * 2)) == pytest.approx(0.3)
    assert numeric_distance(distribution, np.array([-1.0] * 4 + [7.0] * 6)) == pytest.approx(0.4)
    with pytest.raises(DriftCheckError, match="neither kll.sketch.data nor kll.buckets"):
        numeric_distance({"kll": {}}, np.array([1.0]))


def test_a_window_below_the_minimum_is_insufficient_data_never_drift(baseline):
    rows = draw_rows(60, seed=11, spec=WindowSpec(tenure_shift=2.0))
    result, _ = check_rows(baseline, rows)
    assert result.verdict.status == "insufficient data"
    assert result.violations == [] and result.distances == {}
    judged, _ = check_rows(baseline, rows, min_window=50)
    assert judged.verdict.status == "drift"  # the same window, judged once the minimum allows it


def test_the_constraints_distance_thresholds_no_longer_decide(baseline):
    rows = draw_rows(1000, seed=7, spec=WindowSpec(tenure_shift=0.5))
    lenient = Baseline(baseline.statistics, copy.deepcopy(baseline.constraints))
    lenient.constraints["monitoring_config"]["distribution_constraints"]["comparison_threshold"] = 0.9
    assert kinds(check_rows(lenient, rows)[0]) == [("_c0", "baseline_drift_check")]


def test_disabled_evaluation_and_comparison(baseline):
    rows = draw_rows(1000, seed=7, spec=WindowSpec(tenure_shift=1.0))
    rows[0][0] = ""
    off = Baseline(baseline.statistics, copy.deepcopy(baseline.constraints))
    off.constraints["monitoring_config"]["distribution_constraints"]["perform_comparison"] = "Disabled"
    assert kinds(check_rows(off, rows)[0]) == [("_c0", "completeness_check")]
    off.constraints["monitoring_config"]["evaluate_constraints"] = "Disabled"
    assert check_rows(off, rows)[0].violations == []


@pytest.mark.parametrize("path, value, message", [
    (("distribution_constraints", "perform_comparison"), "On", "allowed: Enabled, Disabled"),
    (("datatype_check_threshold",), -1, "datatype_check_threshold must be a non-negative number"),
    (("evaluate_constraints",), "yes", "allowed: Enabled, Disabled"),
])
def test_invalid_monitoring_config_fails_naming_what_is_allowed(baseline, path, value, message):
    bad = Baseline(baseline.statistics, copy.deepcopy(baseline.constraints))
    target = bad.constraints["monitoring_config"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(DriftCheckError, match=message):
        check_rows(bad, draw_rows(100, seed=7, spec=WindowSpec(tenure_shift=1.0, plan_probs=(0.1, 0.1, 0.8))))


def test_an_empty_window_is_an_error_not_a_pass(baseline):
    with pytest.raises(DriftCheckError, match="no rows"):
        check_rows(baseline, [])


def test_suggested_constraints_follow_model_monitors_schema(baseline):
    constraints = baseline.constraints
    assert constraints["version"] == 0
    assert [f["inferred_type"] for f in constraints["features"]] == ["Fractional", "Fractional", "Integral", "String"]
    assert constraints["features"][3]["string_constraints"] == {"domains": ["annual", "lifetime", "monthly"]}
    assert constraints["features"][2]["num_constraints"] == {"is_non_negative": True}
    assert constraints["features"][0]["num_constraints"] == {"is_non_negative": False}
    assert all(f["completeness"] == 1.0 for f in constraints["features"])
    dist = constraints["monitoring_config"]["distribution_constraints"]
    assert dist == {"perform_comparison": "Enabled", "comparison_threshold": 0.1, "comparison_method": "Robust",
                    "categorical_comparison_threshold": 0.1, "categorical_drift_method": "LInfinity"}
    assert suggest_constraints(baseline.statistics, {"distribution_constraints": {"comparison_threshold": 0.2}})[
        "monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"
