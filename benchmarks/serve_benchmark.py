#!/usr/bin/env python3
"""Serving benchmark: our `serve` against the reference stack (Flask + gunicorn sync workers), same model.

    .venv/bin/python benchmarks/serve_benchmark.py                 # trains a small model first
    .venv/bin/python benchmarks/serve_benchmark.py --model-dir /tmp/opt_ml/model --duration 5

For 1, 10 and 100 rows per request it measures, one after the other on loopback:
  * floor: the prediction alone, in this process, one thread (what no server can beat per core);
  * ours: model-container/bin/serve (one uvicorn worker per core);
  * reference: benchmarks/reference_flask_app.py under gunicorn, sync workers, one per core.
Load: keep-alive HTTP/1.1 clients (asyncio + uvloop, raw sockets), a fixed number of connections each sending
its next request as soon as the previous answer is complete (closed loop). The reference closes every
connection (gunicorn sync workers do not keep alive), so its clients reconnect, and that time is counted.
Both servers run side by side; each scenario is run --repeats times, alternating which server goes first, and
the median run (by throughput) is reported.

Honest caveat: the load generator runs on the same machine and competes with the server for its cores (2 here;
the "client cores" column says how much it used), so absolute numbers understate what a server gets on a
dedicated instance; both servers face the same client. The load average is printed too: other processes on a
shared machine add noise, mostly to the tails. Requests are bounded (--duration per run, --max-requests) and go
to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = "ours (uvicorn raw ASGI)"
REFERENCE = "reference (flask+gunicorn)"
CONTAINER = ROOT / "model-container"
sys.path.insert(0, str(CONTAINER))


# ---------------------------------------------------------------------------------------------------- model
def write_training_job(opt_ml: Path, rows: int, features: int, seed: int) -> None:
    """A churn-like problem: a few informative features, the rest noise, values rounded like real data."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    x[:, :3] = np.round(x[:, :3] * 10 + 50, 1)
    logit = 0.15 * (x[:, 0] - 50) - 0.1 * (x[:, 1] - 50) + 0.6 * x[:, 3] * x[:, 4] + 0.4 * np.sin(x[:, 5] * 2)
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    data = np.column_stack([y, np.round(x, 4)])
    cut = int(rows * 0.8)
    for channel, block in (("train", data[:cut]), ("validation", data[cut:])):
        folder = opt_ml / "input" / "data" / channel
        folder.mkdir(parents=True, exist_ok=True)
        np.savetxt(folder / "part-00000.csv", block, delimiter=",", fmt="%.6g")
    config = opt_ml / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(
        {"num_round": "300", "max_depth": "6", "eta": "0.1", "early_stopping_rounds": "30"}))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {"train": {"ContentType": "text/csv"}, "validation": {"ContentType": "text/csv"}}))


