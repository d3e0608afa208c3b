"""`train`: SageMaker training entrypoint (contracts §3).

Reads /opt/ml/input (config + channels), trains an XGBoost binary classifier with early stopping on a validation
metric (log loss by default, after a minimum number of rounds), writes /opt/ml/model/{model.ubj,metadata.json}. Any failure leaves its reason in /opt/ml/output/failure
and a non-zero exit code: 2 for configuration, 1 for data or algorithm errors, 143 when stopped by SIGTERM.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from . import __version__, distributed
from .errors import ContainerError, TrainingStopped
from .paths import OptMl, opt_ml_from_env

log = logging.getLogger("mlcontainer.train")

MODEL_FILE = "model.ubj"
METADATA_FILE = "metadata.json"
# SageMaker shows the first 1,024 characters of the failure file as the job's FailureReason.
FAILURE_REASON_CHARS = 1024
FAILURE_DETAIL_CHARS = 8192
METRIC_NAMES = (
    "train_auc", "validation_auc", "validation_logloss", "best_iteration",
    "train_rows", "validation_rows", "training_seconds",
)


class StopRequest:
    """SIGTERM handling: raise at once while reading data, ask XGBoost to stop between rounds while training."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""
        self.interrupt = True

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        self.requested = True
        self.signal_name = signal.Signals(signum).name
        if self.interrupt:
            raise self.error()

    def error(self) -> TrainingStopped:
        return TrainingStopped(f"stopped by {self.signal_name or 'signal'} before training completed")

    def check(self) -> None:
        if self.requested:
            raise self.error()

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.handle)


def format_metric(name: str, value: float | int) -> str:
    """One line the MetricDefinitions regex `METRIC <name>=([-+0-9.eE]+)` can read."""
    text = str(int(value)) if isinstance(value, int) else format(float(value), ".10g")
    return f"METRIC {name}={text}"


def failure_text(exc: BaseException, host: str | None = None) -> str:
    """The failure file: the reason first (what SageMaker shows), then a traceback for unexpected errors.
    `host` names the failing host in a multi-host job."""
    on = f"host {host}: " if host else ""
    if isinstance(exc, ContainerError):
        reason, detail = f"{exc.category}: {on}{exc}", ""
    else:
        # XGBoost appends a native stack trace to its messages: the traceback below says where, keep the why.
        message = str(exc).split("Stack trace:", 1)[0].strip()
        reason = f"AlgorithmError: {on}unexpected {type(exc).__name__}: {message}"
        detail = "".join(traceback.format_exception(exc))[-FAILURE_DETAIL_CHARS:]
    if len(reason) > FAILURE_REASON_CHARS:
        marker = " …[truncated]"
        reason = reason[: FAILURE_REASON_CHARS - len(marker)] + marker
    return reason + ("\n\n" + detail if detail else "") + "\n"


def write_failure(opt_ml: OptMl, exc: BaseException | str) -> None:
    try:
        opt_ml.output_dir.mkdir(parents=True, exist_ok=True)
        opt_ml.failure_file.write_text(exc if isinstance(exc, str) else failure_text(exc), encoding="utf-8")
    except OSError as write_error:
        log.error("could not write %s: %s", opt_ml.failure_file, write_error)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass(frozen=True)
class TrainResult:
    booster: Any  # xgboost.Booster sliced to the best iteration
    metrics: dict[str, float | int]
    history: dict[str, dict[str, list[float]]]


def early_stopping_callback(xgb: Any, metric: str, patience: int, min_rounds: int) -> Any:
    """Early stopping on `metric` of the "validation" set that neither stops nor picks a best round before
    `min_rounds` rounds. XGBoost's own EarlyStopping callback has no minimum: on small, easy data it can keep a
    handful of trees. Sets the booster's `best_iteration` / `best_score` attributes as that callback does."""
    maximize = metric == "auc"

    class EarlyStoppingAfterMinRounds(xgb.callback.TrainingCallback):
        def __init__(self) -> None:
            super().__init__()
            self.best_score: float | None = None
            self.best_iteration = -1

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            score = float(evals_log["validation"][metric][-1])
            if epoch + 1 < min_rounds:
                return False
            if self.best_score is None or (score > self.best_score if maximize else score < self.best_score):
                self.best_score, self.best_iteration = score, epoch
                model.set_attr(best_score=str(score), best_iteration=str(epoch))
            return epoch - self.best_iteration >= patience

    return EarlyStoppingAfterMinRounds()


