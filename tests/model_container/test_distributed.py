"""Multi-host training: several real `bin/train` processes on loopback, one /opt/ml each, as SageMaker runs the
hosts of a multi-instance job (train channel ShardedByS3Key, validation FullyReplicated)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mc_helpers import EARLY_STOPPING_HP, METRIC_RE, TRAIN, make_rows, run_train, write_csv, write_job

from mlcontainer.distributed import (
    HOST_ADDRESSES_ENV, STARTUP_TIMEOUT_ENV, TRACKER_PORT_ENV, Session, free_port_pair, plan_cluster,
)
from mlcontainer.errors import ConfigError
from mlcontainer.jobconfig import parse_resource_config

HOSTS = ("algo-1", "algo-2")
# Long enough to be interrupted mid-training on a loaded machine, short when it is not interrupted.
SLOW_HP = {"num_round": "3000", "early_stopping_rounds": "1000", "eta": "0.01", "max_depth": "6"}
# Every failure test's bound: the coordinator notices a dead process at once (its socket closes); the rest is
# process start-up and XGBoost import on a shared 2-core machine.
FAILURE_DEADLINE_S = 60


@dataclass
class Host:
    name: str
    opt_ml: Path
    process: subprocess.Popen

    @property
    def log(self) -> str:
        return (self.opt_ml / "host.log").read_text()

    @property
    def failure(self) -> str:
        return (self.opt_ml / "output" / "failure").read_text()

    @property
    def model_files(self) -> list[str]:
        folder = self.opt_ml / "model"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def shard(parts: Sequence[np.ndarray], rank: int, hosts: int) -> list[tuple[int, np.ndarray]]:
    """ShardedByS3Key: each host gets every hosts-th object of the prefix."""
    return [(k, part) for k, part in enumerate(parts) if k % hosts == rank]


def start_hosts(root: Path, env: Mapping[str, str], parts: Sequence[np.ndarray], validation: np.ndarray,
                hp: Mapping[str, str], hosts: Sequence[str] = HOSTS, start: Sequence[str] | None = None,
                shards: Mapping[str, list[tuple[int, np.ndarray]]] | None = None,
                extra_env: Mapping[str, str] | None = None) -> dict[str, Host]:
    port = free_port_pair()
    host_env = {**env, HOST_ADDRESSES_ENV: ",".join(f"{h}=127.0.0.1" for h in hosts),
                TRACKER_PORT_ENV: str(port), **(extra_env or {})}
    started: dict[str, Host] = {}
    # resourceconfig.json lists the hosts in any order: the container sorts them
    listed = list(reversed(hosts))
    for rank, name in enumerate(hosts):
        opt_ml = write_job(root / name, None, validation, hp, resources={"current_host": name, "hosts": listed})
        train_dir = opt_ml / "input" / "data" / "train"
        train_dir.mkdir(parents=True, exist_ok=True)
        for k, part in (shards or {}).get(name, shard(parts, rank, len(hosts))):
            write_csv(train_dir / f"part-{k:05d}.csv", part)
        if start is not None and name not in start:
            continue
        log = (opt_ml / "host.log").open("w")
        process = subprocess.Popen([sys.executable, str(TRAIN)], env={**host_env, "OPT_ML_DIR": str(opt_ml)},
                                   stdout=log, stderr=subprocess.STDOUT, cwd=opt_ml)
        started[name] = Host(name, opt_ml, process)
    return started


def wait_all(hosts: Mapping[str, Host], timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    codes = {}
    try:
        for name, host in hosts.items():
            codes[name] = host.process.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        for host in hosts.values():
            if host.process.poll() is None:
                host.process.kill()
                host.process.wait()
    return codes


def wait_for_log(host: Host, text: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in host.log:
            return
        assert host.process.poll() is None, f"{host.name} ended early:\n{host.log[-3000:]}"
        time.sleep(0.1)
    raise AssertionError(f"{host.name} never logged {text!r}:\n{host.log[-3000:]}")


def metric(log: str, name: str) -> float:
    import re

    found = re.findall(METRIC_RE.format(name=name), log)
    assert found, f"no METRIC {name} in the log"
    return float(found[-1])


@pytest.fixture(scope="module")
def data() -> dict[str, object]:
    rng = np.random.default_rng(1801)
    return {"parts": [make_rows(rng, 4000) for _ in range(4)], "validation": make_rows(rng, 3000),
            "test": make_rows(rng, 5000)}


# ------------------------------------------------------------------------------------------ configuration
def test_multi_host_resource_config_is_accepted_and_checked() -> None:
    config = parse_resource_config({"current_host": "algo-2", "hosts": ["algo-2", "algo-1"]})
    assert config.hosts == ("algo-2", "algo-1") and config.current_host == "algo-2"
    with pytest.raises(ConfigError, match="must be distinct and include 'current_host'"):
        parse_resource_config({"current_host": "algo-3", "hosts": ["algo-1", "algo-2"]})
    with pytest.raises(ConfigError, match="must be distinct"):
        parse_resource_config({"current_host": "algo-1", "hosts": ["algo-1", "algo-1"]})


def test_multi_host_ranks_follow_sorted_host_names() -> None:
    hosts = ("algo-3", "algo-1", "algo-2")
    ranks = {h: plan_cluster(hosts, h, {}).rank for h in hosts}
    assert ranks == {"algo-1": 0, "algo-2": 1, "algo-3": 2}
    cluster = plan_cluster(hosts, "algo-1", {TRACKER_PORT_ENV: "9200"})
    assert cluster.is_leader and cluster.leader == "algo-1"
    assert (cluster.tracker_port, cluster.coordinator_port) == (9200, 9201)
    assert plan_cluster(hosts, "algo-2", {}).tracker_port == 9099  # SageMaker XGBoost container's port


_host = st.from_regex(r"algo-[1-9][0-9]{0,2}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(hosts=st.lists(_host, min_size=2, max_size=8, unique=True), data=st.data())
def test_multi_host_plan_is_the_same_whatever_order_resourceconfig_lists(hosts: list[str], data: st.DataObject) -> None:
    """Every host must derive the same ranks and leader from its own copy of resourceconfig.json."""
    shuffled = data.draw(st.permutations(hosts))
    addresses = {h: f"10.0.{i // 250}.{i % 250 + 1}" for i, h in enumerate(hosts)}
    environ = {HOST_ADDRESSES_ENV: " , ".join(f"{h}={a}" for h, a in addresses.items())}
    plans = [plan_cluster(tuple(order), current, environ) for order in (hosts, shuffled) for current in hosts]
    assert {p.hosts for p in plans} == {tuple(sorted(hosts))}
    assert sorted(p.rank for p in plans[: len(hosts)]) == list(range(len(hosts)))
    assert all(p.addresses == addresses for p in plans)
    assert {p.leader for p in plans} == {min(hosts)}


@pytest.mark.parametrize("environ, message", [
    ({HOST_ADDRESSES_ENV: "algo-1"}, "is not host=address"),
    ({HOST_ADDRESSES_ENV: "algo-9=127.0.0.1"}, "names host(s) algo-9"),
    ({TRACKER_PORT_ENV: "80"}, "expected a port in [1024, 65534]"),
    ({STARTUP_TIMEOUT_ENV: "-3"}, "expected a positive number"),
])
def test_distributed_environment_errors_say_what_to_fix(environ: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        plan_cluster(HOSTS, "algo-1", environ)
    assert message in str(raised.value)


# ------------------------------------------------------------------------------------------ coordinator
def _sessions(hosts: Sequence[str], ended: dict[str, list] | None = None, **environ: str) -> dict[str, Session]:
    """In-process sessions; `ended[host]` records the failure text and exit code a host would have ended with."""
    ended = {} if ended is None else ended
    env = {HOST_ADDRESSES_ENV: ",".join(f"{h}=127.0.0.1" for h in hosts), TRACKER_PORT_ENV: str(free_port_pair()),
           STARTUP_TIMEOUT_ENV: "20", **environ}
    # in-process: a host told of another's failure must not end the test process after the grace period
    sessions = {h: Session(plan_cluster(tuple(hosts), h, env), ended.setdefault(h, []).append,
                           end_process=ended.setdefault(h, []).append) for h in hosts}
    threads = [threading.Thread(target=s.start) for s in sessions.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return sessions


def test_distributed_coordinator_finishes_every_host_before_the_leader_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    """The leader may hear "finish" first; once its complete() returns, its process (and the coordinator) may
    end at once, and every other host must already have been told, or it would fail with "lost contact"."""
    from mlcontainer import distributed

    send = distributed._send
    leader_socks: set[int] = set()

    def slow_finish_to_workers(sock: socket.socket, lock: threading.Lock, message: Mapping) -> bool:
        if message.get("op") == "finish" and id(sock) not in leader_socks:
            time.sleep(0.3)  # the leader's own copy goes out at once, the others' late
        return send(sock, lock, message)

    monkeypatch.setattr(distributed, "_send", slow_finish_to_workers)
    for _ in range(2):
        sessions = _sessions(("algo-1", "algo-2", "algo-3"))
        coordinator = sessions["algo-1"].coordinator
        assert coordinator is not None
        deadline = time.monotonic() + 30
        while len(coordinator.peers) < 3 and time.monotonic() < deadline:  # hellos are handled asynchronously
            time.sleep(0.05)
        leader_socks.add(id(coordinator.peers["algo-1"].sock))
        workers = [threading.Thread(target=sessions[h].complete) for h in ("algo-2", "algo-3")]
        for t in workers:
            t.start()
        sessions["algo-1"].complete()
        sessions["algo-1"].close()  # what the leader's exit does to its sockets
        for t in workers:
            t.join(30)
        for name in ("algo-2", "algo-3"):
            lifeline = sessions[name].lifeline
            assert lifeline.finished.is_set() and lifeline.verdict is None, (name, lifeline.verdict)
        for session in sessions.values():
            session.close()


def test_distributed_coordinator_names_the_host_that_failed_or_vanished() -> None:
    from mlcontainer.distributed import ABORT_GRACE_SECONDS

    ended: dict[str, list] = {}
    sessions = _sessions(("algo-1", "algo-2", "algo-3"), ended)
    sessions["algo-3"].lifeline.fail("DataError: host algo-3: bad labels")
    for name in ("algo-1", "algo-2"):
        assert sessions[name].lifeline.peer_verdict(5) == ("algo-3", "DataError: host algo-3: bad labels")
    # nobody handled it on those hosts (their main thread could be stuck in an all-reduce): after the grace
    # period each writes the verdict as its failure and ends itself with exit code 1
    time.sleep(ABORT_GRACE_SECONDS + 1)
    for name in ("algo-1", "algo-2"):
        assert ended[name] == [f"ClusterError: host algo-3 failed, so host {name} stopped too: "
                               "DataError: host algo-3: bad labels", 1]
    assert ended["algo-3"] == []
    for session in sessions.values():
        session.close()

    sessions = _sessions(("algo-1", "algo-2"))
    sessions["algo-2"].lifeline.sock.close()  # a process that died without a word
    verdict = sessions["algo-1"].lifeline.peer_verdict(5)
    assert verdict is not None and verdict[0] == "algo-2" and verdict[1].startswith("lost contact")
    for session in sessions.values():
        session.close()


# ------------------------------------------------------------------------------------------ training
def test_two_host_model_matches_single_host_auc(tmp_path: Path, proc_env: dict, data: dict) -> None:
    from sklearn.metrics import roc_auc_score
    import xgboost as xgb

    parts, validation, test = data["parts"], data["validation"], data["test"]
    hp = {"num_round": "300", "early_stopping_rounds": "20", "eta": "0.1", "max_depth": "6"}

    single = write_job(tmp_path / "single", None, validation, hp)
    for k, part in enumerate(parts):
        write_csv(single / "input" / "data" / "train" / f"part-{k:05d}.csv", part)
    done = run_train(single, proc_env)
    assert done.returncode == 0, done.stderr[-3000:]

    hosts = start_hosts(tmp_path / "two", proc_env, parts, validation, hp)
    codes = wait_all(hosts, timeout=180)
    assert codes == {"algo-1": 0, "algo-2": 0}, {n: h.log[-3000:] for n, h in hosts.items()}

    # only the first host writes the model; nobody writes a failure
    assert hosts["algo-1"].model_files == ["metadata.json", "model.ubj"]
    assert hosts["algo-2"].model_files == []
    assert not any((h.opt_ml / "output" / "failure").exists() for h in hosts.values())
    # each host trained on its own shard: half of the rows each, all of them counted
    assert "host algo-1: 8000 of 16000 train rows" in hosts["algo-1"].log
    assert "host algo-2: 8000 of 16000 train rows" in hosts["algo-2"].log

    def test_auc(model_file: Path) -> float:
        booster = xgb.Booster(model_file=str(model_file))
        return float(roc_auc_score(test[:, 0], booster.inplace_predict(test[:, 1:].astype(np.float32))))

    single_auc = test_auc(single / "model" / "model.ubj")
    two_auc = test_auc(hosts["algo-1"].opt_ml / "model" / "model.ubj")
    # Not bit-identical: the hosts merge quantile sketches of their shards instead of sketching all rows, so
    # the histogram bins (and the trees) differ slightly. Bound: within 0.005 of the single host's test AUC (the
    # benchmark in model-container/README.md measures a difference of 0.0001).
    assert abs(two_auc - single_auc) < 0.005, (single_auc, two_auc)

    meta = json.loads((hosts["algo-1"].opt_ml / "model" / "metadata.json").read_text())
    assert meta["metrics"]["train_rows"] == 16000 and meta["metrics"]["validation_rows"] == 3000
    # validation is replicated, so XGBoost's cross-host reduction of the metric is the full set's own value:
    # the reported AUC is the saved model's AUC on the validation channel (float32 predictions: 1e-6)
    booster = xgb.Booster(model_file=str(hosts["algo-1"].opt_ml / "model" / "model.ubj"))
    val_auc = roc_auc_score(validation[:, 0], booster.inplace_predict(validation[:, 1:].astype(np.float32)))
    assert val_auc == pytest.approx(meta["metrics"]["validation_auc"], abs=1e-6)
    # both hosts report the same metrics (any host's log feeds MetricDefinitions)
    for name in ("validation_auc", "best_iteration", "train_rows"):
        assert metric(hosts["algo-1"].log, name) == metric(hosts["algo-2"].log, name)


def test_two_host_empty_shard_joins_with_zero_rows(tmp_path: Path, proc_env: dict, data: dict) -> None:
    """More instances than train files: SageMaker gives a host no data. It joins with zero rows (documented)."""
    parts, validation = data["parts"], data["validation"]
    shards = {"algo-1": list(enumerate(parts[:2])), "algo-2": []}
    hosts = start_hosts(tmp_path, proc_env, parts, validation, EARLY_STOPPING_HP, shards=shards)
    codes = wait_all(hosts, timeout=180)
    assert codes == {"algo-1": 0, "algo-2": 0}, {n: h.log[-3000:] for n, h in hosts.items()}
    assert "received no train rows" in hosts["algo-2"].log
    assert "host algo-2: 0 of 8000 train rows" in hosts["algo-2"].log
    meta = json.loads((hosts["algo-1"].opt_ml / "model" / "metadata.json").read_text())
    assert meta["metrics"]["train_rows"] == 8000 and meta["metrics"]["validation_auc"] > 0.75


def test_distributed_job_without_any_train_rows_fails_on_every_host(tmp_path: Path, proc_env: dict,
                                                                    data: dict) -> None:
    hosts = start_hosts(tmp_path, proc_env, data["parts"], data["validation"], EARLY_STOPPING_HP,
                        shards={"algo-1": [], "algo-2": []})
    codes = wait_all(hosts, timeout=FAILURE_DEADLINE_S)
    assert codes == {"algo-1": 1, "algo-2": 1}
    for host in hosts.values():
        assert "no host received train rows (2 hosts)" in host.failure


# ------------------------------------------------------------------------------------------ failures
def test_two_host_worker_killed_mid_training_fails_the_leader(tmp_path: Path, proc_env: dict, data: dict) -> None:
    hosts = start_hosts(tmp_path, proc_env, data["parts"], data["validation"], SLOW_HP)
    wait_for_log(hosts["algo-1"], "[0]\t")  # the first boosting round ran: training is under way
    hosts["algo-2"].process.kill()  # SIGKILL: no failure file, no goodbye; its socket just closes
    killed_at = time.monotonic()
    codes = wait_all(hosts, timeout=FAILURE_DEADLINE_S)
    assert time.monotonic() - killed_at < FAILURE_DEADLINE_S
    assert codes["algo-1"] == 1 and codes["algo-2"] == -signal.SIGKILL
    failure = hosts["algo-1"].failure
    assert failure.startswith("ClusterError: host algo-2 failed, so host algo-1 stopped too: lost contact"), failure
    assert hosts["algo-1"].model_files == []


def test_two_host_leader_stopped_mid_training_fails_both_with_failure_files(tmp_path: Path, proc_env: dict,
                                                                           data: dict) -> None:
    hosts = start_hosts(tmp_path, proc_env, data["parts"], data["validation"], SLOW_HP)
    wait_for_log(hosts["algo-1"], "[0]\t")
    hosts["algo-1"].process.send_signal(signal.SIGTERM)  # StopTrainingJob on the leader's instance
    codes = wait_all(hosts, timeout=FAILURE_DEADLINE_S)
    assert codes == {"algo-1": 143, "algo-2": 1}, {n: h.log[-3000:] for n, h in hosts.items()}
    assert hosts["algo-1"].failure.startswith("Stopped: host algo-1: stopped by SIGTERM")
    assert hosts["algo-2"].failure.startswith(
        "ClusterError: host algo-1 failed, so host algo-2 stopped too: Stopped: host algo-1: stopped by SIGTERM")
    assert hosts["algo-1"].model_files == [] and hosts["algo-2"].model_files == []


def test_two_host_leader_killed_fails_the_worker(tmp_path: Path, proc_env: dict, data: dict) -> None:
    hosts = start_hosts(tmp_path, proc_env, data["parts"], data["validation"], SLOW_HP)
    wait_for_log(hosts["algo-1"], "[0]\t")
    hosts["algo-1"].process.kill()
    codes = wait_all(hosts, timeout=FAILURE_DEADLINE_S)
    assert codes["algo-2"] == 1
    assert hosts["algo-2"].failure.startswith("ClusterError: host algo-1 failed, so host algo-2 stopped too: "
                                              "lost contact with the leader's coordinator"), hosts["algo-2"].failure


def test_multi_host_data_error_on_one_host_fails_every_host(tmp_path: Path, proc_env: dict, data: dict) -> None:
    bad = data["parts"][1].copy()
    bad[5, 0] = 2.0
    shards = {"algo-1": [(0, data["parts"][0])], "algo-2": [(1, bad)]}
    hosts = start_hosts(tmp_path, proc_env, data["parts"], data["validation"], EARLY_STOPPING_HP, shards=shards)
    codes = wait_all(hosts, timeout=FAILURE_DEADLINE_S)
    assert codes == {"algo-1": 1, "algo-2": 1}
    assert hosts["algo-2"].failure.startswith("DataError: host algo-2: channel train: 1 row(s) have a label")
    assert hosts["algo-1"].failure.startswith(
        "ClusterError: host algo-2 failed, so host algo-1 stopped too: DataError: host algo-2: channel train")


def test_distributed_peer_that_never_starts_fails_after_the_startup_deadline(tmp_path: Path, proc_env: dict,
                                                                            data: dict) -> None:
    hosts = start_hosts(tmp_path, proc_env, data["parts"], data["validation"], EARLY_STOPPING_HP,
                        start=["algo-1"], extra_env={STARTUP_TIMEOUT_ENV: "5"})
    started = time.monotonic()
    codes = wait_all(hosts, timeout=FAILURE_DEADLINE_S)
    assert codes == {"algo-1": 1}
    assert time.monotonic() - started < FAILURE_DEADLINE_S
    assert hosts["algo-1"].failure.startswith(
        "ClusterError: host algo-2 failed, so host algo-1 stopped too: did not join within 5 s"), hosts["algo-1"].failure


def test_distributed_worker_without_a_leader_fails_after_the_startup_deadline(tmp_path: Path, proc_env: dict,
                                                                             data: dict) -> None:
    hosts = start_hosts(tmp_path, proc_env, data["parts"], data["validation"], EARLY_STOPPING_HP,
                        start=["algo-2"], extra_env={STARTUP_TIMEOUT_ENV: "3"})
    codes = wait_all(hosts, timeout=FAILURE_DEADLINE_S)
    assert codes == {"algo-2": 1}
    assert hosts["algo-2"].failure.startswith(
        "ClusterError: host algo-2: could not reach the leader algo-1 at 127.0.0.1:"), hosts["algo-2"].failure
