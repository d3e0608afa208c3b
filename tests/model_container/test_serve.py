"""`bin/serve` as SageMaker runs it: a real server process on a free loopback port, spoken to over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mc_helpers import SERVE, Response, ServerProcess, TrainedJob, call, free_port

MAX_BODY = 6 * 1024 * 1024


def csv_body(rows: np.ndarray) -> bytes:
    return ("\n".join(",".join(repr(float(v)) for v in row) for row in rows) + "\n").encode()


@pytest.fixture(scope="module")
def features(trained: TrainedJob) -> np.ndarray:
    return trained.validation[:40, 1:]


@pytest.fixture(scope="module")
def expected(trained: TrainedJob, features: np.ndarray) -> np.ndarray:
    """What the trained model predicts in-process for the same rows: the server must agree to 1e-6."""
    import xgboost as xgb

    booster = xgb.Booster(model_file=str(trained.model_dir / "model.ubj"))
    return booster.predict(xgb.DMatrix(features.astype(np.float32)))


def predictions(response: Response) -> np.ndarray:
    assert response.status == 200, response.body
    if response.headers["content-type"].startswith("text/csv"):
        return np.array([float(x) for x in response.body.decode().splitlines()])
    return np.array(response.json()["predictions"])  # type: ignore[index]


def assert_workers_alive(server: ServerProcess) -> None:
    """No request may crash (or replace) a worker."""
    assert server.worker_pids() == server.initial_workers
    assert call(server.port, "GET", "/ping").status == 200


# ------------------------------------------------------------------------------------------------ happy paths
def test_ping(server: ServerProcess) -> None:
    response = call(server.port, "GET", "/ping")
    assert response.status == 200 and response.headers["content-type"] == "application/json"
    assert len(server.initial_workers) == 2  # MODEL_SERVER_WORKERS


def test_csv_single_rows_match_the_in_process_model(server: ServerProcess, features: np.ndarray,
                                                    expected: np.ndarray) -> None:
    for row, want in zip(features[:10], expected[:10]):
        response = call(server.port, "POST", "/invocations", csv_body(row[None, :]), {"Content-Type": "text/csv"})
        assert response.headers["content-type"] == "application/json"
        got = predictions(response)
        assert got.shape == (1,)
        assert got[0] == pytest.approx(float(want), abs=1e-6)


def test_csv_batch(server: ServerProcess, features: np.ndarray, expected: np.ndarray) -> None:
    response = call(server.port, "POST", "/invocations", csv_body(features), {"Content-Type": "text/csv"})
    np.testing.assert_allclose(predictions(response), expected, atol=1e-6, rtol=0)


def test_json_lists_batch(server: ServerProcess, features: np.ndarray, expected: np.ndarray) -> None:
    body = json.dumps({"instances": features.tolist()}).encode()
    response = call(server.port, "POST", "/invocations", body, {"Content-Type": "application/json"})
    np.testing.assert_allclose(predictions(response), expected, atol=1e-6, rtol=0)


def test_json_objects_keyed_by_feature_name(server: ServerProcess, trained: TrainedJob, features: np.ndarray,
                                            expected: np.ndarray) -> None:
    names = trained.metadata["features"]
    instances = [dict(reversed(list(zip(names, row.tolist())))) for row in features[:5]]  # order must not matter
    body = json.dumps({"instances": instances}).encode()
    response = call(server.port, "POST", "/invocations", body,
                    {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"})
    np.testing.assert_allclose(predictions(response), expected[:5], atol=1e-6, rtol=0)


@pytest.mark.parametrize("accept", ["text/csv", "text/csv; charset=utf-8", "text/*", "application/json;q=0.2, text/csv"])
def test_csv_response_per_accept(server: ServerProcess, features: np.ndarray, expected: np.ndarray,
                                 accept: str) -> None:
    response = call(server.port, "POST", "/invocations", csv_body(features[:7]),
                    {"Content-Type": "text/csv", "Accept": accept})
    assert response.headers["content-type"] == "text/csv"
    assert response.body.endswith(b"\n") and response.body.count(b"\n") == 7
    np.testing.assert_allclose(predictions(response), expected[:7], atol=1e-6, rtol=0)


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/*"])
def test_json_response_by_default(server: ServerProcess, features: np.ndarray, accept: str | None) -> None:
    headers = {"Content-Type": "text/csv; charset=utf-8", **({"Accept": accept} if accept else {})}
    response = call(server.port, "POST", "/invocations", csv_body(features[:2]), headers)
    assert response.status == 200 and response.headers["content-type"] == "application/json"
    assert list(response.json()) == ["predictions"] and len(response.json()["predictions"]) == 2  # type: ignore


def test_large_batch_is_answered_off_the_event_loop(server: ServerProcess, trained: TrainedJob) -> None:
    """A batch over the offload threshold (256 KiB) takes the worker thread path and gives the same answers."""
    import xgboost as xgb

    rows = np.tile(trained.validation[:, 1:], (5, 1))  # 4,000 rows, ~450 KB of CSV
    body = csv_body(rows)
    assert 256 * 1024 < len(body) < MAX_BODY
    response = call(server.port, "POST", "/invocations", body, {"Content-Type": "text/csv", "Accept": "text/csv"})
    booster = xgb.Booster(model_file=str(trained.model_dir / "model.ubj"))
    np.testing.assert_allclose(predictions(response), booster.inplace_predict(rows.astype(np.float32)), atol=1e-6)
    assert_workers_alive(server)


def test_keep_alive_connection_serves_many_requests(server: ServerProcess, features: np.ndarray) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for i in range(20):
            conn.request("POST", "/invocations", csv_body(features[i:i + 1]), {"Content-Type": "text/csv"})
            response = conn.getresponse()
            assert response.status == 200 and response.getheader("connection") != "close"
            response.read()
    finally:
        conn.close()


def test_execution_parameters_for_batch_transform(server: ServerProcess) -> None:
    response = call(server.port, "GET", "/execution-parameters")
    assert response.json() == {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}


# ------------------------------------------------------------------------------------------------ client errors
BAD_REQUESTS = [
    # (method, path, content type, accept, body, status, error)
    ("POST", "/invocations", "text/csv", None, b"", 400, "empty_body"),
    ("POST", "/invocations", "text/csv", None, b'1,"2,3,4,5,6\n', 400, "malformed_csv"),
    ("POST", "/invocations", "text/csv", None, b"1,2,3\n", 400, "wrong_feature_count"),
    ("POST", "/invocations", "text/csv", None, b"1,2,3,4,5,6\n1,2,3,4,5,6,7\n", 400, "wrong_feature_count"),
    ("POST", "/invocations", "text/csv", None, b"1,2,abc,4,5,6\n", 400, "non_numeric_value"),
    ("POST", "/invocations", "text/csv", None, b"1,2,,4,5,6\n", 400, "non_numeric_value"),
    ("POST", "/invocations", "text/csv", None, b"1,2,NaN,4,5,6\n", 400, "non_finite_value"),
    ("POST", "/invocations", "text/csv", None, b"1,2,3,inf,5,6\n", 400, "non_finite_value"),
    ("POST", "/invocations", "text/csv", None, b"\xff\xfe\x00,1,2,3,4,5\n", 400, "non_numeric_value"),
    ("POST", "/invocations", "application/json", None, b"", 400, "empty_body"),
    ("POST", "/invocations", "application/json", None, b'{"instances": [[1,2,3', 400, "invalid_json"),
    ("POST", "/invocations", "application/json", None, b'{"rows": [[1,2,3,4,5,6]]}', 400, "invalid_payload"),
    ("POST", "/invocations", "application/json", None, b'{"instances": [[1,2,3]]}', 400, "wrong_feature_count"),
    ("POST", "/invocations", "application/json", None, b'{"instances": [[1,2,"x",4,5,6]]}', 400, "non_numeric_value"),
    ("POST", "/invocations", "application/json", None, b'{"instances": [[1,2,1e39,4,5,6]]}', 400, "non_finite_value"),
    ("POST", "/invocations", "application/json", None, b'{"instances": [{"f0": 1}]}', 400, "missing_feature"),
    ("POST", "/invocations", "text/plain", None, b"1,2,3,4,5,6", 415, "unsupported_media_type"),
    ("POST", "/invocations", None, None, b"1,2,3,4,5,6", 415, "unsupported_media_type"),
    ("POST", "/invocations", "text/csv", "application/x-protobuf", b"1,2,3,4,5,6", 406, "not_acceptable"),
    ("GET", "/invocations", None, None, None, 405, "method_not_allowed"),
    ("POST", "/ping", "text/csv", None, b"", 405, "method_not_allowed"),
    ("GET", "/predict", None, None, None, 404, "not_found"),
]


@pytest.mark.parametrize(("method", "path", "content_type", "accept", "body", "status", "error"), BAD_REQUESTS,
                         ids=[f"{r[5]}-{r[6]}-{i}" for i, r in enumerate(BAD_REQUESTS)])
def test_client_errors_are_4xx_json(server: ServerProcess, method: str, path: str, content_type: str | None,
                                    accept: str | None, body: bytes | None, status: int, error: str) -> None:
    headers = {k: v for k, v in (("Content-Type", content_type), ("Accept", accept)) if v}
    response = call(server.port, method, path, body, headers)
    assert response.status == status, response.body
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert set(document) == {"error", "detail"} and document["error"] == error  # type: ignore[arg-type]
    assert isinstance(document["detail"], str) and document["detail"]  # type: ignore[index]
    if status == 405:
        assert response.headers["allow"] in ("POST", "GET")
    assert_workers_alive(server)


def test_body_over_6_mib_by_content_length_is_413(server: ServerProcess, features: np.ndarray) -> None:
    """Refused from the Content-Length alone; the connection stays usable (the server drains the body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/invocations", b"1" * (MAX_BODY + 1), {"Content-Type": "text/csv"})
        response = conn.getresponse()
        document = json.loads(response.read())
        assert response.status == 413 and document["error"] == "payload_too_large"
        assert "6291456" in document["detail"]
        conn.request("POST", "/invocations", csv_body(features[:1]), {"Content-Type": "text/csv"})
        follow_up = conn.getresponse()
        assert follow_up.status == 200 and len(json.loads(follow_up.read())["predictions"]) == 1
    finally:
        conn.close()
    assert_workers_alive(server)


def test_chunked_body_over_6_mib_is_413(server: ServerProcess) -> None:
    """No Content-Length: the cap applies while reading."""
    chunk = b"1,2,3,4,5,6\n" * (1024 * 1024 // 12)

    def chunks():
        for _ in range(8):
            yield chunk

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/invocations", chunks(), {"Content-Type": "text/csv", "Transfer-Encoding": "chunked"},
                     encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"] == "payload_too_large"
    finally:
        conn.close()
    assert_workers_alive(server)


def _raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(request)
        client.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := client.recv(65536):
            reply += chunk
    return reply


def test_refusing_an_expect_100_continue_request_closes_its_connection(server: ServerProcess) -> None:
    """The client holds its body back until "100 Continue", which a refusal never sends: the connection is
    left unusable, so the server closes it; other refusals keep their connection."""
    head = b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
    waiting = _raw_exchange(server.port, head + b"Expect: 100-continue\r\n\r\n")
    assert waiting.startswith(b"HTTP/1.1 415") and b"\r\nconnection: close\r\n" in waiting.lower()
    for _ in range(4):  # whichever worker answers (each caches header verdicts)
        plain = call(server.port, "POST", "/invocations", b"1,2,3", {"Content-Type": "text/plain"})
        assert plain.status == 415 and "connection" not in plain.headers


def test_ping_is_fast(server: ServerProcess) -> None:
    slowest = 0.0
    for _ in range(20):
        began = time.perf_counter()
        assert call(server.port, "GET", "/ping").status == 200
        slowest = max(slowest, time.perf_counter() - began)
    assert slowest < 0.5, f"slowest /ping took {slowest * 1000:.0f} ms (SageMaker times out at 2 s)"


# ------------------------------------------------------------------------------------------------ lifecycle
def copy_model(trained: TrainedJob, tmp_path: Path) -> Path:
    opt_ml = tmp_path / "opt_ml"
    shutil.copytree(trained.model_dir, opt_ml / "model")
    return opt_ml


def test_corrupt_model_fails_ping_but_not_the_server(start_server, trained: TrainedJob, tmp_path: Path) -> None:
    opt_ml = copy_model(trained, tmp_path)
    (opt_ml / "model" / "model.ubj").write_bytes(b"this is not an XGBoost model")
    server = start_server(opt_ml)
    ping = server.wait_for_ping(expect=503)
    assert ping.json()["error"] == "model_not_loaded"  # type: ignore[index]
    assert "failed to load" in ping.json()["detail"]  # type: ignore[index]
    invocation = call(server.port, "POST", "/invocations", b"1,2,3,4,5,6", {"Content-Type": "text/csv"})
    assert invocation.status == 503 and invocation.json()["error"] == "model_not_loaded"  # type: ignore[index]
    log = server.log()
    assert "failed to load: XGBoostError" in log and "/ping answers 503" in log
    assert server.proc.poll() is None and len(server.worker_pids()) == 2


def test_missing_model_fails_ping_with_the_reason(start_server, tmp_path: Path) -> None:
    (tmp_path / "opt_ml" / "model").mkdir(parents=True)
    server = start_server(tmp_path / "opt_ml", workers=1)
    ping = server.wait_for_ping(expect=503)
    assert "metadata.json not found" in ping.json()["detail"]  # type: ignore[index]
    assert "model not loaded" in server.log()


def test_sigterm_finishes_the_in_flight_request_then_exits_0(start_server, trained: TrainedJob,
                                                             features: np.ndarray, expected: np.ndarray) -> None:
    server = start_server(trained.opt_ml)
    server.wait_for_ping()
    body = csv_body(features[:3])
    head = (b"POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: text/csv\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(head + body[:10])  # the request is in flight: headers and part of the body received
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        refused_at = time.monotonic() + 5
        while True:  # new connections are refused once shutdown has begun
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            except ConnectionRefusedError:
                break
            assert time.monotonic() < refused_at, "still accepting connections 5 s after SIGTERM"
            time.sleep(0.05)
        assert server.proc.poll() is None, "exited before answering the in-flight request"
        client.sendall(body[10:])
        reply = b""
        while chunk := client.recv(65536):
            reply += chunk
    head_part, _, payload = reply.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 200"), reply
    np.testing.assert_allclose(json.loads(payload)["predictions"], expected[:3], atol=1e-6)
    assert server.proc.wait(timeout=15) == 0
    assert "all workers stopped" in server.log()


def test_a_crashed_worker_is_replaced(start_server, trained: TrainedJob) -> None:
    server = start_server(trained.opt_ml)
    server.wait_for_ping()
    before = server.worker_pids()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while True:
        now = server.worker_pids()
        if len(now) == 2 and victim not in now:
            break
        assert time.monotonic() < deadline, f"workers {now} after killing {victim}"
        time.sleep(0.1)
    assert "exited unexpectedly (signal SIGKILL)" in server.log()
    for _ in range(6):  # both workers answer (connections spread over them)
        assert call(server.port, "POST", "/invocations", b"0,0,0,0,0,0", {"Content-Type": "text/csv"}).status == 200


def _others_can_read(path: Path) -> bool:
    """Whether an unprivileged user can read `path`: o+r on it and o+x on every folder above it."""
    path = path.resolve()
    if not path.stat().st_mode & 0o004:
        return False
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


def _interpreter_readable_by_others() -> bool:
    import xgboost

    return all(_others_can_read(Path(module.__file__)) for module in (os, xgboost, pytest))


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
@pytest.mark.skipif(not _interpreter_readable_by_others(),
                    reason="this Python installation is not readable by other users (e.g. pyenv under /root), "
                           "so no unprivileged worker could import it; the image's /usr/local Python is")
def test_workers_drop_to_the_serve_user(start_server, trained: TrainedJob, tmp_path: Path) -> None:
    """The model is read before the drop: it stays readable even in a folder only root can enter."""
    nobody = pwd.getpwnam("nobody")
    opt_ml = copy_model(trained, tmp_path)
    opt_ml.chmod(0o700)
    server = start_server(opt_ml, workers=1, SERVE_RUN_AS="nobody")
    server.wait_for_ping()
    (worker,) = server.worker_pids()
    uids = next(line for line in Path(f"/proc/{worker}/status").read_text().splitlines() if line.startswith("Uid:"))
    assert uids.split()[1:] == [str(nobody.pw_uid)] * 4
    assert call(server.port, "POST", "/invocations", b"0,0,0,0,0,0", {"Content-Type": "text/csv"}).status == 200


def test_port_is_listening_before_the_workers_are_ready(proc_env: dict, trained: TrainedJob) -> None:
    """SageMaker wants connections accepted quickly: the supervisor binds before loading anything."""
    port = free_port()
    env = {**proc_env, "OPT_ML_DIR": str(trained.opt_ml), "SAGEMAKER_BIND_TO_PORT": str(port),
           "SERVE_HOST": "127.0.0.1", "MODEL_SERVER_WORKERS": "1"}
    began = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(SERVE)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except ConnectionRefusedError:
                assert time.monotonic() - began < 5
                time.sleep(0.005)
        accepted_after = time.monotonic() - began
        ready = call(port, "GET", "/ping", timeout=30)  # queued until a worker is up, then answered
        assert ready.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert accepted_after < 1.0, f"first connection accepted after {accepted_after * 1000:.0f} ms"


@pytest.mark.parametrize(("name", "value"), [("MODEL_SERVER_WORKERS", "many"), ("SAGEMAKER_BIND_TO_PORT", "0")])
def test_invalid_serving_settings_exit_2(proc_env: dict, tmp_path: Path, name: str, value: str) -> None:
    env = {**proc_env, "OPT_ML_DIR": str(tmp_path), "SERVE_HOST": "127.0.0.1", name: value}
    done = subprocess.run([sys.executable, str(SERVE)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert f"invalid serving configuration: {name}" in done.stderr