def train_booster(train: Any, validation: Any, hp: Mapping[str, Any], nthread: int, stop: StopRequest) -> TrainResult:
    """Boost until the early-stopping metric on validation stops improving (never before `min_rounds`); returns
    the model truncated to its best round."""
    from .hyperparameters import xgboost_params
    from .xgb_import import import_xgboost

    xgb = import_xgboost()

    class StopBetweenRounds(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return stop.requested

    started = time.perf_counter()
    params = xgboost_params(hp, nthread)
    matrix = xgb.QuantileDMatrix if hp["tree_method"] == "hist" else xgb.DMatrix
    extra = {"max_bin": hp["max_bin"]} if matrix is xgb.QuantileDMatrix else {}
    dtrain = matrix(train.features, label=train.labels, nthread=nthread, **extra)
    dvalid = matrix(validation.features, label=validation.labels, nthread=nthread,
                    **({"ref": dtrain} if extra else {}))
    history: dict[str, dict[str, list[float]]] = {}
    stop.interrupt = False
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=int(hp["num_round"]),
        evals=[(dtrain, "train"), (dvalid, "validation")],
        evals_result=history,
        verbose_eval=False,
        callbacks=[
            early_stopping_callback(xgb, str(hp["early_stopping_metric"]), int(hp["early_stopping_rounds"]),
                                    min(int(hp["min_rounds"]), int(hp["num_round"]))),
            xgb.callback.EvaluationMonitor(period=25),
            StopBetweenRounds(),
        ],
    )
    stop.check()
    seconds = time.perf_counter() - started
    rounds = len(history["validation"]["auc"])
    best = int(booster.attr("best_iteration") or rounds - 1)
    best_model = booster[: best + 1]
    metrics: dict[str, float | int] = {
        "train_auc": float(history["train"]["auc"][best]),
        "validation_auc": float(history["validation"]["auc"][best]),
        "validation_logloss": float(history["validation"]["logloss"][best]),
        "best_iteration": best,
        "train_rows": train.rows,
        "validation_rows": validation.rows,
        "training_seconds": round(seconds, 3),
    }
    return TrainResult(booster=best_model, metrics=metrics, history=history)


