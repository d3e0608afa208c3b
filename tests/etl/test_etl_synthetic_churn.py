"""The synthetic churn generator: deterministic, known ground truth, drift knobs, committed sample."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

import synthetic_churn as sc
from etl_helpers import REPO, SAMPLE_CSV, SAMPLE_SCHEMA

SAMPLE_ARGS = ["--rows", "2000", "--seed", "7", "--dirty-fraction", "0.02"]
SAMPLE_META = REPO / "data" / "churn-sample.csv.meta.json"

# Tolerance for the recorded Bayes AUC: one unit of its last recorded decimal (sc.BAYES_AUC_DECIMALS). The value
# itself is the same on any CPU (exact ties, a ratio of whole numbers); the unit only absorbs its rounding. One
# tie or one swapped pair among the sample's 562 x 1,416 usable pairs moves it by 0.5/796,000 = 6.3e-7, over
# 600 times this tolerance, so no real change can hide in it.
AUC_RECORDED = 10.0 ** -sc.BAYES_AUC_DECIMALS


def _exact_logit(row: pd.Series) -> Fraction | None:
    """The ground-truth logit in exact rational arithmetic from the row's text (None where it is undefined):
    an oracle independent of floating point and of the generator's vectorised code."""
    def num(col: str) -> Fraction | None:
        text = row[col]
        try:
            return None if text is None else Fraction(str(text).strip(sc._SPACE))
        except ValueError:
            return None

    def cat(col: str, effects: dict, missing_ok: bool) -> Fraction | None:
        value = row[col]
        if value is None:
            return Fraction(0) if missing_ok else None
        value = str(value).strip(sc._SPACE)
        if value not in sc.CATEGORICAL[col]["categories"]:
            return None
        return Fraction(str(effects.get(value, 0.0)))

    terms = [Fraction(str(sc.INTERCEPT))]
    for col, coef, centre in (("tenure_months", sc.COEF_TENURE, 0), ("monthly_charges", sc.COEF_MONTHLY, 65),
                              ("support_calls", sc.COEF_CALLS, 0)):
        value = num(col)
        if value is None:
            return None
        terms.append(Fraction(str(coef)) * (value - centre))
    age = num("age")
    terms.append(Fraction(0) if age is None else Fraction(str(sc.COEF_AGE)) * (age - 46))
    for col, effects, missing_ok in (("contract", sc.CONTRACT_EFFECT, False),
                                     ("internet_service", sc.INTERNET_EFFECT, False),
                                     ("payment_method", sc.PAYMENT_EFFECT, True)):
        term = cat(col, effects, missing_ok)
        if term is None:
            return None
        terms.append(term)
    return sum(terms, Fraction(0))


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
    labels = (df["churned"] == "yes").to_numpy()
    from_probabilities = sc.roc_auc(sc.true_probability(df), labels)
    # Ranking floating-point probabilities breaks some exact ties one way or the other, depending on the CPU
    # (the reason bayes_auc ranks rounded logits). A tie group with p positives and q negatives counts p*q/2
    # pairs; breaking it moves at most that many: the bound below (1.4e-5 here), anything more is a real error.
    groups = pd.DataFrame({"logit": np.round(sc._logit(df), sc.LOGIT_DECIMALS), "y": labels}).groupby("logit")["y"]
    pos, size = groups.sum(), groups.size()
    tie_bound = float((0.5 * pos * (size - pos)).sum()) / (labels.sum() * (~labels).sum())
    assert 0 < tie_bound < 1e-4
    assert abs(auc - from_probabilities) <= tie_bound + 1e-12
    assert 0.75 < auc < 0.9


