"""`serve`: SageMaker inference entrypoint — a pre-fork supervisor over one uvicorn worker per core.

The supervisor binds the port first (SageMaker expects connections accepted within 250 ms of start; the
kernel queues them while workers boot), reads the model files with the privileges it started with, then forks
the workers. Each worker drops to an unprivileged user when asked (SERVE_RUN_AS; SageMaker starts containers as
root), imports XGBoost, loads the model and serves the shared socket with uvicorn (httptools + uvloop).

SIGTERM/SIGINT: workers stop accepting, finish in-flight requests, exit; the supervisor then exits 0.
A worker that dies otherwise is replaced, with backoff if it keeps dying.
"""

from __future__ import annotations

import gc
import logging
import os
import pwd
import signal
import socket
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .jobconfig import available_cpus
from .model import Artifact, ModelUnavailable, read_artifact
from .paths import opt_ml_from_env

log = logging.getLogger("mlcontainer.serve")

WATCHED_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
LISTEN_BACKLOG = 2048
# Longer than any client or load balancer idle timeout in front of us: the client, not the server, should
# close idle connections, or a request sent just as the server closes one fails.
KEEP_ALIVE_SECONDS = 75
GRACEFUL_SECONDS = 30.0  # in-flight requests get this long after SIGTERM (SageMaker allows 60 s per request)
RESPAWN_BACKOFF_MAX = 10.0
HEALTHY_LIFETIME = 30.0  # a worker that lived this long resets its crash backoff


@dataclass(frozen=True)
class ServeSettings:
    host: str
    port: int
    workers: int
    model_dir: Path
    run_as: str | None
    log_level: str


def _int_setting(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must be an integer") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} must be in [{low}, {high}]")
    return value


def settings_from_env(environ: Mapping[str, str] = os.environ) -> ServeSettings:
    return ServeSettings(
        host=environ.get("SERVE_HOST", "").strip() or "0.0.0.0",
        port=_int_setting(environ, "SAGEMAKER_BIND_TO_PORT", 8080, 1, 65535),
        workers=_int_setting(environ, "MODEL_SERVER_WORKERS", available_cpus(), 1, 256),
        model_dir=opt_ml_from_env(environ).model_dir,
        run_as=environ.get("SERVE_RUN_AS", "").strip() or None,
        log_level=(environ.get("LOG_LEVEL", "").strip() or "INFO").upper(),
    )


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    return sock


def drop_privileges(user: str | None) -> None:
    """Serve untrusted input as `user` when started as root; a no-op otherwise."""
    if not user or os.geteuid() != 0:
        return
    try:
        record = pwd.getpwnam(user)
    except KeyError:
        log.warning("SERVE_RUN_AS=%s: no such user; the worker keeps running as root", user)
        return
    os.setgroups([])
    os.setgid(record.pw_gid)
    os.setuid(record.pw_uid)


def run_worker(settings: ServeSettings, sock: socket.socket, artifact: Artifact | ModelUnavailable) -> int:
    """The body of one forked worker process; returns its exit code."""
    early_stop: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Until uvicorn installs its handlers, remember a stop request instead of dying mid-import.
        signal.signal(sig, lambda signum, _frame: early_stop.append(signum))
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    drop_privileges(settings.run_as)
    # One thread per worker everywhere: the workers already occupy every core.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"

    import uvicorn

    from .app import InferenceApp, warm_up
    from .model import LoadedModel, ModelState, load_model

    state: ModelState = load_model(artifact)
    if isinstance(state, LoadedModel):
        try:
            warm_up(state)
        except Exception as exc:  # noqa: BLE001 - a model that cannot answer must fail /ping, not the worker
            state = ModelUnavailable(f"model failed its warm-up requests: {type(exc).__name__}: {exc}")
    if isinstance(state, LoadedModel):
        log.info("model loaded: %d features, predictor %s", state.feature_count, type(state.predictor).__name__)
    elif isinstance(artifact, Artifact):  # the supervisor already logged a failure to read the files
        log.error("%s; /ping answers 503", state.reason)
    if early_stop:
        return 0
    app = InferenceApp(state, workers=settings.workers)
    config = uvicorn.Config(
        app,
        interface="asgi3",
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=int(GRACEFUL_SECONDS),
        backlog=LISTEN_BACKLOG,
    )
    config.load()
    # Everything allocated so far (XGBoost, numpy, uvicorn: ~80k objects) lives as long as the worker. A full
    # garbage collection walks all of it, ~50 ms during which this worker answers nothing: the p99. Frozen
    # objects are skipped, so collections only see what requests allocate.
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run(sockets=[sock])
    app.close()
    return 0