def train_model(opt_ml: Path) -> Path:
    write_training_job(opt_ml, rows=20_000, features=20, seed=7)
    env = {**os.environ, "OPT_ML_DIR": str(opt_ml)}
    done = subprocess.run([sys.executable, str(CONTAINER / "bin" / "train")], env=env, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"training failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return opt_ml / "model"


def request_bodies(model_dir: Path, rows: int, count: int = 64) -> list[bytes]:
    """CSV bodies made of validation-like rows (the model's own feature count), `rows` rows each."""
    import numpy as np

    metadata = json.loads((model_dir / "metadata.json").read_text())
    rng = np.random.default_rng(rows)
    n = metadata["featureCount"]
    bodies = []
    for _ in range(count):
        x = rng.normal(size=(rows, n))
        x[:, :3] = np.round(x[:, :3] * 10 + 50, 1)
        x = np.round(x, 4)
        bodies.append(("\n".join(",".join(f"{v:.6g}" for v in row) for row in x) + "\n").encode())
    return bodies


# ---------------------------------------------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before answering /ping")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"no /ping 200 on port {port} within {timeout} s")


def start_ours(model_dir: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "OPT_ML_DIR": str(model_dir.parent), "SAGEMAKER_BIND_TO_PORT": str(port),
           "SERVE_HOST": "127.0.0.1", "MODEL_SERVER_WORKERS": str(workers), "LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, str(CONTAINER / "bin" / "serve")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_reference(model_dir: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "MODEL_DIR": str(model_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
         "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT / "benchmarks"), "--log-level", "warning",
         "--backlog", "2048", "reference_flask_app:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------------- load
class _Load:
    def __init__(self, requests: list[bytes], warmup_ns: int, duration_ns: int, max_requests: int) -> None:
        self.requests = requests
        self.sent = 0
        self.running = True
        self.start = time.perf_counter_ns()
        self.measure_from = self.start + warmup_ns
        self.measure_until = self.measure_from + duration_ns
        self.max_requests = max_requests
        self.latencies: list[int] = []
        self.errors = 0
        self.statuses: dict[int, int] = {}

    def next_request(self) -> bytes:
        self.sent += 1
        return self.requests[self.sent % len(self.requests)]

    def record(self, status: int, began: int, ended: int) -> None:
        if self.measure_from <= began and ended <= self.measure_until:
            self.latencies.append(ended - began)
            self.statuses[status] = self.statuses.get(status, 0) + 1
        if ended >= self.measure_until or len(self.latencies) >= self.max_requests:
            self.running = False


class _Connection(asyncio.Protocol):
    """One keep-alive connection in a closed loop; reconnects when the server closes (gunicorn sync)."""

    def __init__(self, load: _Load, port: int, began: int, done: asyncio.Future) -> None:
        self.load, self.port, self.began, self.done = load, port, began, done
        self.buffer = bytearray()
        self.need = -1
        self.status = 0
        self.closing = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send()

    def _send(self) -> None:
        self.buffer.clear()
        self.need = -1
        self.transport.write(self.load.next_request())  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if self.need < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"content-length:")
            stop_at = head.find(b"\r\n", at)
            length = int(head[at + 15: stop_at if stop_at > 0 else len(head)])
            self.closing = b"connection: close" in head
            self.need = end + 4 + length
        if len(buffer) < self.need:
            return
        now = time.perf_counter_ns()
        self.load.record(self.status, self.began, now)
        if self.status != 200:
            self.load.errors += 1
        if self.closing or not self.load.running:
            self.transport.close()  # type: ignore[union-attr]
            return
        self.began = now
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.load.running and self.closing:
            asyncio.get_running_loop().create_task(_open(self.load, self.port, time.perf_counter_ns(), self.done))
        elif not self.done.done():
            self.done.set_result(None)


async def _open(load: _Load, port: int, began: int, done: asyncio.Future) -> None:
    loop = asyncio.get_running_loop()
    try:
        await loop.create_connection(lambda: _Connection(load, port, began, done), "127.0.0.1", port)
    except OSError:
        load.errors += 1
        if not done.done():
            done.set_result(None)


async def _drive(port: int, requests: list[bytes], connections: int, warmup: float, duration: float,
                 max_requests: int) -> dict:
    load = _Load(requests, int(warmup * 1e9), int(duration * 1e9), max_requests)
    loop = asyncio.get_running_loop()
    finished = [loop.create_future() for _ in range(connections)]
    for future in finished:
        await _open(load, port, time.perf_counter_ns(), future)
    await asyncio.wait_for(asyncio.gather(*finished), timeout=warmup + duration + 30)
    return {"latencies": load.latencies, "errors": load.errors, "statuses": load.statuses}


def _client_process(args: tuple) -> dict:
    import resource

    import uvloop

    before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    outcome = uvloop.run(_drive(*args))
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    outcome["client_cores"] = used / (time.perf_counter() - began)
    return outcome


@dataclass
class Result:
    scenario: str
    rows: int
    requests_per_s: float
    rows_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    client_cores: float = 0.0  # CPU the load generator itself used, in cores (the server got the rest)


def summarise(scenario: str, rows: int, latencies_ns: list[int], seconds: float, errors: int,
              client_cores: float = 0.0) -> Result:
    ordered = sorted(latencies_ns)
    count = len(ordered)

    def pct(q: float) -> float:
        return ordered[min(count - 1, int(q * count))] / 1e6 if count else float("nan")

    rate = count / seconds if seconds else 0.0
    return Result(scenario, rows, round(rate, 1), round(rate * rows, 1), round(pct(0.5), 3), round(pct(0.99), 3),
                  count, errors, round(client_cores, 2))


def run_load(port: int, requests: list[bytes], *, processes: int, connections: int, warmup: float,
             duration: float, max_requests: int) -> tuple[list[int], int, float]:
    per_process = (port, requests, connections, warmup, duration, max_requests // processes)
    if processes == 1:
        outcome = [_client_process(per_process)]
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            outcome = pool.map(_client_process, [per_process] * processes)
    latencies = [lat for part in outcome for lat in part["latencies"]]
    return latencies, sum(part["errors"] for part in outcome), sum(part["client_cores"] for part in outcome)


# ---------------------------------------------------------------------------------------------------- floor
def floor(model_dir: Path, bodies: list[bytes], rows: int, seconds: float) -> list[Result]:
    """In-process, one thread: the official inplace_predict, our fast path, and our whole request function."""
    from mlcontainer.app import predict_body
    from mlcontainer.model import LoadedModel, load_model, read_artifact
    from mlcontainer.payload import CSV, JSON, parse_csv

    model = load_model(read_artifact(model_dir))
    assert isinstance(model, LoadedModel), model
    import xgboost as xgb

    booster = xgb.Booster(model_file=str(model_dir / model.metadata["modelFile"]))
    booster.set_param({"nthread": 1})
    matrices = [parse_csv(body, model.features) for body in bodies]
    cases = {
        "floor: inplace_predict": lambda i: booster.inplace_predict(matrices[i]),
        "floor: fast predict": lambda i: model.predictor(matrices[i]),
        "floor: parse+predict+encode": lambda i: predict_body(model, model.predictor, bodies[i], CSV, JSON),
    }
    results = []
    for name, call in cases.items():
        latencies: list[int] = []
        end = time.perf_counter() + seconds
        i = 0
        while time.perf_counter() < end and len(latencies) < 200_000:
            began = time.perf_counter_ns()
            call(i % len(bodies))
            latencies.append(time.perf_counter_ns() - began)
            i += 1
        results.append(summarise(name, rows, latencies, sum(latencies) / 1e9, 0))
    return results


# ---------------------------------------------------------------------------------------------------- main
def print_table(results: list[Result]) -> None:
    header = (f"{'scenario':<30} {'rows':>5} {'req/s':>10} {'rows/s':>11} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'requests':>9} {'errors':>6} {'client cores':>12}")
    print(header)
    print("-" * len(header))
    for r in results:
        client = f"{r.client_cores:.2f}" if r.client_cores else "-"
        print(f"{r.scenario:<30} {r.rows:>5} {r.requests_per_s:>10.1f} {r.rows_per_s:>11.1f} {r.p50_ms:>8.3f} "
              f"{r.p99_ms:>8.3f} {r.requests:>9} {r.errors:>6} {client:>12}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, help="an existing /opt/ml/model (default: train one)")
    parser.add_argument("--rows", default="1,10,100", help="rows per request, comma separated")
    parser.add_argument("--duration", type=float, default=4.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each scenario")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections per client process")
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="server workers")
    parser.add_argument("--max-requests", type=int, default=500_000, help="cap on measured requests per scenario")
    parser.add_argument("--repeats", type=int, default=3, help="runs per scenario, interleaved; the median is kept")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "serve_benchmark.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        model_dir = args.model_dir or train_model(Path(tmp) / "opt_ml")
        metadata = json.loads((model_dir / "metadata.json").read_text())
        print(f"model: {metadata['featureCount']} features, best_iteration {metadata['metrics']['best_iteration']} "
              f"({metadata['metrics']['best_iteration'] + 1} trees), validation AUC "
              f"{metadata['metrics']['validation_auc']:.4f}")
        print(f"machine: {len(os.sched_getaffinity(0))} cores shared by server and load generator; "
              f"{args.workers} server workers, {args.client_processes} client process(es) x "
              f"{args.connections} connections, {args.duration:g} s per run, median of {args.repeats} "
              f"interleaved runs; load average before: {os.getloadavg()[0]:.1f}")
        batch_sizes = [int(r) for r in args.rows.split(",")]
        bodies = {rows: request_bodies(model_dir, rows) for rows in batch_sizes}
        results: list[Result] = []
        for rows in batch_sizes:
            results.extend(floor(model_dir, bodies[rows], rows, seconds=min(args.duration, 2.0)))
        servers = {OURS: start_ours, REFERENCE: start_reference}
        running: dict[str, tuple[subprocess.Popen, int]] = {}
        try:
            for name, start in servers.items():
                port = free_port()
                running[name] = (start(model_dir, port, args.workers), port)
                wait_ready(port, running[name][0])
            for rows in batch_sizes:
                requests = [
                    b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                    b"Accept: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                    for body in bodies[rows]
                ]
                runs: dict[str, list[Result]] = {name: [] for name in servers}
                for repeat in range(args.repeats):
                    # Alternate who goes first: other load on a shared machine then hits both alike.
                    order = list(servers) if repeat % 2 == 0 else list(reversed(servers))
                    for name in order:
                        latencies, errors, client_cores = run_load(
                            running[name][1], requests, processes=args.client_processes,
                            connections=args.connections, warmup=args.warmup, duration=args.duration,
                            max_requests=args.max_requests)
                        runs[name].append(summarise(name, rows, latencies, args.duration, errors, client_cores))
                for name in servers:
                    ranked = sorted(runs[name], key=lambda r: r.requests_per_s)
                    results.append(ranked[len(ranked) // 2])  # the median run
        finally:
            for proc, _ in running.values():
                stop(proc)
        print(f"load average after: {os.getloadavg()[0]:.1f} (above {len(os.sched_getaffinity(0))}: other "
              "processes competed for the cores; compare ratios, not absolute numbers)")
        print()
        print_table(results)
        print()
        by = {(r.scenario, r.rows): r for r in results}
        ratios = []
        for rows in batch_sizes:
            ours, ref = by[(OURS, rows)], by[(REFERENCE, rows)]
            ratio = ours.requests_per_s / ref.requests_per_s if ref.requests_per_s else float("inf")
            ratios.append({"rows": rows, "throughput_ratio": round(ratio, 2),
                           "p99_ours_ms": ours.p99_ms, "p99_reference_ms": ref.p99_ms})
            print(f"{rows:>4} row(s)/request: throughput ours/reference = {ratio:.2f}x; "
                  f"p99 {ours.p99_ms:.2f} ms vs {ref.p99_ms:.2f} ms")
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"results": [asdict(r) for r in results], "ratios": ratios,
                                         "args": {k: str(v) for k, v in vars(args).items()}}, indent=2))
        print(f"\nresults: {args.json}")
        errors = sum(r.errors for r in results)
        return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
