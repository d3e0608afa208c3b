"""encode_records (pandas) against the Spark job: the same rows must give the same doubles, bit for bit."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthetic_churn as sc
from etl_helpers import SAMPLE_CSV, read_split
from mlops_etl.encode_records import encode_records
from mlops_etl.rules import split_hash, split_of


@pytest.mark.spark
def test_encode_records_reproduces_the_spark_output_row_for_row(sample_run):
    m = sample_run.manifest
    raw = pd.read_csv(SAMPLE_CSV, dtype=str, keep_default_na=False)
    raw["_row_number"] = np.arange(1, len(raw) + 1)
    quarantined = {int(r["_row_number"]) for r in
                   csv.DictReader(io.StringIO(Path(sample_run.prefix, "quarantine", "part-00000.csv").read_text()))}
    valid = raw[~raw["_row_number"].isin(quarantined)].copy()
    valid["_id"] = valid["customer_id"].str.strip()
    seed, split = m["seed"], m["schema"]["split"]
    valid["_split"] = [split_of(seed, i, split["train"], split["validation"]) for i in valid["_id"]]
    valid["_hash"] = [split_hash(seed, i) for i in valid["_id"]]
    compared = 0
    for name in ("train", "validation", "test"):
        rows = valid[valid["_split"] == name].sort_values(["_hash", "_id", "_row_number"])
        spark_rows = np.array(read_split(sample_run.prefix, name))
        assert len(rows) == len(spark_rows) == m["splits"][name]
        features = encode_records(rows, m)
        assert np.array_equal(features, spark_rows[:, 1:]), name  # exact: same parse, same imputation
        labels = (rows["churned"].str.strip() == "yes").astype(float).to_numpy()
        assert np.array_equal(labels, spark_rows[:, 0])
        compared += len(rows)
    assert compared == m["rowsOut"]


MANIFEST = {
    "features": ["n1", "n2", "c1"],
    "featureTypes": {"n1": "numeric", "n2": "numeric", "c1": "categorical"},
    "encodings": {"c1": {"a": 0, "b": 1, "__other__": 2}},
    "imputation": {"n1": 1.5, "n2": -2.0},
}


def test_missing_values_are_imputed_and_unknown_categories_get_the_other_code():
    df = pd.DataFrame({"n1": ["3", "", None, " 4.25 "], "n2": [1.0, np.nan, 2.0, None],
                       "c1": ["a", "zz", None, " b "], "ignored": ["x"] * 4})
    out = encode_records(df, MANIFEST)
    assert out.dtype == np.float64
    assert out.tolist() == [[3.0, 1.0, 0.0], [1.5, -2.0, 2.0], [1.5, 2.0, 2.0], [4.25, -2.0, 1.0]]


def test_absent_feature_column_counts_as_missing_everywhere():
    out = encode_records(pd.DataFrame({"n1": [1, 2]}), MANIFEST)
    assert out.tolist() == [[1.0, -2.0, 2.0], [2.0, -2.0, 2.0]]


@pytest.mark.parametrize("value", ["abc", "1d", "0x10", "NaN", "inf", "1_000", "1e999", "12,5"])
def test_text_that_the_etl_would_quarantine_as_non_numeric_raises(value):
    with pytest.raises(ValueError, match=r"feature 'n1': non-numeric value\(s\) at row\(s\) \[1\]"):
        encode_records(pd.DataFrame({"n1": ["1", value], "n2": [0, 0], "c1": ["a", "a"]}), MANIFEST)


def test_numbers_and_their_text_encode_identically():
    df = sc.generate(300, seed=4)
    text = pd.read_csv(io.StringIO(df.to_csv(index=False)), dtype=str, keep_default_na=False)
    manifest = {"features": list(sc.NUMERIC) + list(sc.CATEGORICAL),
                "featureTypes": {**{n: "numeric" for n in sc.NUMERIC}, **{n: "categorical" for n in sc.CATEGORICAL}},
                "encodings": {n: {**{c: i for i, c in enumerate(s["categories"])}, "__other__": len(s["categories"])}
                              for n, s in sc.CATEGORICAL.items()},
                "imputation": {n: 0.0 for n in sc.NUMERIC}}
    assert np.array_equal(encode_records(df, manifest), encode_records(text, manifest))
