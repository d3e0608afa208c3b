"""The detection-rate script on a few seeds, and the request formatting it shares with the local prod server."""

from __future__ import annotations

import json

import numpy as np
import pytest

import detection_rates
from drift_checker import DriftCheckError, csv_rows
from mlops_etl.encode_records import encode_records
from synthetic_churn import Drift, generate


@pytest.fixture(scope="module")
def builder():
    return detection_rates.builder_baseline(4000, seed=11)


def test_a_half_std_shift_is_flagged_and_the_unshifted_twin_is_not(builder):
    baseline, manifest = builder
    shifted, clean = detection_rates.measure(baseline, manifest, feature="tenure_months", shift=0.5, trials=3,
                                             window=1000, first_seed=500)
    assert shifted.flagged == [1, 1, 1] and shifted.feature_flagged == [1, 1, 1]
    assert clean.flagged == [0, 0, 0]
    assert min(shifted.distances) > 0.2 > 0.1 > max(clean.max_distances)


@pytest.mark.parametrize("feature", ["monthly_charges", "support_calls"])
def test_any_numeric_feature_can_be_shifted_and_each_arm_reads_its_own_capture(builder, feature):
    # Both arms of one seed once wrote the same capture folder whenever the shifted feature was not
    # tenure_months: the second write found the first arm's file and the run crashed.
    baseline, manifest = builder
    shifted, clean = detection_rates.measure(baseline, manifest, feature=feature, shift=3.0, trials=2,
                                             window=600, first_seed=700)
    assert len(shifted.distances) == len(clean.distances) == 2
    # Each arm checked its own window: the shifted arm's distance on the feature is far from the clean arm's.
    assert min(shifted.distances) > max(clean.distances)


def test_the_alpha_reaches_the_rule(builder):
    baseline, manifest = builder
    # A 0.1 std shift in 300 requests: p-values well above 1e-9, so such a strict alpha never flags it.
    shifted, _ = detection_rates.measure(baseline, manifest, feature="tenure_months", shift=0.1, trials=2,
                                         window=300, first_seed=500, alpha=1e-9)
    assert shifted.flagged == [0, 0]


def test_the_builder_baseline_has_the_etl_layout(builder):
    baseline, manifest = builder
    assert [f["name"] for f in baseline.statistics["features"]] == [f"_c{i}" for i in range(10)]
    types = [f["inferred_type"] for f in baseline.constraints["features"]]
    assert types == ["Fractional"] * 6 + ["Integral"] * 4  # numeric doubles, categorical codes
    assert all(f["completeness"] == 1.0 for f in baseline.constraints["features"])
    assert manifest["encodings"]["contract"] == {"month-to-month": 0, "one-year": 1, "two-year": 2, "__other__": 3}


def test_main_prints_both_rates_and_the_threshold(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert detection_rates.main(["--trials", "2", "--window", "400", "--train-rows", "3000", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "drift rule alpha 0.01" in printed
    assert "shift 0.5 std on tenure_months: drift flagged in 100% of 2 windows" in printed
    assert "no shift: drift flagged in 0% of 2 windows" in printed
    result = json.loads(out.read_text())
    assert result["seeds"] == [1000, 1001] and result["alpha"] == 0.01


def test_csv_rows_formats_like_the_etl_splits(builder):
    _, manifest = builder
    df = generate(3, seed=2, drift=Drift())
    lines = csv_rows(encode_records(df, manifest), manifest)
    fields = [line.split(",") for line in lines]
    assert all(len(f) == 10 for f in fields)
    assert all("." in v for row in fields for v in row[:6])  # doubles: 12.0
    assert all(v.isdigit() for row in fields for v in row[6:])  # codes: 2
    two = {"features": ["a", "b"], "featureTypes": {"a": "numeric", "b": "categorical"}}
    assert csv_rows(np.array([[1.0, 2.0]]), two) == ["1.0,2"]
    assert csv_rows(np.array([[np.nan, 2.0]]), {"features": ["a", "b"], "featureTypes": {"b": "categorical"}}) == [",2"]


def test_csv_rows_rejects_mismatched_shapes_and_fractional_codes():
    manifest = {"features": ["a", "b"], "featureTypes": {"b": "categorical"}}
    with pytest.raises(DriftCheckError, match="rows x 2 matrix"):
        csv_rows(np.zeros((2, 3)), manifest)
    with pytest.raises(DriftCheckError, match="not a whole number"):
        csv_rows(np.array([[1.0, 2.5]]), manifest)
