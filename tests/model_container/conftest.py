"""Fixtures for the model container: real `bin/train` and `bin/serve` processes on generated data.

Every process runs from the repository's own files with the test interpreter, rooted at a temporary OPT_ML_DIR,
and is killed in teardown whatever the test did.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from mc_helpers import EARLY_STOPPING_HP, ServerProcess, TrainedJob, make_rows, run_train, write_job


@pytest.fixture(scope="session")
def proc_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the processes under test.

    The machine sets PYTHONDONTWRITEBYTECODE and the venv ships no bytecode, so every process would recompile
    numpy, pandas and xgboost from source (seconds each). A session-wide PYTHONPYCACHEPREFIX lets the first
    process compile once for all the others, without writing into the venv.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "OPT_ML_DIR")}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path_factory.mktemp("pycache"))
    env["PYTHONUNBUFFERED"] = "1"
    for name in ("SAGEMAKER_BIND_TO_PORT", "SERVE_HOST", "MODEL_SERVER_WORKERS", "SERVE_RUN_AS", "LOG_LEVEL"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, proc_env: dict[str, str]) -> TrainedJob:
    """One real training run shared by the metadata, metric and serving tests."""
    rng = np.random.default_rng(20240601)
    validation = make_rows(rng, 800)
    opt_ml = write_job(tmp_path_factory.mktemp("trained"), make_rows(rng, 3000), validation, EARLY_STOPPING_HP)
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 0, done.stderr[-3000:]
    return TrainedJob(opt_ml, done.stdout, done.stderr, validation, done.returncode)


@pytest.fixture
def start_server(tmp_path: Path, proc_env: dict[str, str]) -> Iterator:
    """Factory: start_server(opt_ml, workers=2, **env) -> ServerProcess, always stopped at teardown."""
    started: list[ServerProcess] = []

    def start(opt_ml: Path, workers: int = 2, **extra_env: str) -> ServerProcess:
        server = ServerProcess(opt_ml, proc_env, tmp_path / f"serve-{len(started)}.log", workers, extra_env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def server(trained: TrainedJob, proc_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """One server on the shared trained model, for the many request tests of a module."""
    process = ServerProcess(trained.opt_ml, proc_env, tmp_path_factory.mktemp("serve") / "serve.log", workers=2)
    try:
        process.wait_for_ping()
        process.initial_workers = process.worker_pids()
        yield process
    finally:
        process.stop()
