"""The monitoring job's container entrypoint under a fake /opt/ml layout (Model Monitor's BYOC contract)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from drift_checker import CapturedRequest, write_capture
from drift_checker.processing_job import (DRIFT_DETECTED_METRIC, INSUFFICIENT_DATA_METRIC, METRICS_FILE,
                                          WINDOW_REQUESTS_METRIC, main)
from monitor_fixtures import WindowSpec, draw_rows

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 5, 1, 13, 0, tzinfo=timezone.utc)


@pytest.fixture
def ml_root(tmp_path, baseline) -> Path:
    """/opt/ml as Model Monitor lays it out: baseline inputs, the captured traffic, an output folder."""
    root = tmp_path / "opt" / "ml"
    stats = root / "processing" / "baseline" / "stats"
    cons = root / "processing" / "baseline" / "constraints"
    stats.mkdir(parents=True)
    cons.mkdir(parents=True)
    (stats / "statistics.json").write_text(json.dumps(baseline.statistics))
    (cons / "constraints.json").write_text(json.dumps(baseline.constraints))
    (root / "processing" / "input" / "endpoint").mkdir(parents=True)
    return root


def capture(ml_root: Path, rows: list[list[str]], start: datetime = T0) -> None:
    requests = [CapturedRequest(",".join(r), '{"predictions": [0.2]}', start + timedelta(seconds=3 * i), f"e{i}")
                for i, r in enumerate(rows)]
    write_capture(requests, ml_root / "processing" / "input" / "endpoint", "churn-prod", variant_name="primary")


def env(ml_root: Path, **extra: str) -> dict[str, str]:
    values = {
        "dataset_format": '{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput","endpointOutput"]}}',
        "dataset_source": str(ml_root / "processing" / "input" / "endpoint"),
        "output_path": str(ml_root / "processing" / "output"),
        "baseline_statistics": str(ml_root / "processing" / "baseline" / "stats" / "statistics.json"),
        "baseline_constraints": str(ml_root / "processing" / "baseline" / "constraints" / "constraints.json"),
        "start_time": "2024-05-01T13:00:00Z",
        "end_time": "2024-05-01T14:00:00Z",
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": "churn-prod",
        "sagemaker_monitoring_schedule_name": "mlops-prod-data-quality",
        "drift_categorical_columns": "_c2,_c3",
    }
    values.update(extra)
    return {k: v for k, v in values.items() if v is not None}


def metrics(ml_root: Path) -> dict[str, dict]:
    lines = (ml_root / METRICS_FILE).read_text().splitlines()
    return {r["MetricName"]: r for r in map(json.loads, lines)}


def message(ml_root: Path) -> str:
    return (ml_root / "output" / "message").read_text()


def test_a_drifted_window_completes_with_violations_files_and_metrics(ml_root):
    capture(ml_root, draw_rows(1000, seed=7, spec=WindowSpec(tenure_shift=0.5)))
    assert main(env(ml_root), ml_root) == 0
    out = ml_root / "processing" / "output"
    violations = json.loads((out / "constraint_violations.json").read_text())["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [("_c0", "baseline_drift_check")]
    assert json.loads((out / "statistics.json").read_text())["dataset"]["item_count"] == 1000
    assert message(ml_root).startswith("CompletedWithViolations: 1000 requests, drift verdict: drift; 1 violation(s)")
    found = metrics(ml_root)
    assert found[DRIFT_DETECTED_METRIC]["Value"] == 1.0
    assert found[INSUFFICIENT_DATA_METRIC]["Value"] == 0.0
    assert found[WINDOW_REQUESTS_METRIC] == {
        "MetricName": "drift_window_requests", "Timestamp": "2024-05-01T14:00:00Z", "Value": 1000.0, "Unit": "Count",
        "Dimensions": [{"Name": "Endpoint", "Value": "churn-prod"},
                       {"Name": "MonitoringSchedule", "Value": "mlops-prod-data-quality"}]}
    assert 0.15 < found["feature_baseline_drift__c0"]["Value"] < 0.25
    assert found["feature_non_null__c1"]["Value"] == 1.0
    assert {f"feature_baseline_drift__c{i}" for i in range(4)} <= set(found)


def test_a_clean_window_completes_without_violations_and_says_no_drift(ml_root):
    capture(ml_root, draw_rows(1000, seed=7))
    assert main(env(ml_root), ml_root) == 0
    assert message(ml_root) == "Completed: 1000 requests, drift verdict: no drift; no violations"
    assert metrics(ml_root)[DRIFT_DETECTED_METRIC]["Value"] == 0.0


def test_requests_outside_the_hour_are_ignored(ml_root):
    capture(ml_root, draw_rows(1000, seed=7))
    capture(ml_root, draw_rows(1000, seed=8, spec=WindowSpec(tenure_shift=2.0)), start=T0 + timedelta(hours=1))
    assert main(env(ml_root), ml_root) == 0
    assert metrics(ml_root)[DRIFT_DETECTED_METRIC]["Value"] == 0.0
    assert metrics(ml_root)[WINDOW_REQUESTS_METRIC]["Value"] == 1000.0


def test_a_small_window_is_insufficient_data_and_publishes_no_drift_verdict(ml_root):
    capture(ml_root, draw_rows(99, seed=7, spec=WindowSpec(tenure_shift=3.0)))
    assert main(env(ml_root), ml_root) == 0
    found = metrics(ml_root)
    assert DRIFT_DETECTED_METRIC not in found  # the alarm gets no data point, never a breach
    assert found[INSUFFICIENT_DATA_METRIC]["Value"] == 1.0
    assert "drift verdict: insufficient data" in message(ml_root)
    violations = json.loads((ml_root / "processing" / "output" / "constraint_violations.json").read_text())
    assert violations == {"violations": []}


def test_the_minimum_window_is_configurable(ml_root):
    capture(ml_root, draw_rows(99, seed=7, spec=WindowSpec(tenure_shift=3.0)))
    assert main(env(ml_root, drift_min_window="50"), ml_root) == 0
    assert metrics(ml_root)[DRIFT_DETECTED_METRIC]["Value"] == 1.0


def test_an_hour_without_traffic_completes_as_insufficient_data(ml_root):
    assert main(env(ml_root), ml_root) == 0
    assert message(ml_root).startswith("Completed: no captured requests between 2024-05-01 13:00:00+00:00")
    assert metrics(ml_root)[WINDOW_REQUESTS_METRIC]["Value"] == 0.0
    assert DRIFT_DETECTED_METRIC not in metrics(ml_root)


def test_no_metrics_file_unless_publishing_is_enabled(ml_root):
    capture(ml_root, draw_rows(200, seed=7))
    assert main(env(ml_root, publish_cloudwatch_metrics="Disabled"), ml_root) == 0
    assert not (ml_root / METRICS_FILE).exists()


def test_categorical_columns_come_from_the_job_definition(ml_root):
    # Without the list, _c2 (Integral counts) is inferred categorical; listing none makes every column continuous.
    capture(ml_root, draw_rows(1000, seed=7))
    assert main(env(ml_root, drift_categorical_columns=""), ml_root) == 0
    out = json.loads((ml_root / "processing" / "output" / "constraint_violations.json").read_text())
    assert out == {"violations": []}  # still no false alarm, now with KS on _c2


def test_the_processing_job_config_file_supplies_the_environment(ml_root):
    capture(ml_root, draw_rows(1000, seed=7, spec=WindowSpec(tenure_shift=0.5)))
    config = ml_root / "config" / "processingjobconfig.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"Environment": env(ml_root)}))
    assert main({}, ml_root) == 0
    assert metrics(ml_root)[DRIFT_DETECTED_METRIC]["Value"] == 1.0


@pytest.mark.parametrize("overrides, expected", [
    ({"dataset_source": None}, "environment variable(s) dataset_source not set"),
    ({"drift_alpha": "often"}, "drift_alpha='often' is not a number"),
    ({"drift_alpha": "0"}, "strictly between 0 and 1"),
    ({"drift_min_window": "-3"}, "drift_min_window='-3' is not a whole number"),
    ({"drift_categorical_columns": "contract"}, "drift_categorical_columns lists ['contract']"),
    ({"end_time": "yesterday"}, "end_time='yesterday' is not an ISO-8601 time"),
    ({"start_time": "2024-05-01T15:00:00Z"}, "is not before end_time"),
    ({"baseline_constraints": "/nowhere/constraints.json"},
     "baseline constraints (baseline_constraints) not found: /nowhere/constraints.json"),
])
def test_unusable_input_fails_the_execution_with_the_reason_as_exit_message(ml_root, capsys, overrides, expected):
    capture(ml_root, draw_rows(200, seed=7))
    assert main(env(ml_root, **overrides), ml_root) == 1
    assert expected in message(ml_root)
    assert message(ml_root).startswith("drift monitor: ")
    assert expected in capsys.readouterr().err
    assert not (ml_root / METRICS_FILE).exists()
    assert not (ml_root / "processing" / "output" / "constraint_violations.json").exists()


def test_mismatched_baseline_files_fail_naming_both(ml_root):
    stats_path = ml_root / "processing" / "baseline" / "stats" / "statistics.json"
    stats = json.loads(stats_path.read_text())
    stats["features"] = stats["features"][:2]
    stats_path.write_text(json.dumps(stats))
    assert main(env(ml_root), ml_root) == 1
    assert "statistics features ['_c0', '_c1']" in message(ml_root)


def test_an_unexpected_error_still_fails_with_a_message(ml_root, monkeypatch):
    import drift_checker.processing_job as job

    def boom(_settings):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(job, "run_job", boom)
    assert main(env(ml_root), ml_root) == 1
    assert message(ml_root) == "drift monitor: internal error RuntimeError: disk on fire"


def test_the_exit_message_is_cut_to_one_kilobyte(ml_root):
    from drift_checker.processing_job import write_message
    write_message(ml_root, "é" * 2000)
    assert len(message(ml_root).encode("utf-8")) <= 1024


def test_the_image_entrypoint_runs_the_job(ml_root):
    capture(ml_root, draw_rows(1000, seed=7, spec=WindowSpec(tenure_shift=0.5)))
    # bin/monitor finds the package next to bin/ in the image, or monitor/ in a clone (this run).
    proc = subprocess.run([sys.executable, str(REPO / "model-container" / "bin" / "monitor")],
                          env={**os.environ, **env(ml_root), "DRIFT_MONITOR_ML_ROOT": str(ml_root)},
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "drift verdict: drift" in proc.stdout
    assert (ml_root / "processing" / "output" / "constraint_violations.json").exists()
    assert message(ml_root).startswith("CompletedWithViolations:")
    assert metrics(ml_root)[DRIFT_DETECTED_METRIC]["Value"] == 1.0
    assert os.access(REPO / "model-container" / "bin" / "monitor", os.X_OK)
