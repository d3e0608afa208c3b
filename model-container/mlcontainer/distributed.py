"""Training across the hosts of a multi-instance SageMaker job (resourceconfig.json lists more than one host).

Roles, as SageMaker's own XGBoost container assigns them (aws/sagemaker-xgboost-container,
src/sagemaker_xgboost_container/distributed.py): hosts sorted by name; the first (the leader) runs XGBoost's
collective tracker (`xgboost.tracker.RabitTracker`) on a known port; every host, the leader included, joins the
collective (`xgboost.collective.CommunicatorContext`) with its rank and trains on its own shard of the train
channel. XGBoost then all-reduces gradient histograms every round, so every host builds the same trees.

Next to the tracker, the leader runs a small coordinator (newline-delimited JSON over TCP, port + 1) that XGBoost
does not provide: it waits for every host with a deadline, carries heartbeats, and turns any host's failure (an
error it reports, or a connection that breaks or falls silent) into an abort on every host, so each host's
/opt/ml/output/failure names the host that failed instead of "Ring Allreduce failed".

Validation: the validation channel is FullyReplicated, every host holds all of it. XGBoost reduces evaluation
metrics across workers as if the rows were disjoint (sums of per-worker numerators and denominators), which for
identical copies gives exactly the single-copy value: validation AUC and logloss are those of the full validation
set. Train metrics are XGBoost's cross-shard reduction (exact for logloss, XGBoost's distributed approximation
for AUC).

A host whose train shard is empty (more instances than train files; SageMaker's S3DataSource documentation:
"some nodes won't get any data") still joins with zero rows: XGBoost supports empty workers (it logs "Empty
dataset at worker"), the others' data trains the model. The job fails only if no host has any train rows.

Environment (all optional; SageMaker needs none of them):
  MLCONTAINER_HOST_ADDRESSES   `host=address` pairs, comma separated, used instead of DNS for the hosts they
                               name: local runs map algo-1, algo-2, … to 127.0.0.1
  MLCONTAINER_TRACKER_PORT     the tracker's port on the leader (default 9099, as SageMaker's XGBoost
                               container); the coordinator listens on the next port
  MLCONTAINER_STARTUP_TIMEOUT_SECONDS    how long hosts wait for each other's DNS and ports (default 600)
  MLCONTAINER_HEARTBEAT_TIMEOUT_SECONDS  silence after which a host is declared lost (default 60)
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, ContainerError, DataError

log = logging.getLogger("mlcontainer.distributed")

HOST_ADDRESSES_ENV = "MLCONTAINER_HOST_ADDRESSES"
TRACKER_PORT_ENV = "MLCONTAINER_TRACKER_PORT"
STARTUP_TIMEOUT_ENV = "MLCONTAINER_STARTUP_TIMEOUT_SECONDS"
HEARTBEAT_TIMEOUT_ENV = "MLCONTAINER_HEARTBEAT_TIMEOUT_SECONDS"
DEFAULT_TRACKER_PORT = 9099
DEFAULT_STARTUP_TIMEOUT = 600.0
DEFAULT_HEARTBEAT_TIMEOUT = 60.0
HEARTBEAT_INTERVAL = 2.0
# After a peer's abort arrives, the main thread gets this long to finish its own error handling; a main thread
# blocked inside an XGBoost collective call cannot be interrupted, so the process then ends itself.
ABORT_GRACE_SECONDS = 3.0
# How long a host whose XGBoost call failed waits for the coordinator to say which host caused it.
PEER_VERDICT_SECONDS = 5.0


class ClusterError(ContainerError):
    """The hosts of a multi-instance job could not start, or one of them failed."""

    exit_code = 1
    category = "ClusterError"


@dataclass(frozen=True)
class Cluster:
    """Who is who in a multi-host job; pure data, derived from resourceconfig.json and the environment."""

    hosts: tuple[str, ...]  # sorted: rank = index
    current_host: str
    addresses: Mapping[str, str]  # overrides of DNS, from MLCONTAINER_HOST_ADDRESSES
    tracker_port: int
    startup_timeout: float
    heartbeat_timeout: float

    @property
    def rank(self) -> int:
        return self.hosts.index(self.current_host)

    @property
    def leader(self) -> str:
        return self.hosts[0]

    @property
    def is_leader(self) -> bool:
        return self.rank == 0

    @property
    def coordinator_port(self) -> int:
        return self.tracker_port + 1

    @property
    def size(self) -> int:
        return len(self.hosts)


def _parse_addresses(text: str) -> dict[str, str]:
    addresses: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, sep, address = item.partition("=")
        if not sep or not host.strip() or not address.strip():
            raise ConfigError(
                f"{HOST_ADDRESSES_ENV}: {item!r} is not host=address "
                "(expected e.g. algo-1=127.0.0.1,algo-2=127.0.0.1)"
            )
        addresses[host.strip()] = address.strip()
    return addresses


def _positive_number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"{name}={raw!r}: expected a positive number of seconds")
    return value


def free_port_pair(address: str = "127.0.0.1", attempts: int = 50) -> int:
    """A free port p whose p + 1 (the coordinator's) is free too, within what plan_cluster accepts.

    For several hosts on one machine (the tests, the distributed benchmark): on SageMaker every host has its own
    address and the default port serves. The ports are only probed, so another process may still take them first.
    """
    for _ in range(attempts):
        with socket.socket() as s:
            s.bind((address, 0))
            port = s.getsockname()[1]
        if not 1024 <= port <= 65534:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind((address, port))
                b.bind((address, port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError(f"no two adjacent free ports on {address} after {attempts} attempts")


def plan_cluster(hosts: tuple[str, ...], current_host: str, environ: Mapping[str, str] = os.environ) -> Cluster:
    """The cluster of a job with more than one host (resourceconfig.json already validated the names)."""
    port_text = environ.get(TRACKER_PORT_ENV) or str(DEFAULT_TRACKER_PORT)
    if not port_text.isdigit() or not 1024 <= int(port_text) <= 65534:
        raise ConfigError(f"{TRACKER_PORT_ENV}={port_text!r}: expected a port in [1024, 65534] (the next one is used too)")
    addresses = _parse_addresses(environ.get(HOST_ADDRESSES_ENV, ""))
    unknown = sorted(set(addresses) - set(hosts))
    if unknown:
        raise ConfigError(
            f"{HOST_ADDRESSES_ENV} names host(s) {', '.join(unknown)} that resourceconfig.json does not list "
            f"(hosts: {', '.join(hosts)})"
        )
    return Cluster(
        hosts=tuple(sorted(hosts)),
        current_host=current_host,
        addresses=addresses,
        tracker_port=int(port_text),
        startup_timeout=_positive_number(environ, STARTUP_TIMEOUT_ENV, DEFAULT_STARTUP_TIMEOUT),
        heartbeat_timeout=_positive_number(environ, HEARTBEAT_TIMEOUT_ENV, DEFAULT_HEARTBEAT_TIMEOUT),
    )


def resolve(cluster: Cluster, host: str, deadline: float) -> str:
    """The host's IPv4 address. SageMaker documents that a host's DNS name may not resolve at once when the
    cluster boots (developer guide, "Distributed Training Configuration"), so retry until the deadline."""
    if host in cluster.addresses:
        return cluster.addresses[host]
    delay = 0.2
    while True:
        try:
            return socket.gethostbyname(host)
        except OSError as exc:
            if time.monotonic() + delay > deadline:
                raise ClusterError(
                    f"the name {host} did not resolve within "
                    f"{cluster.startup_timeout:g} s ({exc}); all hosts of the job must be reachable by name"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _send(sock: socket.socket, lock: threading.Lock, message: Mapping[str, Any]) -> bool:
    data = (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")
    try:
        with lock:
            sock.sendall(data)
        return True
    except OSError:
        return False


class _Lines:
    """Newline-delimited JSON from a socket with a silence timeout: returns None on EOF, error or silence."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.buffer = b""
        sock.settimeout(timeout)

    def next(self) -> dict | None:
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except OSError:  # includes socket.timeout
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None


@dataclass
class _Peer:
    host: str
    sock: socket.socket
    lock: threading.Lock = field(default_factory=threading.Lock)


class Coordinator:
    """Runs on the leader: every host's lifeline. The first failure it hears of is broadcast as the verdict."""

    def __init__(self, cluster: Cluster, bind_address: str) -> None:
        self.cluster = cluster
        self.server = socket.create_server((bind_address, cluster.coordinator_port), reuse_port=False)
        self.server.settimeout(0.5)
        self.peers: dict[str, _Peer] = {}
        self.done: set[str] = set()
        self.verdict: tuple[str, str] | None = None
        self.finished = False
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.finish_sent = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._accept, name="coordinator-accept", daemon=True).start()
        threading.Thread(target=self._watch, name="coordinator-watch", daemon=True).start()

    def close(self) -> None:
        self.closing.set()
        with self.lock:
            socks = [self.server, *(peer.sock for peer in self.peers.values())]
        for sock in socks:
            try:
                sock.close()
            except OSError:
                pass

    def _broadcast(self, message: Mapping[str, Any]) -> None:
        with self.lock:
            peers = list(self.peers.values())
        for peer in peers:
            _send(peer.sock, peer.lock, message)

    def abort(self, host: str, reason: str) -> None:
        with self.lock:
            if self.verdict is not None or self.finished:
                return
            self.verdict = (host, reason)
        log.error("host %s failed: %s; stopping every host", host, reason)
        self._broadcast({"op": "abort", "host": host, "reason": reason})

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                sock, _ = self.server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), name="coordinator-peer", daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        lines = _Lines(sock, self.cluster.heartbeat_timeout)
        hello = lines.next()
        host = hello.get("host") if hello and hello.get("op") == "hello" else None
        if host not in self.cluster.hosts:
            sock.close()
            return
        peer = _Peer(host, sock)
        with self.lock:
            self.peers[host] = peer
            verdict = self.verdict
        if verdict is not None:  # joined after the job already failed
            _send(sock, peer.lock, {"op": "abort", "host": verdict[0], "reason": verdict[1]})
        while True:
            message = lines.next()
            if message is None:
                with self.lock:
                    ended_well = host in self.done or self.finished
                if not ended_well:
                    self.abort(host, "lost contact: its process ended or it sent nothing for "
                                     f"{self.cluster.heartbeat_timeout:g} s")
                return
            op = message.get("op")
            if op == "fail":
                self.abort(host, str(message.get("reason", "failed")))
            elif op == "done":
                with self.lock:
                    self.done.add(host)
                    complete = len(self.done) == self.cluster.size and self.verdict is None
                    if complete:
                        self.finished = True
                if complete:
                    self._broadcast({"op": "finish"})
                    self.finish_sent.set()

    def _watch(self) -> None:
        """Join deadline and heartbeats to every connected host."""
        deadline = time.monotonic() + self.cluster.startup_timeout
        while not self.closing.is_set():
            with self.lock:
                missing = [h for h in self.cluster.hosts if h not in self.peers]
                over = self.verdict is not None or self.finished
            if over:
                return
            if missing and time.monotonic() > deadline:
                self.abort(", ".join(missing), f"did not join within {self.cluster.startup_timeout:g} s "
                                               "(instance not started, wrong address, or port blocked)")
                return
            self._broadcast({"op": "ping"})
            self.closing.wait(HEARTBEAT_INTERVAL)


