"""Helpers for the model container tests: data in the contract's format, the /opt/ml layout, HTTP calls and
the real `bin/serve` process. (A uniquely named module, not conftest: several test folders have a conftest.)"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
CONTAINER = REPO / "model-container"
TRAIN = CONTAINER / "bin" / "train"
SERVE = CONTAINER / "bin" / "serve"
if str(CONTAINER) not in sys.path:
    sys.path.insert(0, str(CONTAINER))  # pytest.ini adds it too; keeps this folder runnable on its own

FEATURES = 6
METRIC_RE = r"METRIC {name}=([-+0-9.eE]+)"  # contracts §3, with the metric name filled in


# ------------------------------------------------------------------------------------------------ data
def make_rows(rng: np.random.Generator, rows: int, features: int = FEATURES, noise: float = 1.0) -> np.ndarray:
    """Label-first rows: the label depends on the first three features (one interaction), the rest is noise."""
    x = rng.normal(size=(rows, features))
    logit = 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.6 * x[:, 1] * x[:, 2]
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit / noise))).astype(float)
    return np.column_stack([y, x])


def write_csv(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # repr-exact values: predictions compared against the in-process model must see identical inputs
    path.write_text("\n".join(",".join(repr(float(v)) if i else str(int(v)) for i, v in enumerate(r)) for r in rows)
                    + "\n")


def write_job(
    opt_ml: Path,
    train: np.ndarray | None,
    validation: np.ndarray | None,
    hyperparameters: Mapping[str, object] | None = None,
    channels: Mapping[str, object] | None = None,
    manifest: Mapping[str, object] | None = None,
    resources: Mapping[str, object] | None = None,
) -> Path:
    """The /opt/ml layout SageMaker gives a training job."""
    config = opt_ml / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    if channels is None:
        channels = {"train": {"ContentType": "text/csv", "TrainingInputMode": "File"},
                    "validation": {"ContentType": "text/csv", "TrainingInputMode": "File"}}
        if manifest is not None:
            channels = {**channels, "manifest": {"ContentType": "application/json"}}
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters or {}))
    if resources is not None:
        (config / "resourceconfig.json").write_text(json.dumps(resources))
    if train is not None:
        half = len(train) // 2  # two part files, like the ETL's Spark output
        write_csv(opt_ml / "input" / "data" / "train" / "part-00000.csv", train[:half])
        write_csv(opt_ml / "input" / "data" / "train" / "part-00001.csv", train[half:])
        (opt_ml / "input" / "data" / "train" / "_SUCCESS").write_text("")
    if validation is not None:
        write_csv(opt_ml / "input" / "data" / "validation" / "part-00000.csv", validation)
    if manifest is not None:
        folder = opt_ml / "input" / "data" / "manifest"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return opt_ml


def run_train(opt_ml: Path, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TRAIN)], env={**env, "OPT_ML_DIR": str(opt_ml)}, capture_output=True, text=True,
        timeout=timeout, cwd=opt_ml,
    )


def failure_of(opt_ml: Path) -> str:
    return (opt_ml / "output" / "failure").read_text()


# Settings that overfit quickly: validation AUC peaks within a few dozen rounds, so early stopping must end
# training long before num_round.
EARLY_STOPPING_HP = {"num_round": "400", "early_stopping_rounds": "10", "eta": "0.5", "max_depth": "8",
                     "min_child_weight": "0"}


@dataclass(frozen=True)
class TrainedJob:
    opt_ml: Path
    stdout: str
    stderr: str
    validation: np.ndarray
    returncode: int

    @property
    def model_dir(self) -> Path:
        return self.opt_ml / "model"

    @property
    def metadata(self) -> dict:
        return json.loads((self.model_dir / "metadata.json").read_text())


# ------------------------------------------------------------------------------------------------ server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def call(port: int, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None,
         timeout: float = 10.0) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


class ServerProcess:
    """`bin/serve` on a free loopback port; logs go to a file the tests can read."""

    def __init__(self, opt_ml: Path, env: Mapping[str, str], log_path: Path, workers: int = 2,
                 extra_env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        self.initial_workers: set[int] = set()
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVE)],
            env={**env, "OPT_ML_DIR": str(opt_ml), "SAGEMAKER_BIND_TO_PORT": str(self.port),
                 "SERVE_HOST": "127.0.0.1", "MODEL_SERVER_WORKERS": str(workers), **(extra_env or {})},
            stdout=self._log, stderr=subprocess.STDOUT, cwd=opt_ml, start_new_session=True,
        )

    def wait_for_ping(self, expect: int = 200, timeout: float = 30.0) -> Response:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                response = call(self.port, "GET", "/ping", timeout=2)
                if response.status == expect:
                    return response
                last = response.status
            except OSError as exc:
                last = exc
            time.sleep(0.05)
        raise AssertionError(f"/ping never answered {expect} (last: {last}):\n{self.log()}")

    def worker_pids(self) -> set[int]:
        """Live (not zombie) children of the supervisor, from /proc."""
        pids = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            if fields.get("PPid") == str(self.proc.pid) and not fields.get("State", "").startswith("Z"):
                pids.add(int(entry.name))
        return pids

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Kill the supervisor and its workers: they share the process group it leads (start_new_session)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self._log.close()
