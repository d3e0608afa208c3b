"""The synthetic churn generator: deterministic, known ground truth, drift knobs, committed sample."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import synthetic_churn as sc
from etl_helpers import REPO, SAMPLE_CSV, SAMPLE_SCHEMA

SAMPLE_ARGS = ["--rows", "2000", "--seed", "7", "--dirty-fraction", "0.02"]


def test_same_arguments_give_the_same_frame_and_another_seed_does_not():
    a = sc.generate(500, seed=3, dirty_fraction=0.05)
    b = sc.generate(500, seed=3, dirty_fraction=0.05)
    pd.testing.assert_frame_equal(a, b)
    c = sc.generate(500, seed=4, dirty_fraction=0.05)
    assert not a["monthly_charges"].equals(c["monthly_charges"])
    assert list(a.columns) == sc.COLUMNS


def test_clean_data_is_valid_and_missing_only_in_optional_features():
    df = sc.generate(3000, seed=1)
    assert set(df["churned"]) == {"yes", "no"}
    assert df["customer_id"].is_unique
    for name, spec in sc.NUMERIC.items():
        values = pd.to_numeric(df[name])
        assert values.dropna().between(spec["min"], spec["max"]).all(), name
        assert values.isna().any() != spec["required"], name
    for name, spec in sc.CATEGORICAL.items():
        assert set(df[name].dropna()) <= set(spec["categories"]), name
        assert df[name].isna().any() != spec["required"], name
    assert (df.loc[df["tenure_months"] == 0, "total_charges"].isna()).all()


def test_dirty_rows_touch_exactly_the_requested_share_and_nothing_else():
    clean = sc.generate(2000, seed=5)
    dirty = sc.generate(2000, seed=5, dirty_fraction=0.03)
    as_text = lambda df: df.astype(object).where(df.notna(), None).astype(str)  # noqa: E731
    changed = (as_text(clean) != as_text(dirty)).any(axis=1)
    assert changed.sum() == 60
    assert not changed.iloc[0]
    assert (dirty["churned"].isna() | ~dirty["churned"].astype(str).str.strip().isin(["yes", "no"])).any()


def test_bayes_auc_is_auc_of_true_probabilities():
    df = sc.generate(4000, seed=2)
    auc, used = sc.bayes_auc(df)
    assert used == 4000
    assert auc == pytest.approx(sc.roc_auc(sc.true_probability(df), (df["churned"] == "yes").to_numpy()))
    assert 0.75 < auc < 0.9


def test_roc_auc_counts_ties_half():
    labels = np.array([0, 0, 1, 1])
    assert sc.roc_auc(np.array([0.1, 0.2, 0.3, 0.4]), labels) == 1.0
    assert sc.roc_auc(np.array([0.4, 0.3, 0.2, 0.1]), labels) == 0.0
    assert sc.roc_auc(np.array([0.5, 0.5, 0.5, 0.5]), labels) == 0.5
    assert np.isnan(sc.roc_auc(np.array([0.1, 0.2]), np.array([1, 1])))


def test_nominal_standard_deviations_match_the_generator():
    df = sc.generate(200_000, seed=0)
    for name, spec in sc.NUMERIC.items():
        assert pd.to_numeric(df[name]).std() == pytest.approx(spec["std"], rel=0.03), name


def test_shift_moves_the_feature_and_leaves_other_columns_alone():
    base = sc.generate(20_000, seed=9)
    drifted = sc.generate(20_000, seed=9, drift=sc.Drift(shift={sc.IMPORTANT_FEATURE: 1.0}))
    moved = drifted[sc.IMPORTANT_FEATURE].mean() - base[sc.IMPORTANT_FEATURE].mean()
    assert 0.8 * sc.NUMERIC[sc.IMPORTANT_FEATURE]["std"] < moved <= 1.01 * sc.NUMERIC[sc.IMPORTANT_FEATURE]["std"]
    pd.testing.assert_series_equal(base["region"], drifted["region"])
    pd.testing.assert_series_equal(base["monthly_charges"], drifted["monthly_charges"])
    # Longer tenure lowers churn under the ground truth: labels follow the features.
    assert (drifted["churned"] == "yes").mean() < (base["churned"] == "yes").mean() - 0.03


def test_churn_rate_delta_moves_the_base_rate():
    base = sc.generate(20_000, seed=9)
    df, offset = sc.generate_with_offset(20_000, seed=9, drift=sc.Drift(churn_rate_delta=0.1))
    assert offset > 0
    rate_change = (df["churned"] == "yes").mean() - (base["churned"] == "yes").mean()
    assert rate_change == pytest.approx(0.1, abs=0.015)
    pd.testing.assert_series_equal(base["tenure_months"], df["tenure_months"])
    auc, _ = sc.bayes_auc(df, offset)
    assert 0.75 < auc < 0.9


def test_category_mix_sets_the_named_share_and_rescales_the_rest():
    df = sc.generate(20_000, seed=9, drift=sc.Drift(category_mix={"contract": {"two-year": 0.6}}))
    shares = df["contract"].value_counts(normalize=True)
    assert shares["two-year"] == pytest.approx(0.6, abs=0.015)
    base = sc.CATEGORICAL["contract"]["categories"]
    expected = 0.4 * base["one-year"] / (base["one-year"] + base["month-to-month"])
    assert shares["one-year"] == pytest.approx(expected, abs=0.015)


@pytest.mark.parametrize("drift, message", [
    (sc.Drift(shift={"nope": 1.0}), "unknown numeric feature 'nope'"),
    (sc.Drift(category_mix={"contract": {"ten-year": 0.5}}), "contract has no category 'ten-year'"),
    (sc.Drift(category_mix={"contract": {"one-year": 0.7, "two-year": 0.6}}), "add up to more than 1"),
    (sc.Drift(churn_rate_delta=1.5), "churn_rate_delta must be between -1 and 1"),
])
def test_invalid_drift_is_rejected(drift, message):
    with pytest.raises(ValueError, match=message):
        sc.generate(10, seed=1, drift=drift)


def test_committed_sample_is_what_the_generator_writes(tmp_path):
    out = tmp_path / "sample.csv"
    assert sc.main([*SAMPLE_ARGS, "--out", str(out), "--schema-out", str(tmp_path / "schema.json")]) == 0
    assert out.read_bytes() == SAMPLE_CSV.read_bytes()
    assert json.loads((tmp_path / "schema.json").read_text()) == json.loads(SAMPLE_SCHEMA.read_text())
    assert json.loads(SAMPLE_SCHEMA.read_text()) == sc.schema_dict()
    assert (tmp_path / "sample.csv.meta.json").read_text() == (REPO / "data" / "churn-sample.csv.meta.json").read_text()


def test_sample_auc_measured_from_the_file_is_the_printed_one(capsys, tmp_path):
    meta = json.loads((REPO / "data" / "churn-sample.csv.meta.json").read_text())
    df = pd.read_csv(SAMPLE_CSV, dtype=str, keep_default_na=False).replace("", None)
    auc, used = sc.bayes_auc(df, meta["interceptOffset"])
    assert auc == pytest.approx(meta["bayesAuc"], abs=1e-12)
    assert used == meta["bayesAucRows"]
    assert meta["synthetic"] is True and meta["importantFeature"] == "tenure_months"
    sc.main([*SAMPLE_ARGS, "--out", str(tmp_path / "again.csv")])
    assert f"bayes_auc={meta['bayesAuc']:.4f}" in capsys.readouterr().out
    readme = (REPO / "data" / "README.md").read_text()
    assert f"{meta['bayesAuc']:.4f}" in readme


def test_cli_drift_flags_and_errors(tmp_path, capsys):
    out = tmp_path / "drift.csv"
    code = sc.main(["--rows", "3000", "--seed", "2", "--out", str(out), "--shift", "tenure_months=0.5",
                    "--churn-rate-delta", "0.05", "--category-mix", "contract=two-year:0.5,one-year:0.3"])
    assert code == 0
    meta = json.loads((tmp_path / "drift.csv.meta.json").read_text())
    assert meta["drift"] == {"shift": {"tenure_months": 0.5}, "categoryMix": {"contract": {"two-year": 0.5,
                             "one-year": 0.3}}, "churnRateDelta": 0.05}
    assert len(pd.read_csv(out)) == 3000
    assert sc.main(["--rows", "10", "--seed", "1", "--out", str(out), "--shift", "age"]) == 2
    assert sc.main(["--rows", "10", "--seed", "1", "--out", str(out), "--shift", "height=1"]) == 2
    assert "unknown numeric feature 'height'" in capsys.readouterr().err
