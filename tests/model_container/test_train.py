"""`bin/train` as SageMaker runs it: a real process on generated data in a temporary /opt/ml."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mc_helpers import (
    EARLY_STOPPING_HP, FEATURES, METRIC_RE, TRAIN, TrainedJob, failure_of, make_rows, run_train, write_csv, write_job,
)

METRICS = ("train_auc", "validation_auc", "validation_logloss", "best_iteration", "train_rows", "validation_rows",
           "training_seconds")


def _metric(stdout: str, name: str) -> float:
    found = re.findall(METRIC_RE.format(name=name), stdout)
    assert len(found) == 1, f"expected one METRIC {name} line, got {found}"
    return float(found[0])


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_success_writes_model_and_metadata(trained: TrainedJob) -> None:
    files = sorted(p.name for p in trained.model_dir.iterdir())
    assert files == ["metadata.json", "model.ubj"]
    assert not (trained.opt_ml / "output" / "failure").exists()
    meta = trained.metadata
    assert meta["features"] == [f"f{i}" for i in range(FEATURES)]
    assert meta["featureCount"] == FEATURES
    assert meta["featureTypes"] == {f"f{i}": "numeric" for i in range(FEATURES)}
    assert meta["label"] == "label" and meta["encodings"] == {} and "manifest" not in meta
    assert meta["modelFile"] == "model.ubj" and meta["objective"] == "binary:logistic"
    assert set(meta["metrics"]) == set(METRICS)
    assert meta["metrics"]["train_rows"] == 3000 and meta["metrics"]["validation_rows"] == 800
    # every hyperparameter, typed, defaults included
    assert meta["hyperparameters"]["eta"] == 0.5 and meta["hyperparameters"]["max_depth"] == 8
    assert meta["hyperparameters"]["subsample"] == 1.0 and meta["hyperparameters"]["tree_method"] == "hist"
    assert set(meta["libraries"]) >= {"xgboost", "numpy", "pandas", "python"}
    import xgboost

    assert meta["libraries"]["xgboost"] == xgboost.__version__
    assert set(meta["featureImportance"]) == set(meta["features"])
    # the informative features carry the gain
    importance = meta["featureImportance"]
    assert importance["f0"] > importance["f5"] and importance["f1"] > importance["f4"]


def test_metric_lines_match_the_contract_regex(trained: TrainedJob) -> None:
    values = {name: _metric(trained.stdout, name) for name in METRICS}
    assert values == pytest.approx(trained.metadata["metrics"], rel=1e-9)
    assert 0.75 < values["validation_auc"] <= 1.0
    assert values["train_auc"] >= values["validation_auc"]
    assert values["train_rows"] == 3000 and values["validation_rows"] == 800
    assert values["training_seconds"] > 0


def test_validation_auc_is_the_served_models_auc(trained: TrainedJob) -> None:
    """The reported AUC is that of the saved (best-iteration) model on the validation channel."""
    import xgboost as xgb
    from sklearn.metrics import log_loss, roc_auc_score

    booster = xgb.Booster(model_file=str(trained.model_dir / "model.ubj"))
    features = trained.validation[:, 1:].astype(np.float32)
    predictions = booster.inplace_predict(features)
    metrics = trained.metadata["metrics"]
    assert booster.num_boosted_rounds() == metrics["best_iteration"] + 1
    assert roc_auc_score(trained.validation[:, 0], predictions) == pytest.approx(metrics["validation_auc"], abs=1e-6)
    assert log_loss(trained.validation[:, 0], predictions) == pytest.approx(metrics["validation_logloss"], abs=1e-5)


def test_early_stopping_ends_before_num_round(trained: TrainedJob) -> None:
    meta = trained.metadata
    best = meta["metrics"]["best_iteration"]
    patience = int(EARLY_STOPPING_HP["early_stopping_rounds"])
    assert best + 1 + patience == meta["roundsRun"], "stops exactly `patience` rounds after the best one"
    assert meta["roundsRun"] < int(EARLY_STOPPING_HP["num_round"])


def test_manifest_channel_names_the_features(tmp_path: Path, proc_env: dict, rng: np.random.Generator) -> None:
    names = ["tenure_months", "monthly_charges", "contract", "support_calls", "age", "region"]
    manifest = {
        "runId": "r1", "label": "churned", "features": names,
        "featureTypes": {n: ("categorical" if n in ("contract", "region") else "numeric") for n in names},
        "encodings": {"contract": {"month-to-month": 0, "one-year": 1, "two-year": 2, "__other__": 3},
                      "region": {"north": 0, "south": 1, "__other__": 2}},
        "format": "csv; no header; label first",
    }
    opt_ml = write_job(tmp_path, make_rows(rng, 600), make_rows(rng, 200), {"num_round": "20"}, manifest=manifest)
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 0, done.stderr
    meta = json.loads((opt_ml / "model" / "metadata.json").read_text())
    assert meta["features"] == names and meta["label"] == "churned"
    assert meta["featureTypes"]["contract"] == "categorical" and meta["featureTypes"]["age"] == "numeric"
    assert meta["encodings"] == manifest["encodings"]
    assert meta["manifest"] == manifest
    assert list(meta["featureImportance"]) == names


def test_manifest_feature_count_must_match_the_data(tmp_path: Path, proc_env: dict, rng: np.random.Generator) -> None:
    opt_ml = write_job(tmp_path, make_rows(rng, 300), make_rows(rng, 100), manifest={"features": ["a", "b"]})
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 1
    assert "rows have 6 features but the manifest lists 2" in failure_of(opt_ml)


@pytest.mark.parametrize(
    ("hyperparameters", "fragments"),
    [
        ({"max_depth": "deep"}, ["max_depth='deep' must be an integer"]),
        ({"eta": "0"}, ["eta='0' must be in (0, 1]"]),
        ({"num_round": "2.5", "subsample": "1.5"}, ["num_round='2.5' must be an integer", "subsample='1.5' must be in"]),
        ({"tree_method": "gpu_hist"}, ["tree_method='gpu_hist' must be one of hist, approx, exact"]),
    ],
)
def test_bad_hyperparameters_fail_with_exit_2(tmp_path: Path, proc_env: dict, hyperparameters: dict,
                                              fragments: list[str]) -> None:
    opt_ml = write_job(tmp_path, None, None, hyperparameters)
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 2
    failure = failure_of(opt_ml)
    assert failure.startswith("ConfigurationError: invalid hyperparameters")
    for fragment in fragments:
        assert fragment in failure
    assert not (opt_ml / "model" / "metadata.json").exists()


def test_unknown_hyperparameter_lists_the_allowed_keys(tmp_path: Path, proc_env: dict) -> None:
    opt_ml = write_job(tmp_path, None, None, {"learning_rate": "0.1", "eta": "0.2"})
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 2
    failure = failure_of(opt_ml)
    assert "unknown hyperparameter(s) learning_rate" in failure
    assert "allowed: alpha, colsample_bytree, early_stopping_metric, early_stopping_rounds, eta, gamma, lambda, " \
           "max_bin, max_depth, min_child_weight, min_rounds, num_round, scale_pos_weight, seed, subsample, " \
           "tree_method" in failure
    assert "ConfigurationError" in done.stderr


def test_tuning_jobs_reserved_keys_are_accepted(tmp_path: Path, proc_env: dict, rng: np.random.Generator) -> None:
    opt_ml = write_job(tmp_path, make_rows(rng, 300), make_rows(rng, 100),
                       {"_tuning_objective_metric": "validation:auc", "num_round": "5"})
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 0, done.stderr
    assert "_tuning_objective_metric" not in json.loads((opt_ml / "model" / "metadata.json").read_text())[
        "hyperparameters"]


def test_missing_required_channel_fails_with_exit_2(tmp_path: Path, proc_env: dict, rng: np.random.Generator) -> None:
    opt_ml = write_job(tmp_path, make_rows(rng, 100), None, channels={"train": {"ContentType": "text/csv"}})
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 2
    failure = failure_of(opt_ml)
    assert "required channel(s) validation not declared" in failure
    assert "declared: train" in failure


def test_declared_channel_without_data_fails_with_exit_2(tmp_path: Path, proc_env: dict,
                                                          rng: np.random.Generator) -> None:
    opt_ml = write_job(tmp_path, make_rows(rng, 100), None)
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 2
    assert "channel validation: declared but its data folder" in failure_of(opt_ml)


def test_wrong_content_type_fails_with_exit_2(tmp_path: Path, proc_env: dict, rng: np.random.Generator) -> None:
    channels = {"train": {"ContentType": "application/x-parquet"}, "validation": {"ContentType": "text/csv"}}
    opt_ml = write_job(tmp_path, make_rows(rng, 100), make_rows(rng, 50), channels=channels)
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 2
    assert "channel train: ContentType 'application/x-parquet' is not supported" in failure_of(opt_ml)


def test_multi_host_config_naming_a_host_not_in_the_job_fails_with_exit_2(
        tmp_path: Path, proc_env: dict, rng: np.random.Generator) -> None:
    opt_ml = write_job(tmp_path, make_rows(rng, 100), make_rows(rng, 50),
                       resources={"current_host": "algo-3", "hosts": ["algo-1", "algo-2"]})
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 2
    assert "must be distinct and include 'current_host' (algo-3)" in failure_of(opt_ml)


def test_labels_other_than_0_1_fail_with_exit_1(tmp_path: Path, proc_env: dict, rng: np.random.Generator) -> None:
    train = make_rows(rng, 200)
    train[17, 0] = 2.0
    opt_ml = write_job(tmp_path, train, make_rows(rng, 50))
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 1
    assert failure_of(opt_ml).startswith("DataError: channel train: 1 row(s) have a label other than 0 or 1")


def test_header_row_fails_with_exit_1(tmp_path: Path, proc_env: dict, rng: np.random.Generator) -> None:
    opt_ml = write_job(tmp_path, make_rows(rng, 200), make_rows(rng, 50))
    part = opt_ml / "input" / "data" / "validation" / "part-00000.csv"
    part.write_text("churned," + ",".join(f"f{i}" for i in range(FEATURES)) + "\n" + part.read_text())
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 1
    failure = failure_of(opt_ml)
    assert "part-00000.csv: not a headerless numeric CSV" in failure and "no header row" in failure


def test_single_class_validation_fails(tmp_path: Path, proc_env: dict, rng: np.random.Generator) -> None:
    validation = make_rows(rng, 50)
    validation[:, 0] = 0
    opt_ml = write_job(tmp_path, make_rows(rng, 200), validation)
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 1
    assert "all 50 labels are 0; AUC needs both classes" in failure_of(opt_ml)


def test_missing_feature_values_train_and_empty_parts_are_skipped(
    tmp_path: Path, proc_env: dict, rng: np.random.Generator
) -> None:
    """Empty feature fields are missing values (XGBoost's native handling); Spark's empty parts are ignored."""
    opt_ml = write_job(tmp_path, make_rows(rng, 400), make_rows(rng, 100), {"num_round": "5"})
    part = opt_ml / "input" / "data" / "train" / "part-00000.csv"
    lines = part.read_text().splitlines()
    lines[3] = lines[3].split(",", 2)[0] + ",," + lines[3].split(",", 2)[2]
    part.write_text("\n".join(lines) + "\n")
    (opt_ml / "input" / "data" / "train" / "part-00002.csv").write_text("")
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 0, done.stderr
    assert "skipping empty file part-00002.csv" in done.stderr
    assert json.loads((opt_ml / "model" / "metadata.json").read_text())["metrics"]["train_rows"] == 400


def test_failure_reason_is_truncated_to_sagemakers_limit(tmp_path: Path, proc_env: dict) -> None:
    opt_ml = write_job(tmp_path, None, None, {f"unknown_{i:03d}_{'x' * 20}": "1" for i in range(80)})
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 2
    failure = failure_of(opt_ml)
    assert len(failure.rstrip("\n")) == 1024 and failure.rstrip("\n").endswith("…[truncated]")


def test_runs_directly_through_its_shebang_with_the_venv_active(tmp_path: Path, proc_env: dict) -> None:
    """`train` on PATH as SageMaker calls it: /usr/bin/env python3 resolves to the active venv."""
    opt_ml = write_job(tmp_path, None, None, {"nope": "1"})
    venv_bin = str(Path(sys.executable).parent)
    env = {**proc_env, "OPT_ML_DIR": str(opt_ml), "PATH": f"{venv_bin}{os.pathsep}{proc_env.get('PATH', '')}",
           "VIRTUAL_ENV": str(Path(venv_bin).parent)}
    done = subprocess.run([str(TRAIN)], env=env, capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 2, done.stderr
    assert "unknown hyperparameter(s) nope" in failure_of(opt_ml)


def test_sigterm_mid_training_stops_promptly(tmp_path: Path, proc_env: dict, rng: np.random.Generator) -> None:
    """StopTrainingJob: SIGTERM between boosting rounds, failure reason written, non-zero exit, no model."""
    train = make_rows(rng, 20_000, noise=3.0)
    hp = {"num_round": "10000", "early_stopping_rounds": "1000", "eta": "0.001", "max_depth": "10",
          "min_child_weight": "0"}
    opt_ml = write_job(tmp_path, train, make_rows(rng, 5000, noise=3.0), hp)
    proc = subprocess.Popen([sys.executable, str(TRAIN)], env={**proc_env, "OPT_ML_DIR": str(opt_ml)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = ""
        while "[0]\t" not in seen:  # XGBoost's first evaluation line: boosting has started
            assert time.monotonic() < deadline and proc.poll() is None, seen + proc.stderr.read()
            if select.select([proc.stdout], [], [], 0.5)[0]:
                seen += proc.stdout.readline()
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        elapsed = time.monotonic() - signalled
    finally:
        proc.kill()
        proc.wait()
    assert code == 143
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"
    assert failure_of(opt_ml).startswith("Stopped: stopped by SIGTERM")
    assert not (opt_ml / "model" / "metadata.json").exists()
    assert not (opt_ml / "model" / "model.ubj").exists()


def test_csv_files_are_read_recursively_in_a_stable_order(tmp_path: Path, proc_env: dict,
                                                          rng: np.random.Generator) -> None:
    opt_ml = write_job(tmp_path, None, make_rows(rng, 100), {"num_round": "3"})
    train_dir = opt_ml / "input" / "data" / "train"
    write_csv(train_dir / "day=2" / "part-1.csv", make_rows(rng, 70))
    write_csv(train_dir / "day=1" / "part-0.csv", make_rows(rng, 30))
    (train_dir / "day=1" / ".part-0.csv.crc").write_bytes(b"\x00\x01")
    (train_dir / "README.txt").write_text("not data")
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 0, done.stderr
    assert json.loads((opt_ml / "model" / "metadata.json").read_text())["metrics"]["train_rows"] == 100
