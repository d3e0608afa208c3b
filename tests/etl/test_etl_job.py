"""The whole job on the committed sample: outputs per contract, determinism, accounting, baseline format."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthetic_churn as sc
from drift_checker import effective_config
from etl_helpers import REPO, SAMPLE_CSV, read_split
from mlops_etl.baseline import KLL_C, KLL_K
from mlops_etl.inputs import inspect_input
from mlops_etl.job import JobOptions, run_job
from mlops_etl.rules import REASONS, split_hash

pytestmark = pytest.mark.spark

CONTRACT_KEYS = {"runId", "createdAt", "input", "schema", "rowsIn", "rowsOut", "rowsQuarantined", "quarantineByReason",
                 "otherCategoryCounts", "label", "features", "featureTypes", "encodings", "imputation", "splits",
                 "splitBy", "seed", "format", "baseline"}


@pytest.fixture(scope="module")
def clean_data(tmp_path_factory):
    """1,200 clean generated rows (no duplicates), and the same rows shuffled."""
    folder = tmp_path_factory.mktemp("clean")
    df = sc.generate(1200, seed=21)
    sc.write_csv(df, folder / "clean.csv")
    sc.write_csv(df.sample(frac=1.0, random_state=5), folder / "shuffled.csv")
    return folder


def test_outputs_are_exactly_the_contract_layout(sample_run):
    root = Path(sample_run.prefix)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == ["baseline/constraints.json", "baseline/statistics.json", "manifest.json",
                     "quarantine/part-00000.csv", "test/part-00000.csv", "train/part-00000.csv",
                     "validation/part-00000.csv"]
    assert sorted(p.name for p in root.parent.iterdir()) == ["sample"]


def test_manifest_has_the_contract_fields(sample_run, churn_schema):
    m = json.loads(Path(sample_run.prefix, "manifest.json").read_text())
    assert CONTRACT_KEYS <= set(m) and m == sample_run.manifest
    assert m["input"] == {"uri": str(SAMPLE_CSV), "sha256": hashlib.sha256(SAMPLE_CSV.read_bytes()).hexdigest()}
    assert m["schema"] == json.loads((REPO / "data" / "churn.schema.json").read_text())
    assert m["label"] == "churned" and m["features"] == churn_schema.features
    assert m["format"] == "csv; no header; label first" and m["seed"] == 42
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m["createdAt"])
    assert m["encodings"]["contract"] == {"month-to-month": 0, "one-year": 1, "two-year": 2, "__other__": 3}
    assert set(m["imputation"]) == {f.name for f in churn_schema.numeric}
    assert list(m["quarantineByReason"]) == list(REASONS)
    assert m["baselineColumns"][0] == {"name": "_c0", "feature": "tenure_months", "type": "numeric"}
    assert m["baselineColumns"][6] == {"name": "_c6", "feature": "contract", "type": "categorical"}
    assert m["baseline"] == {"statistics": "baseline/statistics.json", "constraints": "baseline/constraints.json"}


def test_rows_in_equal_rows_out_plus_quarantined(sample_run):
    m = sample_run.manifest
    root = Path(sample_run.prefix)
    assert m["rowsIn"] == 2000 == m["rowsOut"] + m["rowsQuarantined"]
    assert m["rowsOut"] == sum(m["splits"].values())
    for split, count in m["splits"].items():
        assert len(read_split(root, split)) == count
    quarantined = list(csv.DictReader(io.StringIO((root / "quarantine" / "part-00000.csv").read_text())))
    assert len(quarantined) == m["rowsQuarantined"] > 0
    assert Counter(r["_reason"] for r in quarantined) == {k: v for k, v in m["quarantineByReason"].items() if v}
    raw = pd.read_csv(SAMPLE_CSV, dtype=str, keep_default_na=False)
    for r in quarantined:  # every quarantined row is the input row with that number, as text
        original = raw.iloc[int(r["_row_number"]) - 1]
        assert all(r[c] == original[c] for c in raw.columns)
    assert sum(m["otherCategoryCounts"].values()) > 0  # the sample's unknown categories were kept


def test_split_rows_are_label_first_numbers_with_integer_codes(sample_run):
    m = sample_run.manifest
    train = np.array(read_split(sample_run.prefix, "train"))
    assert train.shape == (m["splits"]["train"], 1 + len(m["features"]))
    assert set(np.unique(train[:, 0])) == {0.0, 1.0}
    for j, name in enumerate(m["features"], start=1):
        if m["featureTypes"][name] == "categorical":
            codes = train[:, j]
            assert set(np.unique(codes)) <= set(range(len(m["encodings"][name])))
    first = (Path(sample_run.prefix) / "train" / "part-00000.csv").read_text().splitlines()[0].split(",")
    assert re.fullmatch(r"[01]", first[0]) and "." in first[1] and re.fullmatch(r"\d+", first[7])
    split_shares = np.array([m["splits"][s] for s in ("train", "validation", "test")]) / m["rowsOut"]
    assert np.allclose(split_shares, [0.7, 0.15, 0.15], atol=0.04)


def test_baseline_statistics_format_and_values_match_the_train_split(sample_run):
    m = sample_run.manifest
    stats = json.loads(Path(sample_run.prefix, "baseline", "statistics.json").read_text())
    train = np.array(read_split(sample_run.prefix, "train"))[:, 1:]
    n = m["splits"]["train"]
    assert stats["version"] == 0 and stats["dataset"] == {"item_count": n}
    assert [f["name"] for f in stats["features"]] == [f"_c{j}" for j in range(len(m["features"]))]
    for j, (feature, name) in enumerate(zip(stats["features"], m["features"])):
        x = train[:, j]
        assert feature["inferred_type"] == ("Integral" if m["featureTypes"][name] == "categorical" else "Fractional")
        num = feature["numerical_statistics"]
        assert set(num) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
        assert num["common"] == {"num_present": n, "num_missing": 0}
        # Spark sums row by row, numpy pairwise, so the last bits differ: for ~1,400 non-negative features each
        # sum is within n * 2^-53 = 1.6e-13 relative of the truth, so 1e-12 holds on any CPU; a non-zero value
        # lost or counted twice moves a sum by over 7e-6 relative (the counts above are exact). std_dev: one-pass vs two-pass, ~1e-12 apart, and
        # 1e-9 still separates population from sample std (3.6e-4 apart).
        assert num["sum"] == pytest.approx(x.sum(), rel=1e-12)
        assert num["mean"] == pytest.approx(x.mean(), rel=1e-12)
        assert num["std_dev"] == pytest.approx(x.std(), rel=1e-9)
        # Exact: min, max and the items below are values of the data, copied, not computed; the bucket counts
        # come from -, / and floor, which IEEE 754 gives identically on every CPU.
        assert (num["min"], num["max"]) == (x.min(), x.max())
        kll = num["distribution"]["kll"]
        width = (x.max() - x.min()) / 10
        expected = np.bincount(np.clip(np.floor((x - x.min()) / width), 0, 9).astype(int), minlength=10)
        assert [b["count"] for b in kll["buckets"]] == expected.tolist()
        assert kll["buckets"][0]["lower_bound"] == x.min() and kll["buckets"][-1]["upper_bound"] == x.max()
        assert kll["sketch"]["parameters"] == {"c": KLL_C, "k": float(KLL_K)}
        items = kll["sketch"]["data"][-1]
        assert items == sorted(items) and set(items) <= set(x.tolist())
        assert len(kll["sketch"]["data"]) == 1 and len(items) == n  # n < k: level 0 holds every value


def test_baseline_constraints_format(sample_run):
    m = sample_run.manifest
    stats = json.loads(Path(sample_run.prefix, "baseline", "statistics.json").read_text())
    cons = json.loads(Path(sample_run.prefix, "baseline", "constraints.json").read_text())
    # The file states every setting the drift checker applies: none is left to the checker's own defaults.
    assert cons["version"] == 0 and effective_config(cons) == cons["monitoring_config"]
    assert set(cons["monitoring_config"]["distribution_constraints"]) == {
        "perform_comparison", "comparison_threshold", "comparison_method", "categorical_comparison_threshold",
        "categorical_drift_method"}
    for c, s in zip(cons["features"], stats["features"]):
        assert set(c) == {"name", "inferred_type", "completeness", "num_constraints"}
        assert (c["name"], c["inferred_type"], c["completeness"]) == (s["name"], s["inferred_type"], 1.0)
        assert c["num_constraints"] == {"is_non_negative": s["numerical_statistics"]["min"] >= 0}
    assert len(cons["features"]) == len(m["features"])


def test_same_input_and_seed_give_byte_identical_outputs(spark, churn_schema, sample_run, tmp_path):
    # Byte for byte on purpose, statistics.json included: the same machine rerunning the same job must repeat
    # itself exactly (determinism), which is not a comparison of two CPUs' rounding.
    again = run_job(spark, churn_schema, inspect_input(str(SAMPLE_CSV)), JobOptions(str(SAMPLE_CSV), str(tmp_path), "again"))
    for part in ("train", "validation", "test", "quarantine"):
        a = Path(sample_run.prefix, part, "part-00000.csv").read_bytes()
        assert a == Path(again.prefix, part, "part-00000.csv").read_bytes(), part
    assert Path(sample_run.prefix, "baseline", "statistics.json").read_bytes() == \
        Path(again.prefix, "baseline", "statistics.json").read_bytes()
    strip = lambda m: {k: v for k, v in m.items() if k not in ("runId", "createdAt")}  # noqa: E731
    assert strip(again.manifest) == strip(sample_run.manifest)


def test_split_membership_follows_the_id_not_the_row_order(spark, churn_schema, clean_data, tmp_path):
    runs = {}
    for name in ("clean", "shuffled"):
        path = clean_data / f"{name}.csv"
        runs[name] = run_job(spark, churn_schema, inspect_input(str(path)), JobOptions(str(path), str(tmp_path), name))
    assert runs["clean"].manifest["input"]["sha256"] != runs["shuffled"].manifest["input"]["sha256"]
    for split in ("train", "validation", "test"):
        # Rows are ordered by id hash, so even the bytes agree once the same ids land in the same split.
        assert Path(runs["clean"].prefix, split, "part-00000.csv").read_bytes() == \
            Path(runs["shuffled"].prefix, split, "part-00000.csv").read_bytes(), split
    other = run_job(spark, churn_schema, inspect_input(str(clean_data / "clean.csv")),
                    JobOptions(str(clean_data / "clean.csv"), str(tmp_path), "seed9", seed=9))
    assert other.manifest["seed"] == 9
    assert read_split(other.prefix, "train") != read_split(runs["clean"].prefix, "train")


def test_split_is_the_documented_hash_of_the_id(spark, churn_schema, clean_data, tmp_path):
    path = clean_data / "clean.csv"
    result = run_job(spark, churn_schema, inspect_input(str(path)), JobOptions(str(path), str(tmp_path), "h"))
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    u = np.array([split_hash(42, i) for i in raw["customer_id"]]) / 2.0 ** 52
    expected = {"train": int((u < 0.7).sum()), "validation": int(((u >= 0.7) & (u < 0.85)).sum()),
                "test": int((u >= 0.85).sum())}
    assert result.manifest["splits"] == expected


def test_schema_without_id_splits_by_row_number(spark, churn_schema, clean_data, tmp_path):
    doc = json.loads(json.dumps(churn_schema.raw))
    del doc["id"]
    from mlops_etl.schema import parse_schema
    path = clean_data / "clean.csv"
    result = run_job(spark, parse_schema(doc), inspect_input(str(path)), JobOptions(str(path), str(tmp_path), "noid"))
    u = np.array([split_hash(42, str(i)) for i in range(1, 1201)]) / 2.0 ** 52
    assert result.manifest["splits"]["train"] == int((u < 0.7).sum())
    assert result.manifest["rowsIn"] == 1200 == result.manifest["rowsOut"]


@pytest.mark.subprocess
def test_entrypoint_runs_as_a_program(tmp_path):
    cmd = [sys.executable, str(REPO / "etl" / "glue_job.py"), "--input", "data/churn-sample.csv",
           "--schema", "data/churn.schema.json", "--output", str(tmp_path), "--run-id", "cli"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ETL_SPARK_DRIVER_MEMORY": "1g"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(rf"etl: run cli ok: rows in=2000 out=\d+ quarantined=\d+ \(\d+\.\d\d%\) train=\d+ "
                        rf"validation=\d+ test=\d+ time=\d+\.\ds -> {re.escape(str(tmp_path))}/cli", lines[0])
    assert (tmp_path / "cli" / "manifest.json").exists()


def test_train_split_is_written_as_the_configured_number_of_shards(spark, churn_schema, clean_data, tmp_path):
    """Distributed training reads one train part file per instance (ShardedByS3Key)."""
    path = clean_data / "clean.csv"
    one = run_job(spark, churn_schema, inspect_input(str(path)), JobOptions(str(path), str(tmp_path), "one"))
    three = run_job(spark, churn_schema, inspect_input(str(path)),
                    JobOptions(str(path), str(tmp_path), "three", train_shards=3))
    assert one.manifest["trainShards"] == 1 and three.manifest["trainShards"] == 3
    parts = sorted(p.name for p in Path(three.prefix, "train").iterdir())
    assert parts == ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    shards = [Path(three.prefix, "train", p).read_text().splitlines() for p in parts]
    whole = Path(one.prefix, "train", "part-00000.csv").read_text().splitlines()
    # every train row in exactly one shard, each shard a random third, in the whole split's order
    assert sorted(line for shard in shards for line in shard) == sorted(whole)
    assert all(abs(len(shard) - len(whole) / 3) < 0.2 * len(whole) / 3 for shard in shards), [len(s) for s in shards]
    for shard in shards:
        positions = [whole.index(line) for line in shard]
        assert positions == sorted(positions)
    # validation and test stay one file each, unchanged
    for split in ("validation", "test"):
        assert Path(three.prefix, split, "part-00000.csv").read_bytes() == \
            Path(one.prefix, split, "part-00000.csv").read_bytes()
        assert sorted(p.name for p in Path(three.prefix, split).iterdir()) == ["part-00000.csv"]
    assert three.manifest["splits"] == one.manifest["splits"]


def test_more_train_shards_than_rows_leaves_empty_shard_files(run_etl):
    from etl_helpers import tiny_csv

    result = run_etl(tiny_csv(n=60), train_shards=200, min_rows=1)
    parts = sorted(Path(result.prefix, "train").iterdir())
    assert len(parts) == 200
    rows = sum(len(p.read_text().splitlines()) for p in parts)
    assert rows == result.manifest["splits"]["train"] and any(p.stat().st_size == 0 for p in parts)


@pytest.mark.parametrize("shards", [0, 1001])
def test_train_shards_out_of_range_are_refused(run_etl, shards):
    from etl_helpers import tiny_csv

    with pytest.raises(ValueError, match=f"--train-shards must be between 1 and 1000, got {shards}"):
        run_etl(tiny_csv(), train_shards=shards)