def test_bayes_auc_counts_rows_with_equal_exact_logits_as_ties():
    # Exact rational logits from the committed sample's text: the Bayes AUC with ties counted exactly. The
    # old ranking by floating-point probabilities gave 0.8286361 here and 0.8286374 with numpy limited to
    # SSE4/AVX; the true value is 0.8286393.
    df = pd.read_csv(SAMPLE_CSV, dtype=str, keep_default_na=False).replace("", None)
    label = df["churned"].astype("string").str.strip(sc._SPACE)
    exact = [_exact_logit(row) for _, row in df.iterrows()]
    usable = [x is not None and lab in ("yes", "no") for x, lab in zip(exact, label.fillna(""))]
    values = sorted({x for x, ok in zip(exact, usable) if ok})
    rank_of = {x: float(i) for i, x in enumerate(values)}
    oracle = sc.roc_auc(np.array([rank_of[x] for x, ok in zip(exact, usable) if ok]),
                        (label[usable] == "yes").to_numpy())
    auc, used = sc.bayes_auc(df)
    assert used == sum(usable)
    assert len(values) < used  # the premise: the sample has rows that tie in exact arithmetic
    # Both sides are ratios of the same whole numbers when the ties agree; 1e-12 only allows the division's
    # rounding, while one tie counted wrongly is 6.3e-7.
    assert auc == pytest.approx(oracle, abs=1e-12)


def test_exact_logits_lie_on_the_grid_that_bayes_auc_rounds_to():
    # bayes_auc rounds logits to LOGIT_DECIMALS; that merges exactly the equal ones only if exact logits sit on
    # a much coarser grid (1e-4: decimal coefficients times whole numbers, cents and tenths). A coefficient
    # with more decimals, or a feature written with more decimals, fails here first.
    df = sc.generate(3000, seed=4, dirty_fraction=0.05,
                     drift=sc.Drift(shift={"monthly_charges": 0.3, "age": -0.7}, churn_rate_delta=0.05))
    exact = [x for x in (_exact_logit(row) for _, row in df.astype(object).where(df.notna(), None).iterrows())
             if x is not None]
    assert len(exact) > 2500
    assert all((x * 10_000).denominator == 1 for x in exact)
    assert 10 ** sc.LOGIT_DECIMALS >= 1e5 * 10_000  # rounding steps 100,000 times finer than the grid
    floats = sc._logit(pd.DataFrame(df))
    finite = floats[np.isfinite(floats)]
    assert np.max(np.abs(finite * 1e4 - np.round(finite * 1e4))) < 1e-6  # float error far below the step


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
    auc, _ = sc.bayes_auc(df)
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
    # The CSV is compared byte for byte: its numbers are draws rounded to whole numbers, cents or tenths, so an
    # ulp of difference in numpy's exp could only show if a value sat within 1e-15 of a rounding boundary.
    assert out.read_bytes() == SAMPLE_CSV.read_bytes()
    assert json.loads((tmp_path / "schema.json").read_text()) == json.loads(SAMPLE_SCHEMA.read_text())
    assert json.loads(SAMPLE_SCHEMA.read_text()) == sc.schema_dict()
    fresh = json.loads((tmp_path / "sample.csv.meta.json").read_text())
    committed = json.loads(SAMPLE_META.read_text())
    # Structure and the values copied from the arguments or counted exactly; the two computed numbers below.
    computed = ("bayesAuc", "churnRate")
    assert list(fresh) == list(committed)
    assert {k: v for k, v in fresh.items() if k not in computed} == \
        {k: v for k, v in committed.items() if k not in computed}
    assert fresh["bayesAuc"] == pytest.approx(committed["bayesAuc"], abs=AUC_RECORDED)
    # churnRate is a count of yes labels over a count of valid labels: one correctly rounded division, so
    # only representation error (1e-16) separates two machines; one label more or less moves it by 5e-4.
    assert fresh["churnRate"] == pytest.approx(committed["churnRate"], abs=1e-12)


def test_sample_auc_measured_from_the_file_is_the_printed_one(capsys, tmp_path):
    meta = json.loads(SAMPLE_META.read_text())
    df = pd.read_csv(SAMPLE_CSV, dtype=str, keep_default_na=False).replace("", None)
    auc, used = sc.bayes_auc(df)
    # The file holds the AUC rounded to BAYES_AUC_DECIMALS: half a unit of rounding, plus float noise.
    assert auc == pytest.approx(meta["bayesAuc"], abs=AUC_RECORDED / 2 + 1e-15)
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