class Lifeline:
    """Every host's connection to the coordinator: heartbeats out, the verdict in."""

    def __init__(self, cluster: Cluster, on_abort: Callable[[str, str], None]) -> None:
        self.cluster = cluster
        self.on_abort = on_abort
        self.sock: socket.socket | None = None
        self.send_lock = threading.Lock()
        self.verdict: tuple[str, str] | None = None
        self.verdict_event = threading.Event()
        self.finished = threading.Event()
        self.closing = threading.Event()

    def connect(self, leader_address: str, deadline: float) -> None:
        """Wait (with the startup deadline) for the leader's coordinator port to accept us."""
        delay = 0.2
        while True:
            try:
                sock = socket.create_connection((leader_address, self.cluster.coordinator_port), timeout=5)
                break
            except OSError as exc:
                if time.monotonic() + delay > deadline:
                    raise ClusterError(
                        f"could not reach the leader {self.cluster.leader} at "
                        f"{leader_address}:{self.cluster.coordinator_port} within {self.cluster.startup_timeout:g} s "
                        f"({exc})"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        self.sock = sock
        _send(sock, self.send_lock, {"op": "hello", "host": self.cluster.current_host})
        threading.Thread(target=self._read, name="lifeline-read", daemon=True).start()
        threading.Thread(target=self._beat, name="lifeline-beat", daemon=True).start()

    def _set_verdict(self, host: str, reason: str) -> None:
        if self.verdict is None:
            self.verdict = (host, reason)
            self.verdict_event.set()
            if host != self.cluster.current_host:
                self.on_abort(host, reason)

    def _read(self) -> None:
        assert self.sock is not None
        lines = _Lines(self.sock, self.cluster.heartbeat_timeout)
        while True:
            message = lines.next()
            if message is None:
                if not (self.finished.is_set() or self.closing.is_set()):
                    self._set_verdict(self.cluster.leader, "lost contact with the leader's coordinator: its process "
                                      f"ended or it sent nothing for {self.cluster.heartbeat_timeout:g} s")
                return
            op = message.get("op")
            if op == "abort":
                self._set_verdict(str(message.get("host")), str(message.get("reason")))
            elif op == "finish":
                self.finished.set()
                return

    def _beat(self) -> None:
        while not (self.closing.is_set() or self.finished.is_set()):
            if self.sock is None or not _send(self.sock, self.send_lock, {"op": "ping"}):
                return
            self.closing.wait(HEARTBEAT_INTERVAL)

    def fail(self, reason: str) -> None:
        """Report this host's own failure and wait briefly for the coordinator to pass it on."""
        if self.sock is not None and _send(self.sock, self.send_lock, {"op": "fail", "reason": reason}):
            self.verdict_event.wait(PEER_VERDICT_SECONDS)

    def peer_verdict(self, wait: float) -> tuple[str, str] | None:
        """Another host's failure, if the coordinator reports one within `wait` seconds."""
        self.verdict_event.wait(wait)
        if self.verdict is not None and self.verdict[0] != self.cluster.current_host:
            return self.verdict
        return None

    def complete(self, timeout: float) -> None:
        """Tell the coordinator this host succeeded; wait until every host has (or one failed)."""
        if self.sock is not None:
            _send(self.sock, self.send_lock, {"op": "done"})
        started = time.monotonic()
        while not self.finished.is_set():
            if self.verdict is not None:
                raise PeerFailed(*self.verdict)
            if time.monotonic() - started > timeout:
                raise ClusterError(f"the other hosts did not finish within {timeout:g} s of host "
                                   f"{self.cluster.current_host}")
            self.finished.wait(0.2)

    def close(self) -> None:
        self.closing.set()
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass


class PeerFailed(ClusterError):
    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"host {host} failed, so this job stopped on every host: {reason}")
        self.host = host


