"""The inference HTTP application: a raw ASGI callable (no framework: each layer costs microseconds per request).

Routes (contracts §4): GET /ping, POST /invocations, GET /execution-parameters (batch transform asks for it).
Client errors are 4xx with {"error", "detail"}; nothing a client sends can make it answer 5xx or crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import orjson

from .model import LoadedModel, ModelState, ModelUnavailable
from .payload import (
    CSV, JSON, RequestError, encode_predictions, parse_csv, parse_json, request_format, response_format,
)

log = logging.getLogger("mlcontainer.app")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# SageMaker's real-time payload limit; serverless endpoints stop at 4 MB before the container sees the request.
MAX_BODY_BYTES = 6 * 1024 * 1024
# Bodies this large take milliseconds to parse and predict: do that off the event loop so /ping and small
# requests on the same worker keep being answered (the health check times out after 2 s).
OFFLOAD_BODY_BYTES = 256 * 1024

_JSON = b"application/json"
_CSV = b"text/csv"
_PING_OK = b'{"status":"ok"}'


class ClientGone(Exception):
    """The client disconnected before sending its whole body: there is nobody to answer."""


def predict_body(model: LoadedModel, predictor: Callable[[np.ndarray], np.ndarray], body: bytes,
                 request_type: str, response_type: str) -> bytes:
    """Parse, predict, encode: the whole request as one pure function (runs inline or on the offload thread)."""
    if request_type == CSV:
        rows = parse_csv(body, model.features)
    else:
        rows = parse_json(body, model.features, model.feature_index)
    return encode_predictions(predictor(rows), response_type)


def warm_up(model: LoadedModel) -> None:
    """Run each request path once before serving, so lazy imports and first-call setup (numpy's CSV reader,
    the JSON path, the encoders) do not land on a client's first requests."""
    row = ",".join(["0"] * model.feature_count)
    small = (row + "\n").encode()
    large = ((row + "\n") * (4096 // len(row) + 1)).encode()
    instances = orjson.dumps({"instances": [dict.fromkeys(model.features, 0)]})
    for body, request_type in ((small, CSV), (large, CSV), (instances, JSON)):
        for response_type in (CSV, JSON):
            predict_body(model, model.predictor, body, request_type, response_type)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it grows past `limit` (chunked bodies have no length)."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    body = message.get("body", b"")
    if not message.get("more_body", False) and len(body) <= limit:
        return body
    parts = [body]
    size = len(body)
    while True:
        if size > limit:
            raise too_large(f"the body exceeds {limit} bytes")
        if not message.get("more_body", False):
            return b"".join(parts)
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        parts.append(chunk)
        size += len(chunk)


def too_large(detail: str) -> RequestError:
    return RequestError(413, "payload_too_large", f"{detail} (limit {MAX_BODY_BYTES} bytes, 6 MiB)")


class InferenceApp:
    """One per worker process. `state` is fixed at start: a model that failed to load stays failed (503)."""

    def __init__(self, state: ModelState, *, workers: int = 1, max_body_bytes: int = MAX_BODY_BYTES,
                 offload_body_bytes: int = OFFLOAD_BODY_BYTES) -> None:
        self.state = state
        self.max_body_bytes = max_body_bytes
        self.offload_body_bytes = offload_body_bytes
        self._execution_parameters = orjson.dumps({
            "MaxConcurrentTransforms": workers,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": max_body_bytes // (1024 * 1024),
        })
        self._executor: ThreadPoolExecutor | None = None
        self._offload_predictor: Callable[[np.ndarray], np.ndarray] | None = None
        if isinstance(state, ModelUnavailable):
            self._unavailable = RequestError(503, "model_not_loaded", state.reason)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        method = scope["method"]
        headers: tuple[tuple[bytes, bytes], ...] = ()
        try:
            if path == "/invocations":
                if method != "POST":
                    raise RequestError(405, "method_not_allowed", f"{method} {path}: use POST",
                                       [(b"allow", b"POST")])
                content_type, body = await self._invoke(scope, receive)
                status = 200
            elif path == "/ping":
                if method not in ("GET", "HEAD"):
                    raise RequestError(405, "method_not_allowed", f"{method} {path}: use GET", [(b"allow", b"GET")])
                if isinstance(self.state, ModelUnavailable):
                    raise self._unavailable.fresh()
                status, content_type, body = 200, _JSON, _PING_OK
            elif path == "/execution-parameters":
                if method not in ("GET", "HEAD"):
                    raise RequestError(405, "method_not_allowed", f"{method} {path}: use GET", [(b"allow", b"GET")])
                status, content_type, body = 200, _JSON, self._execution_parameters
            else:
                raise RequestError(404, "not_found", f"no route {path}; routes: /ping, /invocations")
        except RequestError as exc:
            status, content_type, body, headers = exc.status, _JSON, exc.body(), exc.headers
            # Debug only: client mistakes and the health checker's 503s would otherwise flood the logs (the
            # reason a model failed to load is logged once, at start).
            log.debug("%s %s -> %d %s: %s", method, path, status, exc.error, exc.detail)
        except ClientGone:
            return
        except Exception as exc:  # noqa: BLE001 - a bug must cost one request a 500, never the worker
            log.exception("%s %s failed", method, path)
            status, content_type, headers = 500, _JSON, ()
            body = orjson.dumps({"error": "internal_error", "detail": f"{type(exc).__name__}: {exc}"[:500]})
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", b"%d" % len(body)), *headers],
        })
        await send({"type": "http.response.body", "body": body})

    async def _invoke(self, scope: Scope, receive: Receive) -> tuple[bytes, bytes]:
        state = self.state
        if isinstance(state, ModelUnavailable):
            raise self._unavailable.fresh()
        content_type = accept = length = None
        expect_continue = False
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"accept":
                accept = value
            elif name == b"content-length":
                length = value
            elif name == b"expect":
                expect_continue = value.lower() == b"100-continue"
        try:
            request_type = request_format(content_type)
            response_type = response_format(accept)
            if length is not None and int(length) > self.max_body_bytes:
                raise too_large(f"Content-Length {int(length)} is too large")
        except RequestError as exc:
            if expect_continue:
                # The client waits for "100 Continue" before sending the body, and will not get it: the
                # connection cannot carry another request, so close it after this answer.
                raise exc.fresh((b"connection", b"close")) from None
            raise
        body = await read_body(receive, self.max_body_bytes)
        if len(body) < self.offload_body_bytes:
            output = predict_body(state, state.predictor, body, request_type, response_type)
        else:
            output = await self._offloaded(state, body, request_type, response_type)
        return (_CSV if response_type == CSV else _JSON), output

    async def _offloaded(self, state: LoadedModel, body: bytes, request_type: str, response_type: str) -> bytes:
        if self._executor is None:
            # Its own predictor: the fast path reuses per-instance buffers, one thread each.
            self._offload_predictor = state.predictor.clone()  # type: ignore[attr-defined]
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="large-request")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, predict_body, state, self._offload_predictor, body, request_type, response_type
        )
