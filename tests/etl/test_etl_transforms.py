"""The pure DataFrame steps one by one, on small frames built in the test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from etl_helpers import TINY_HEADER, TINY_SCHEMA, read_input, tiny_csv
from mlops_etl import baseline as B
from mlops_etl import transforms as X
from mlops_etl.rules import HASH_SCALE, split_hash, split_of
from mlops_etl.schema import parse_schema

pytestmark = pytest.mark.spark


def test_split_in_spark_is_the_python_split(spark):
    schema = parse_schema(TINY_SCHEMA)
    ids = [f"id-{i}" for i in range(400)] + ["ü-ñ", "with,comma"]
    df = spark.createDataFrame([(i, n + 1) for n, i in enumerate(ids)], [X.ID, X.ROW])
    rows = X.assign_split(df, schema, seed=123).collect()
    assert [r[X.HASH] for r in rows] == [split_hash(123, i) for i in ids]
    assert [r[X.SPLIT] for r in rows] == [split_of(123, i, 0.5, 0.25) for i in ids]
    shares = {s: sum(r[X.SPLIT] == s for r in rows) / len(rows) for s in ("train", "validation", "test")}
    assert shares == pytest.approx({"train": 0.5, "validation": 0.25, "test": 0.25}, abs=0.07)
    assert all(0 <= r[X.HASH] < HASH_SCALE for r in rows)


def test_split_without_id_hashes_the_row_number(spark):
    doc = json.loads(json.dumps(TINY_SCHEMA))
    del doc["id"]
    df = spark.createDataFrame([(None, n) for n in range(1, 51)], f"{X.ID} string, {X.ROW} long")
    rows = X.assign_split(df, parse_schema(doc), seed=5).collect()
    assert [r[X.SPLIT] for r in rows] == [split_of(5, str(n), 0.5, 0.25) for n in range(1, 51)]


def test_mark_duplicates_keeps_the_lowest_row_number_and_keeps_existing_reasons(spark):
    schema = parse_schema(TINY_SCHEMA)
    df = spark.createDataFrame([("A", 3, None), ("A", 1, None), ("B", 2, "non_numeric"), ("B", 5, None),
                                ("A", 4, "null_target"), (None, 6, "missing_id"), (None, 7, "missing_id")],
                               f"{X.ID} string, {X.ROW} long, {X.REASON} string")
    rows = {r[X.ROW]: r[X.REASON] for r in X.mark_duplicates(df, schema).collect()}
    assert rows == {1: None, 2: "non_numeric", 3: "duplicate_id", 4: "null_target", 5: "duplicate_id",
                    6: "missing_id", 7: "missing_id"}


def test_impute_fills_only_missing_values(spark):
    df = spark.createDataFrame([(1.0, None, "k"), (None, 2.0, None)], "a double, b double, s string")
    rows = X.impute(df, {"a": 9.5, "b": -1.0}).collect()
    assert [tuple(r) for r in rows] == [(1.0, -1.0, "k"), (9.5, 2.0, None)]
    assert X.impute(df, {"a": 9.5}).columns == ["a", "b", "s"]


def test_summarize_counts_reasons_splits_classes_and_train_medians(spark, tmp_path):
    schema = parse_schema(TINY_SCHEMA)
    path = tmp_path / "in.csv"
    path.write_text(tiny_csv(["Z1,abc,0,x,p,yes", "Z2,5,0,w,p,no", "Z3,5,0,x,p,"]))
    columns, raw = read_input(spark, path, schema, tmp_path / "records.jsonl")
    prepared = X.prepare(raw, schema, columns, seed=7).cache()
    s = X.summarize(prepared, schema)
    rows = prepared.collect()
    valid = [r for r in rows if r[X.REASON] is None]
    train = [r for r in valid if r[X.SPLIT] == "train"]
    assert (s["rows"], s["max_row"]) == (63, 63)
    assert (s["reason:non_numeric"], s["reason:null_target"], s["reason:out_of_range"]) == (1, 1, 0)
    assert sum(s[f"split:{k}"] for k in ("train", "validation", "test")) == len(valid) == 61
    assert s["split:train"] == len(train)
    assert s["positive:train"] == sum(r[X.LABEL] for r in train)
    assert s["other:c"] == 1 and s["other:d"] == 0
    # Medians and ranges exactly: they are input values, or the mean of two, from +, -, * and / alone, which
    # IEEE 754 rounds the same way on every CPU (no exp/log, no long sums whose order a SIMD path could change).
    assert s["median:0"] == np.median([r["_x0"] for r in train])
    assert s["median:1"] == np.median([r["_x1"] for r in train if r["_x1"] is not None])
    assert s["present:1"] == sum(r["_x1"] is not None for r in train)
    assert (s["min:2"], s["max:2"]) == (min(r["_x2"] for r in train), max(r["_x2"] for r in train))
    prepared.unpersist()


def test_baseline_aggregates_match_numpy_and_keep_evenly_spaced_sorted_values(spark):
    rng = np.random.default_rng(3)
    n = 5000
    x = np.round(rng.gamma(2.0, 10.0, n), 2)
    codes = rng.integers(0, 4, n)
    hashes = rng.integers(0, 2 ** 52, n)
    df = spark.createDataFrame([(float(a), int(b), int(h)) for a, b, h in zip(x, codes, hashes)],
                               f"_x0 double, _x1 int, {X.HASH} long")
    aggs = X.baseline_aggregates(df, ["_x0", "_x1"], [(x.min(), x.max()), (0.0, 3.0)], n)
    assert B.sketch_levels(n) == 2
    for agg, values in zip(aggs, (x, codes.astype(float))):
        assert agg["count"] == n
        # Spark adds row by row, numpy pairwise, so the last bits differ: for 5,000
        # non-negative terms each sum is within n * 2^-53 = 5.6e-13 relative of the truth, so they agree within
        # 1.1e-12; 1e-11 leaves a margin. Any non-zero value lost or counted twice moves it by >= 3.6e-6 here.
        assert agg["sum"] == pytest.approx(values.sum(), rel=1e-11)
        # Spark's one-pass update vs numpy's two passes: both within ~1e-12 when the mean is a few standard
        # deviations from 0, as here; 1e-9 still tells population from sample std (1e-4 apart at n = 5,000).
        assert agg["std_dev"] == pytest.approx(values.std(), rel=1e-9)
        lo, hi = values.min(), values.max()
        expected = np.bincount(np.clip(np.floor((values - lo) / ((hi - lo) / 10)), 0, 9).astype(int), minlength=10)
        # Counts exactly: bucket edges come from -, / and floor, which IEEE 754 gives identically on every CPU.
        assert agg["bucket_counts"] == expected.tolist()
        # Every 4th sorted value from the 2nd on: each item stands for the 4 rows around it.
        assert agg["sketch"] == sorted(values.tolist())[2::4]
        # So the sketch's CDF stays within half an item of the data's.
        items = np.array(agg["sketch"])
        for q in np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9]):
            assert abs((items <= q).mean() - (values <= q).mean()) <= 2 / n + 1 / len(items)
    stats = B.statistics_json(aggs, [False, True], n)
    sketch = stats["features"][1]["numerical_statistics"]["distribution"]["kll"]["sketch"]
    assert sketch["data"][:2] == [[], []] and all(isinstance(v, int) for v in sketch["data"][2])


def test_constant_column_gets_one_bucket(spark):
    df = spark.createDataFrame([(4.0, i) for i in range(10)], f"_x0 double, {X.HASH} long")
    agg = X.baseline_aggregates(df, ["_x0"], [(4.0, 4.0)], 10)[0]
    assert B.buckets(4.0, 4.0, agg["bucket_counts"]) == [{"lower_bound": 4.0, "upper_bound": 4.0, "count": 10}]
    assert agg["std_dev"] == 0.0  # exact: every deviation from the mean of equal values is exactly 0


def test_sketch_levels_keep_at_most_k_items():
    assert [B.sketch_levels(n) for n in (0, 1, 2048, 2049, 4097, 4098, 1_000_000)] == [0, 0, 0, 1, 1, 2, 9]
    assert all((n >> B.sketch_levels(n)) <= B.KLL_K for n in (1, 2049, 10 ** 7))


def test_read_records_numbers_data_records_from_one_and_keeps_where_they_are(spark, tmp_path):
    schema = parse_schema(TINY_SCHEMA)
    path = tmp_path / "in.csv"
    path.write_text(TINY_HEADER + '\nA,1,0,x,p,yes\n\nB,2,0,x,"p\nq",no\nC,3,0,x,p,no\n')
    columns, raw = read_input(spark, path, schema, tmp_path / "records.jsonl")
    rows = raw.orderBy(X.ROW).collect()
    assert [(r[X.ROW], r["_h0"], r[X.LINE], r[X.FILE]) for r in rows] == [(1, "A", 2, "in.csv"), (2, "B", 4, "in.csv"),
                                                                          (3, "C", 6, "in.csv")]
    assert rows[1]["_h4"] == "p\nq" and rows[1][X.OFFSET] == len(TINY_HEADER) + 16  # header, LF, "A,1,0,x,p,yes", LF, blank line
    assert all(r[X.PROBLEM] is None for r in rows)


NUMBER_CASES = ["12", " 7 ", "+3.", ".5", "-0", "007", "1e3", "1E-2", "2.5e+1", "1e", "e5", ".", "+-1", "1..2",
                "1d", "1f", "0x10", "NaN", "Infinity", "inf", "1_000", "1e999", "12,5", "1 2", "٣"]


def test_spark_and_encode_records_agree_on_what_is_a_number(classify):
    import pandas as pd

    from mlops_etl.encode_records import encode_records

    text = TINY_HEADER + "\n" + "".join(f'R{i},"{v}",0,x,p,yes\n' for i, v in enumerate(NUMBER_CASES))
    rows = classify(text, schema={**TINY_SCHEMA, "numeric": [{"name": "a"}, {"name": "b"}]})
    manifest = {"features": ["a"], "featureTypes": {"a": "numeric"}, "encodings": {}, "imputation": {"a": 0.0}}
    for value, row in zip(NUMBER_CASES, rows):
        try:
            python = encode_records(pd.DataFrame({"a": [value]}), manifest)[0, 0]
        except ValueError:
            python = "non_numeric"
        spark_value = "non_numeric" if row["_reason"] == "non_numeric" else row["_x0"]
        assert spark_value == python, value
    assert sum(row["_reason"] == "non_numeric" for row in rows) == 16


def test_large_splits_take_the_sketch_from_quantile_summaries_within_a_quarter_item(spark, monkeypatch):
    # Above EXACT_SKETCH_MAX_ROWS the driver does not sort: percentile_approx gives the same ranks, approximately.
    rng = np.random.default_rng(5)
    n = 5000
    x = np.round(rng.gamma(2.0, 10.0, n), 2)
    df = spark.createDataFrame([(float(a), i) for i, a in enumerate(x)], f"_x0 double, {X.HASH} long")
    monkeypatch.setattr(X, "EXACT_SKETCH_MAX_ROWS", 0)
    items = X.baseline_aggregates(df, ["_x0"], [(x.min(), x.max())], n)[0]["sketch"]
    exact = sorted(x.tolist())[2::4]
    assert len(items) == len(exact)
    # Rank error at most n / accuracy = 0.5 rows: each item lies between its neighbours in sorted order.
    ordered = np.sort(x)
    for item, rank in zip(items, range(2, n, 4)):
        assert ordered[max(rank - 1, 0)] <= item <= ordered[min(rank + 1, n - 1)]
