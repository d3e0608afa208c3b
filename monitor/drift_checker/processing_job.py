"""The monitoring job's container entrypoint: Model Monitor's bring-your-own-container contract around the checks.

SageMaker Model Monitor runs a scheduled monitoring execution as a processing job and, for a container of our
own, describes the execution in environment variables (AWS developer guide, "Container Contract Inputs",
model-monitor-byoc-contract-inputs; also in the ``Environment`` map of the job's processingjobconfig.json):

- ``dataset_source``: local folder of the captured traffic, ``/{endpoint}/{variant}/yyyy/mm/dd/hh`` below it;
  "we sometimes download more than what is specified by the start and end times", so requests are selected
  by their ``inferenceTime`` within [``start_time``, ``end_time``);
- ``output_path``: local folder uploaded to the job definition's S3 output;
- ``baseline_statistics`` / ``baseline_constraints``: the baseline files (the processing inputs Model Monitor adds
  under /opt/ml/processing/baseline/; defaults below are the paths observed in its jobs);
- ``publish_cloudwatch_metrics``: ``Enabled`` for scheduled executions; the container then writes metrics to
  ``/opt/ml/output/metrics/cloudwatch`` ("CloudWatch Metrics for Bring Your Own Containers": PutMetricData-shaped
  records with MetricName, Timestamp, Dimensions Endpoint and MonitoringSchedule, Value), one JSON record per line;
- ``sagemaker_endpoint_name`` / ``sagemaker_monitoring_schedule_name``: the metrics' dimensions.

Our job definition adds ``drift_alpha``, ``drift_min_window`` and ``drift_categorical_columns`` (comma-separated
``_c<i>`` names of the categorical features, from the serving version's manifest).

Results ("Container Contract Outputs"): ``constraint_violations.json`` and the window's ``statistics.json`` in
``output_path``. The first kilobyte of ``/opt/ml/output/message`` becomes the execution's ExitMessage ("Save and
Access Metadata Information About Your Processing Job"): ``Completed: ...`` or ``CompletedWithViolations: ...``
with exit code 0 (drift is a result, not a failure), or the reason the input is unusable with exit code 1 (a
failed execution, which the stack's failure rule reports).
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

from .capture import input_rows, parse_time, read_capture
from .checks import CheckResult
from .drift_rule import DEFAULT_ALPHA, DEFAULT_MIN_WINDOW, DRIFT, INSUFFICIENT, check_rule_parameters
from .errors import DriftCheckError
from .run import Baseline, VIOLATIONS_FILE, check_rows, load_json, write_results
from .statistics import require_features

ML_ROOT = Path("/opt/ml")
DEFAULT_BASELINE_STATISTICS = "/opt/ml/processing/baseline/stats/statistics.json"
DEFAULT_BASELINE_CONSTRAINTS = "/opt/ml/processing/baseline/constraints/constraints.json"
CONFIG_FILES = ("processing/processingjobconfig.json", "config/processingjobconfig.json")
METRICS_FILE = "output/metrics/cloudwatch/cloudwatch_metrics.jsonl"
MESSAGE_FILE = "output/message"
MESSAGE_LIMIT = 1024

#: Metric names the container emits; the stack's alarms read the same names (infra/components/drift-monitor.ts).
DRIFT_DETECTED_METRIC = "drift_detected"
INSUFFICIENT_DATA_METRIC = "drift_insufficient_data"
WINDOW_REQUESTS_METRIC = "drift_window_requests"
FEATURE_DRIFT_PREFIX = "feature_baseline_drift_"
FEATURE_NON_NULL_PREFIX = "feature_non_null_"


@dataclass(frozen=True)
class JobSettings:
    dataset_source: Path
    output_path: Path
    baseline_statistics: Path
    baseline_constraints: Path
    start: datetime | None
    end: datetime | None
    publish_metrics: bool
    endpoint_name: str
    schedule_name: str
    alpha: float
    min_window: int
    categorical: Mapping[str, bool] | None


@dataclass(frozen=True)
class JobOutcome:
    status: str  # drift / no drift / insufficient data
    requests: int
    result: CheckResult | None
    message: str


def environment(environ: Mapping[str, str], ml_root: Path = ML_ROOT) -> dict[str, str]:
    """The execution's variables: the processing job config's Environment map, overridden by the process env."""
    merged: dict[str, str] = {}
    for name in CONFIG_FILES:
        path = ml_root / name
        if path.is_file():
            doc = load_json(path, "processing job configuration")
            env = doc.get("Environment") or {}
            if isinstance(env, dict):
                merged.update({str(k): str(v) for k, v in env.items()})
            break
    merged.update(environ)
    return merged


def _time(env: Mapping[str, str], key: str) -> datetime | None:
    value = env.get(key, "").replace(" ", "")  # the guide's example prints "2019-12-01T16: 20: 00Z"
    if not value:
        return None
    try:
        return parse_time(value)
    except DriftCheckError:
        raise DriftCheckError(f"{key}={env[key]!r} is not an ISO-8601 time such as 2024-05-01T13:00:00Z") from None


def job_settings(env: Mapping[str, str]) -> JobSettings:
    """Validated settings; a problem names the variable, its value and what is expected."""
    missing = [k for k in ("dataset_source", "output_path") if not env.get(k)]
    if missing:
        raise DriftCheckError(f"environment variable(s) {', '.join(missing)} not set: this program runs as a Model "
                              "Monitor execution, which sets them (see monitor/README.md to run it by hand)")
    try:
        alpha = float(env.get("drift_alpha", DEFAULT_ALPHA))
    except ValueError:
        raise DriftCheckError(f"drift_alpha={env['drift_alpha']!r} is not a number; expected e.g. 0.01") from None
    raw_window = env.get("drift_min_window", str(DEFAULT_MIN_WINDOW))
    if not raw_window.isdigit():
        raise DriftCheckError(f"drift_min_window={raw_window!r} is not a whole number of requests; expected e.g. 100")
    min_window = int(raw_window)
    check_rule_parameters(alpha, min_window)
    categorical = None
    if "drift_categorical_columns" in env:
        names = [n.strip() for n in env["drift_categorical_columns"].split(",") if n.strip()]
        bad = [n for n in names if not (n.startswith("_c") and n[2:].isdigit())]
        if bad:
            raise DriftCheckError(f"drift_categorical_columns lists {bad}; expected Model Monitor column names "
                                  "such as _c6,_c7")
        categorical = {n: True for n in names}
    start, end = _time(env, "start_time"), _time(env, "end_time")
    if start and end and start >= end:
        raise DriftCheckError(f"start_time {env['start_time']} is not before end_time {env['end_time']}")
    return JobSettings(
        dataset_source=Path(env["dataset_source"]),
        output_path=Path(env["output_path"]),
        baseline_statistics=Path(env.get("baseline_statistics") or DEFAULT_BASELINE_STATISTICS),
        baseline_constraints=Path(env.get("baseline_constraints") or DEFAULT_BASELINE_CONSTRAINTS),
        start=start, end=end,
        publish_metrics=env.get("publish_cloudwatch_metrics", "Disabled") == "Enabled",
        endpoint_name=env.get("sagemaker_endpoint_name", ""),
        schedule_name=env.get("sagemaker_monitoring_schedule_name", ""),
        alpha=alpha, min_window=min_window, categorical=categorical,
    )


def load_baseline(settings: JobSettings) -> Baseline:
    """The baseline files wherever the job put them; their columns must agree (as ``Baseline.load`` requires)."""
    statistics = load_json(settings.baseline_statistics, "baseline statistics (baseline_statistics)")
    constraints = load_json(settings.baseline_constraints, "baseline constraints (baseline_constraints)")
    stat_names = [f["name"] for f in require_features(statistics, str(settings.baseline_statistics))]
    cons_names = [f["name"] for f in require_features(constraints, str(settings.baseline_constraints))]
    if stat_names != cons_names:
        raise DriftCheckError(f"baseline: statistics features {stat_names} ({settings.baseline_statistics}) and "
                              f"constraints features {cons_names} ({settings.baseline_constraints}) differ; both "
                              "must list the same columns in the same order")
    return Baseline(statistics, constraints)


def metric_records(outcome: JobOutcome, settings: JobSettings, timestamp: datetime) -> list[dict]:
    """CloudWatch records of one execution (BYOC metrics schema), dimensions Endpoint and MonitoringSchedule."""
    stamp = timestamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    dimensions = [{"Name": "Endpoint", "Value": settings.endpoint_name},
                  {"Name": "MonitoringSchedule", "Value": settings.schedule_name}]

    def record(name: str, value: float, unit: str = "None") -> dict:
        return {"MetricName": name, "Timestamp": stamp, "Dimensions": dimensions, "Value": float(value), "Unit": unit}

    records = [record(WINDOW_REQUESTS_METRIC, outcome.requests, "Count"),
               record(INSUFFICIENT_DATA_METRIC, outcome.status == INSUFFICIENT)]
    if outcome.status != INSUFFICIENT:
        # Only a window the rule could judge says yes or no; "insufficient data" leaves the alarm without data.
        records.append(record(DRIFT_DETECTED_METRIC, outcome.status == DRIFT))
    if outcome.result is not None:
        for name, distance in sorted(outcome.result.distances.items()):
            records.append(record(f"{FEATURE_DRIFT_PREFIX}{name}", distance))
        for name, share in sorted(outcome.result.completeness.items()):
            records.append(record(f"{FEATURE_NON_NULL_PREFIX}{name}", share))
    return [r for r in records if math.isfinite(r["Value"])]


def run_job(settings: JobSettings) -> JobOutcome:
    """One execution: read, check, write the results into output_path. Raises DriftCheckError on unusable input."""
    baseline = load_baseline(settings)
    if not settings.dataset_source.is_dir():
        raise DriftCheckError(f"dataset_source {settings.dataset_source} is not a folder")
    requests = read_capture(settings.dataset_source, start=settings.start, end=settings.end)
    if not requests:
        settings.output_path.mkdir(parents=True, exist_ok=True)
        (settings.output_path / VIOLATIONS_FILE).write_text('{"violations": []}\n', encoding="utf-8")
        window = f" between {settings.start} and {settings.end}" if settings.start or settings.end else ""
        return JobOutcome(INSUFFICIENT, 0, None, f"Completed: no captured requests{window}: insufficient data")
    result, statistics = check_rows(baseline, input_rows(requests), alpha=settings.alpha,
                                    min_window=settings.min_window, categorical=settings.categorical)
    write_results(settings.output_path, result, statistics)
    status = result.verdict.status if result.verdict else "not evaluated"
    summary = f"{len(requests)} requests, drift verdict: {status}"
    if result.violations:
        first = result.violations[0]
        message = (f"CompletedWithViolations: {summary}; {len(result.violations)} violation(s), first "
                   f"{first.feature_name} {first.constraint_check_type}: {first.description}")
    else:
        message = f"Completed: {summary}; no violations"
    return JobOutcome(status, len(requests), result, message)


def write_message(ml_root: Path, message: str) -> None:
    path = ml_root / MESSAGE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    data = message.encode("utf-8")[:MESSAGE_LIMIT]
    path.write_text(data.decode("utf-8", errors="ignore"), encoding="utf-8")


def write_metrics(ml_root: Path, records: Sequence[dict]) -> Path:
    path = ml_root / METRICS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for r in records:
            handle.write(json.dumps(r) + "\n")
    return path


def main(environ: Mapping[str, str] | None = None, ml_root: Path | None = None,
         now: datetime | None = None) -> int:
    """Exit 0 when the execution completed (with or without violations), 1 when its input is unusable.

    ml_root defaults to /opt/ml, or ``DRIFT_MONITOR_ML_ROOT`` when set (to run the program outside a job).
    """
    if ml_root is None:
        ml_root = Path(os.environ.get("DRIFT_MONITOR_ML_ROOT") or ML_ROOT)
    try:
        settings = job_settings(environment(os.environ if environ is None else environ, ml_root))
        outcome = run_job(settings)
        if settings.publish_metrics:
            # The metrics carry the end of the monitored hour: the alarm's period is the hour that was judged.
            write_metrics(ml_root, metric_records(outcome, settings,
                                                  settings.end or now or datetime.now(timezone.utc)))
    except DriftCheckError as exc:
        message = f"drift monitor: {exc}"
        print(message, file=sys.stderr)
        write_message(ml_root, message)
        return 1
    except Exception as exc:  # noqa: BLE001 - the execution must still say why it failed
        traceback.print_exc()
        write_message(ml_root, f"drift monitor: internal error {type(exc).__name__}: {exc}")
        return 1
    print(f"drift monitor: {outcome.message}")
    write_message(ml_root, outcome.message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