def peer_failure_text(this_host: str, host: str, reason: str) -> str:
    return f"{PeerFailed.category}: host {host} failed, so host {this_host} stopped too: {reason}"


def _end_process(code: int) -> None:
    """End a failed host now. XGBoost's collective may still be initialised with broken peers, and its native
    teardown at interpreter exit crashed here (SIGSEGV) instead of returning the exit code."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    logging.shutdown()
    os._exit(code)


class Session:
    """One host's part of a multi-host job: lifeline, tracker (leader), collective membership."""

    def __init__(self, cluster: Cluster, write_failure_text: Callable[[str], None],
                 end_process: Callable[[int], None] | None = None) -> None:
        self.cluster = cluster
        self.write_failure_text = write_failure_text
        self.end_process = end_process or _end_process
        self.coordinator: Coordinator | None = None
        self.tracker: Any = None
        self.lifeline = Lifeline(cluster, self._on_peer_abort)
        self.failure_lock = threading.Lock()
        self.failure_written = False
        self.collective: Any = None
        self.leader_address = ""

    # ------------------------------------------------------------------ failures
    def _write_once(self, text: str) -> bool:
        """The abort path's write; the main thread's handle_failure claims the same flag."""
        with self.failure_lock:
            if self.failure_written:
                return False
            self.failure_written = True
        self.write_failure_text(text)
        return True

    def _on_peer_abort(self, host: str, reason: str) -> None:
        """Called on the lifeline's thread: the main thread may be stuck in a collective call, so end the
        process ourselves unless the main thread handles the failure within the grace period."""
        def end_if_unhandled() -> None:
            time.sleep(ABORT_GRACE_SECONDS)
            if self._write_once(peer_failure_text(self.cluster.current_host, host, reason)):
                log.error("host %s failed (%s); ending host %s", host, reason, self.cluster.current_host)
                self.exit(PeerFailed.exit_code)

        threading.Thread(target=end_if_unhandled, name="abort-grace", daemon=True).start()

    def handle_failure(self, exc: BaseException, own_text: str) -> str | None:
        """The failure text this host should write, or None if another host's failure was already written.

        An error of this host's own (configuration, data, stop request) is reported to the coordinator and
        named after this host. Anything else (XGBoost's "Ring Allreduce failed") is most likely the effect of
        another host's failure, so the coordinator's verdict is awaited briefly and named instead.
        """
        text = own_text
        if not isinstance(exc, ContainerError) or isinstance(exc, PeerFailed):
            verdict = self.lifeline.peer_verdict(PEER_VERDICT_SECONDS)
            if verdict is not None:
                text = peer_failure_text(self.cluster.current_host, *verdict)
        if text is own_text:
            self.lifeline.fail(own_text.split("\n\n", 1)[0].strip())
        with self.failure_lock:
            if self.failure_written:
                return None
            self.failure_written = True
        return text

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Wait for the peers (DNS and ports, with the startup deadline) and join the coordinator."""
        c = self.cluster
        deadline = time.monotonic() + c.startup_timeout
        self.leader_address = resolve(c, c.leader, deadline)
        if c.is_leader:
            self.coordinator = Coordinator(c, self.leader_address)
            self.coordinator.start()
        self.lifeline.connect(self.leader_address, deadline)
        log.info("host %s is rank %d of %d (leader %s at %s, tracker port %d)",
                 c.current_host, c.rank, c.size, c.leader, self.leader_address, c.tracker_port)

    def join_collective(self) -> None:
        """Start the tracker (leader) and join XGBoost's collective with this host's rank."""
        from xgboost import collective
        from xgboost.tracker import RabitTracker

        c = self.cluster
        timeout = int(c.startup_timeout)
        if c.is_leader:
            # sortby="task": ranks follow dmlc_task_id rather than connection order, so rank = sorted position.
            self.tracker = RabitTracker(n_workers=c.size, host_ip=self.leader_address, port=c.tracker_port,
                                        sortby="task", timeout=timeout)
            self.tracker.start()
        self.collective = collective.CommunicatorContext(
            dmlc_tracker_uri=self.leader_address, dmlc_tracker_port=c.tracker_port,
            # zero-padded: the tracker sorts task ids as strings
            # XGBoost's own timeout per collective call: generous, since hosts with larger shards reach the first
            # all-reduce later; a dead or silent host is the coordinator's to detect (heartbeats).
            dmlc_task_id=f"{c.rank:05d}", dmlc_timeout=timeout, dmlc_retry=3,
        )
        self.collective.__enter__()
        rank, world = collective.get_rank(), collective.get_world_size()
        if rank != c.rank or world != c.size:
            raise ClusterError(f"XGBoost assigned rank {rank} of {world}, "
                               f"expected {c.rank} of {c.size}")

    def join(self, train: Any) -> int:
        """Join the collective; returns the train rows of all hosts, refusing a job whose shards hold no rows
        or a single class (AUC needs both)."""
        self.join_collective()
        rows, positives = self.allreduce_sum([train.rows, float(train.labels.sum())])
        log.info("host %s: %d of %d train rows", self.cluster.current_host, train.rows, int(rows))
        if rows == 0:
            raise DataError(f"no host received train rows ({self.cluster.size} hosts): the train channel is empty")
        if positives in (0, rows):
            raise DataError(f"all {int(rows)} train labels across the hosts are {int(positives > 0)}; "
                            "AUC needs both classes")
        return int(rows)

    def allreduce_sum(self, values: list[float]) -> list[float]:
        import numpy as np
        from xgboost import collective

        return [float(v) for v in collective.allreduce(np.asarray(values, dtype=np.float64), collective.Op.SUM)]

    def leave_collective(self) -> None:
        if self.collective is not None:
            self.collective.__exit__(None, None, None)
            self.collective = None
        if self.tracker is not None:
            try:
                self.tracker.wait_for(timeout=30)
            except Exception as exc:  # noqa: BLE001 - the workers are gone either way
                log.warning("tracker shutdown: %s", exc)

    def complete(self) -> None:
        self.lifeline.complete(timeout=self.cluster.startup_timeout)
        if self.coordinator is not None:
            # The leader hears "finish" on its own connection, possibly before the others do: leaving now would
            # close the coordinator under them and they would fail with "lost contact".
            self.coordinator.finish_sent.wait(timeout=10)

    def exit(self, code: int) -> None:
        self.end_process(code)

    def close(self) -> None:
        self.lifeline.close()
        if self.coordinator is not None:
            self.coordinator.close()


def shard_is_empty(channel_dir: Path) -> bool:
    """True when the host got no train data: no CSV files at all, or only empty ones (Spark writes empty parts)."""
    from .dataset import channel_files

    try:
        files = channel_files(channel_dir)
    except DataError:
        return True
    return all(p.stat().st_size == 0 for p in files)


_SESSION: Session | None = None


def current_session() -> Session | None:
    return _SESSION


def start_session(resources: Any, write_failure_text: Callable[[str], None],
                  environ: Mapping[str, str] = os.environ) -> Session | None:
    """None for a single-host job; otherwise this host's session, started (peers reached, lifeline up)."""
    global _SESSION
    if len(resources.hosts) < 2:
        return None
    cluster = plan_cluster(tuple(resources.hosts), resources.current_host, environ)
    if len(set(cluster.addresses.values())) < len(cluster.addresses) and "OMP_WAIT_POLICY" not in os.environ:
        # Several hosts on one machine (local runs): XGBoost's OpenMP threads spin while their process waits in
        # an allreduce, starving the other processes of the shared cores (measured here: 70 s against 0.6 s
        # for the same 2-host job). libgomp reads this when XGBoost is loaded, which has not happened yet.
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    session = Session(cluster, write_failure_text)
    _SESSION = session
    session.start()
    return session


def empty_split(validation: Any) -> Any:
    """A zero-row train shard with the validation set's width (the host got no train files)."""
    import numpy as np

    from .dataset import Split

    log.warning("this host received no train rows (more instances than train files); it joins with an empty "
                "shard and the other hosts' data trains the model")
    return Split(name="train", labels=np.empty(0, dtype=np.float32),
                 features=np.empty((0, validation.feature_count), dtype=np.float32), files=())