@dataclass
class _Child:
    index: int
    started: float


class Supervisor:
    def __init__(self, settings: ServeSettings, sock: socket.socket, artifact: Artifact | ModelUnavailable) -> None:
        self.settings = settings
        self.sock = sock
        self.artifact = artifact
        self.children: dict[int, _Child] = {}
        self.due: dict[int, float] = {}  # worker index -> when to (re)spawn it
        self.failures: dict[int, int] = {}
        self.stopping = False
        self.kill_at = 0.0
        self.resend_at = 0.0
        self.forced = False

    def _spawn(self, index: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = run_worker(self.settings, self.sock, self.artifact)
            except BaseException:  # noqa: BLE001 - report, then leave through os._exit below
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.children[pid] = _Child(index=index, started=time.monotonic())

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            if self.stopping:
                continue
            lived = time.monotonic() - child.started
            failures = 0 if lived >= HEALTHY_LIFETIME else self.failures.get(child.index, 0) + 1
            self.failures[child.index] = failures
            delay = min(RESPAWN_BACKOFF_MAX, 0.1 * 2 ** (failures - 1)) if failures else 0.0
            log.error("worker %d (pid %d) exited unexpectedly (%s) after %.1f s; restarting in %.1f s",
                      child.index, pid, _describe_status(status), lived, delay)
            self.due[child.index] = time.monotonic() + delay

    def _begin_stop(self, signum: int) -> None:
        self.stopping = True
        self.due.clear()
        now = time.monotonic()
        self.kill_at = now + GRACEFUL_SECONDS + 5.0
        self.resend_at = now + 1.0
        log.info("%s received: finishing in-flight requests, then exiting", signal.Signals(signum).name)
        # The workers close their copies; once this one is closed too, new connections are refused at once
        # instead of waiting in a backlog nobody will accept from.
        self.sock.close()
        self._signal_children(signal.SIGTERM)

    def _signal_children(self, sig: int) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        for index in range(self.settings.workers):
            self._spawn(index)
        log.info("listening on %s:%d with %d worker(s)", self.settings.host, self.settings.port,
                 self.settings.workers)
        while True:
            self._reap()
            now = time.monotonic()
            if self.stopping:
                if not self.children:
                    break
                if now >= self.kill_at:
                    log.error("workers still busy %.0f s after SIGTERM: killing them", GRACEFUL_SECONDS)
                    self._signal_children(signal.SIGKILL)
                    self.forced = True
                elif now >= self.resend_at:
                    # A worker that was still booting when the first SIGTERM came may have missed it.
                    self._signal_children(signal.SIGTERM)
                    self.resend_at = now + 1.0
            else:
                for index, when in list(self.due.items()):
                    if when <= now:
                        del self.due[index]
                        self._spawn(index)
            timeout = 0.1 if (self.stopping or self.due) else 1.0
            info = signal.sigtimedwait(WATCHED_SIGNALS, timeout)
            if info is not None and info.si_signo in (signal.SIGTERM, signal.SIGINT) and not self.stopping:
                self._begin_stop(info.si_signo)
        log.info("all workers stopped")
        return 1 if self.forced else 0


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else "INFO",
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main() -> int:
    # Block the signals first: a SIGTERM during start-up waits for the supervisor loop instead of being lost.
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED_SIGNALS)
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Never runs (sigtimedwait takes the blocked signal first); it only stops the kernel from discarding
        # SIGTERM sent to a container's PID 1 whose disposition is the default.
        signal.signal(sig, lambda _signum, _frame: None)
    try:
        settings = settings_from_env()
    except ConfigError as exc:
        configure_logging("INFO")
        log.error("invalid serving configuration: %s", exc)
        return 2
    configure_logging(settings.log_level)
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", settings.host, settings.port, exc)
        return 1
    artifact = read_artifact(settings.model_dir)
    if isinstance(artifact, ModelUnavailable):
        log.error("model not loaded: %s; /ping answers 503", artifact.reason)
    return Supervisor(settings, sock, artifact).run()