def build_metadata(
    info: Any, hp: Mapping[str, Any], metrics: Mapping[str, float | int], importance: Mapping[str, float],
    libraries: Mapping[str, str], rounds_run: int,
) -> dict[str, Any]:
    """metadata.json (contracts §3): what serving, evaluation and the registry need to use the model."""
    metadata: dict[str, Any] = {
        "features": list(info.names),
        "featureTypes": dict(info.types),
        "encodings": dict(info.encodings),
        "label": info.label,
        "featureCount": len(info.names),
        "objective": "binary:logistic",
        "prediction": "probability of the positive class (label 1)",
        "modelFile": MODEL_FILE,
        "modelFormat": "xgboost-ubjson",
        "metrics": dict(metrics),
        "roundsRun": rounds_run,
        "hyperparameters": dict(hp),
        "featureImportance": {name: float(importance.get(f"f{i}", 0.0)) for i, name in enumerate(info.names)},
        "libraries": dict(libraries),
        "createdAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if info.manifest is not None:
        metadata["manifest"] = info.manifest
    return metadata


def run(opt_ml: OptMl, stop: StopRequest) -> dict[str, float | int]:
    """The whole job; raises ContainerError subclasses for expected failures."""
    from .hyperparameters import parse_hyperparameters
    from .jobconfig import (
        available_cpus, parse_resource_config, read_json_object, validate_input_data_config,
    )

    raw_hp = read_json_object(opt_ml.hyperparameters_file, "hyperparameters.json", required=False) or {}
    hp = parse_hyperparameters(raw_hp)
    channels = validate_input_data_config(
        read_json_object(opt_ml.input_data_config_file, "inputdataconfig.json", required=True) or {},
        opt_ml.data_dir,
    )
    resources = parse_resource_config(
        read_json_object(opt_ml.resource_config_file, "resourceconfig.json", required=False)
    )
    nthread = available_cpus()
    log.info("host %s, %d threads, hyperparameters %s", resources.current_host, nthread, json.dumps(hp))
    session = distributed.start_session(resources, lambda text: write_failure(opt_ml, text))

    import numpy as np
    import pandas as pd

    from .dataset import check_feature_counts, default_features, load_split, read_manifest

    info = read_manifest(opt_ml.channel_dir("manifest")) if "manifest" in channels else None
    empty_shard = session is not None and distributed.shard_is_empty(opt_ml.channel_dir("train"))
    train = None if empty_shard else load_split("train", opt_ml.channel_dir("train"))
    validation = load_split("validation", opt_ml.channel_dir("validation"))
    if train is None:  # this host got no train file: it joins with zero rows
        train = distributed.empty_split(validation)
    info = info or default_features(train.feature_count)
    check_feature_counts((train, validation), info)
    log.info("train: %d rows from %d file(s); validation: %d rows; %d features",
             train.rows, len(train.files), validation.rows, train.feature_count)

    total_train_rows = session.join(train) if session is not None else train.rows
    result = train_booster(train, validation, hp, nthread, stop)
    result.metrics["train_rows"] = total_train_rows
    if session is not None:
        session.leave_collective()
    for name in METRIC_NAMES:
        print(format_metric(name, result.metrics[name]), flush=True)

    if session is not None and not session.cluster.is_leader:
        session.complete()  # only the first host writes /opt/ml/model
        return result.metrics

    import xgboost as xgb

    opt_ml.model_dir.mkdir(parents=True, exist_ok=True)
    libraries = {"xgboost": xgb.__version__, "numpy": np.__version__, "pandas": pd.__version__,
                 "python": platform.python_version(), "mlcontainer": __version__}
    metadata = build_metadata(
        info, hp, result.metrics, result.booster.get_score(importance_type="gain"), libraries,
        rounds_run=len(result.history["validation"]["auc"]),
    )
    _atomic_write(opt_ml.model_dir / MODEL_FILE, bytes(result.booster.save_raw(raw_format="ubj")))
    # metadata.json last: its presence says the model next to it is complete.
    _atomic_write(opt_ml.model_dir / METADATA_FILE, json.dumps(metadata, indent=2).encode("utf-8"))
    stop.check()
    if session is not None:
        session.complete()
    return result.metrics


def configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main() -> int:
    stop = StopRequest()
    stop.install()
    opt_ml = opt_ml_from_env()
    try:
        configure_logging()
        run(opt_ml, stop)
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the failure file
        stop.interrupt = False  # a second SIGTERM must not interrupt writing the failure file
        if isinstance(exc, KeyboardInterrupt):
            exc = stop.error() if stop.requested else TrainingStopped("stopped by SIGINT")
        session = distributed.current_session()  # multi-host: name the failing host, tell the others
        text = failure_text(exc) if session is None else session.handle_failure(
            exc, failure_text(exc, host=session.cluster.current_host))
        if text is not None:
            write_failure(opt_ml, text)
        if isinstance(exc, ContainerError):
            log.error("%s: %s", exc.category, exc)
        else:
            log.exception("training failed")
        code = exc.exit_code if isinstance(exc, ContainerError) else 1
        if session is not None:
            session.exit(code)
        return code
    session = distributed.current_session()
    if session is None or session.cluster.is_leader:
        log.info("model written to %s", opt_ml.model_dir)
    else:
        log.info("training done; the first host, %s, wrote the model", session.cluster.leader)
    return 0

