"""SageMaker data capture files: writing them (to emulate an endpoint locally) and reading them back.

Layout and line format are SageMaker's (docs/contracts.md section 5):
``<capture>/<endpoint>/<variant>/yyyy/mm/dd/hh/<MM>-<SS>-<mmm>-<id>.jsonl``, one JSON object per request::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "...", "encoding": "CSV"},
                     "endpointOutput": {...same, "mode": "OUTPUT"}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2024-05-01T13:04:05.123Z"},
     "eventVersion": "0"}

The hour folders hold the request's inference time in UTC, and SageMaker names each file after the minute,
second and millisecond of its first record followed by a unique id. Bodies whose content type is listed as
CSV or JSON are stored as text (``encoding`` "CSV" / "JSON"); anything else is base64 (``"BASE64"``), as
the endpoint config's ``captureContentTypeHeader`` does.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .errors import DriftCheckError

DEFAULT_VARIANT = "AllTraffic"
DEFAULT_CSV_TYPES = ("text/csv",)
DEFAULT_JSON_TYPES = ("application/json",)
_ENCODINGS = ("CSV", "JSON", "BASE64")


@dataclass(frozen=True)
class CapturedRequest:
    """One request/response pair as the endpoint saw it.

    input_data / output_data: the request and response bodies (text, or bytes for binary content types).
    inference_time: when the endpoint answered; a naive datetime is taken as UTC.
    event_id: SageMaker's per-request id; ``write_capture`` draws a random UUID when it is None.
    """

    input_data: str | bytes
    output_data: str | bytes
    inference_time: datetime
    event_id: str | None = None
    input_content_type: str = "text/csv"
    output_content_type: str = "application/json"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _format_time(moment: datetime) -> str:
    utc = _utc(moment)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """An ISO-8601 time as written in ``inferenceTime`` (``Z`` or an offset); naive times are UTC."""
    try:
        return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise DriftCheckError(f"invalid time {text!r}; expected ISO-8601 such as 2024-05-01T13:04:05Z") from None


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _encode(body: str | bytes, content_type: str, csv_types: Sequence[str],
            json_types: Sequence[str]) -> tuple[str, str]:
    media = _media_type(content_type)
    if media in {_media_type(t) for t in csv_types} or media in {_media_type(t) for t in json_types}:
        encoding = "CSV" if media in {_media_type(t) for t in csv_types} else "JSON"
        if isinstance(body, bytes):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError:
                # Not text after all: store it losslessly, as SageMaker does for undecodable bodies.
                return base64.b64encode(body).decode("ascii"), "BASE64"
        return body, encoding
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return base64.b64encode(raw).decode("ascii"), "BASE64"


def capture_record(request: CapturedRequest, csv_content_types: Sequence[str] = DEFAULT_CSV_TYPES,
                   json_content_types: Sequence[str] = DEFAULT_JSON_TYPES) -> dict:
    """The capture line (as a dict) SageMaker writes for one request."""
    if request.event_id is None:
        raise DriftCheckError("capture_record: event_id is required (write_capture assigns one when it is None)")
    in_data, in_enc = _encode(request.input_data, request.input_content_type, csv_content_types, json_content_types)
    out_data, out_enc = _encode(request.output_data, request.output_content_type, csv_content_types,
                                json_content_types)
    return {
        "captureData": {
            "endpointInput": {"observedContentType": request.input_content_type, "mode": "INPUT",
                              "data": in_data, "encoding": in_enc},
            "endpointOutput": {"observedContentType": request.output_content_type, "mode": "OUTPUT",
                               "data": out_data, "encoding": out_enc},
        },
        "eventMetadata": {"eventId": request.event_id, "inferenceTime": _format_time(request.inference_time)},
        "eventVersion": "0",
    }


def _check_name(value: str, what: str) -> None:
    if not value or "/" in value or value in {".", ".."}:
        raise DriftCheckError(f"write_capture: {what} {value!r} is not a valid folder name (non-empty, no '/')")


def write_capture(requests: Iterable[CapturedRequest], capture_dir: str | Path, endpoint_name: str,
                  variant_name: str = DEFAULT_VARIANT, *, file_id: str | None = None,
                  csv_content_types: Sequence[str] = DEFAULT_CSV_TYPES,
                  json_content_types: Sequence[str] = DEFAULT_JSON_TYPES) -> list[Path]:
    """Writes requests as SageMaker data capture files and returns the files written.

    Requests are grouped by the UTC hour of their inference time; each hour gets one new file
    ``<capture_dir>/<endpoint>/<variant>/yyyy/mm/dd/hh/<MM>-<SS>-<mmm>-<file_id>.jsonl`` named after its first
    record, lines in the order given. ``file_id`` defaults to a random UUID; an existing file is never
    overwritten or appended to (DriftCheckError), so a caller that passes a fixed id gets an error rather
    than duplicated records on a rerun.
    """
    _check_name(endpoint_name, "endpoint_name")
    _check_name(variant_name, "variant_name")
    root = Path(capture_dir) / endpoint_name / variant_name
    by_hour: dict[datetime, list[CapturedRequest]] = {}
    for request in requests:
        hour = _utc(request.inference_time).replace(minute=0, second=0, microsecond=0)
        by_hour.setdefault(hour, []).append(request)
    suffix = file_id or str(uuid.uuid4())
    written = []
    for hour, group in sorted(by_hour.items()):
        first = _utc(group[0].inference_time)
        folder = root / hour.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{first.minute:02d}-{first.second:02d}-{first.microsecond // 1000:03d}-{suffix}.jsonl"
        lines = []
        for request in group:
            if request.event_id is None:
                request = CapturedRequest(request.input_data, request.output_data, request.inference_time,
                                          str(uuid.uuid4()), request.input_content_type, request.output_content_type)
            lines.append(json.dumps(capture_record(request, csv_content_types, json_content_types),
                                    separators=(",", ":")))
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
        except FileExistsError:
            raise DriftCheckError(f"write_capture: {path} already exists; pass another file_id") from None
        written.append(path)
    return written


def capture_files(capture_dir: str | Path) -> list[Path]:
    """Every ``*.jsonl`` file under ``capture_dir`` (any depth), in path order: the hour folders sort by time."""
    root = Path(capture_dir)
    if not root.is_dir():
        raise DriftCheckError(f"capture directory {root} does not exist or is not a directory")
    return sorted(p for p in root.rglob("*.jsonl") if p.is_file())


def _decode(channel: dict, where: str) -> str | bytes:
    if not isinstance(channel, dict):
        raise DriftCheckError(f"{where}: expected an object")
    data, encoding = channel.get("data"), channel.get("encoding")
    if not isinstance(data, str):
        raise DriftCheckError(f"{where}.data: expected a string, got {type(data).__name__}")
    if encoding not in _ENCODINGS:
        raise DriftCheckError(f"{where}.encoding: got {encoding!r}; allowed: {', '.join(_ENCODINGS)}")
    if encoding == "BASE64":
        try:
            return base64.b64decode(data, validate=True)
        except ValueError:
            raise DriftCheckError(f"{where}.data: encoding is BASE64 but the data is not valid base64") from None
    return data


def parse_capture_line(line: str, where: str = "capture line") -> CapturedRequest:
    """One capture line back into a request; malformed lines fail with their location."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DriftCheckError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise DriftCheckError(f"{where}: expected a JSON object")
    data = record.get("captureData")
    meta = record.get("eventMetadata")
    if not isinstance(data, dict) or "endpointInput" not in data:
        raise DriftCheckError(f"{where}: missing captureData.endpointInput")
    if not isinstance(meta, dict) or not isinstance(meta.get("inferenceTime"), str):
        raise DriftCheckError(f"{where}: missing eventMetadata.inferenceTime")
    try:
        inference_time = parse_time(meta["inferenceTime"])
    except DriftCheckError as exc:
        raise DriftCheckError(f"{where}: eventMetadata.inferenceTime: {exc}") from None
    endpoint_input = data["endpointInput"]
    endpoint_output = data.get("endpointOutput") or {"data": "", "encoding": "CSV", "observedContentType": ""}
    return CapturedRequest(
        input_data=_decode(endpoint_input, f"{where}: captureData.endpointInput"),
        output_data=_decode(endpoint_output, f"{where}: captureData.endpointOutput"),
        inference_time=inference_time,
        event_id=meta.get("eventId"),
        input_content_type=str(endpoint_input.get("observedContentType", "")),
        output_content_type=str(endpoint_output.get("observedContentType", "")),
    )


def read_capture(capture_dir: str | Path, *, start: datetime | None = None,
                 end: datetime | None = None) -> list[CapturedRequest]:
    """Every captured request under ``capture_dir`` whose inference time lies in ``[start, end)``."""
    lo = _utc(start) if start else None
    hi = _utc(end) if end else None
    out = []
    for path in capture_files(capture_dir):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                request = parse_capture_line(line, f"{path}:{number}")
                moment = _utc(request.inference_time)
                if (lo is None or moment >= lo) and (hi is None or moment < hi):
                    out.append(request)
    return out


def _json_rows(body: str, where: str) -> list[list[str]]:
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as exc:
        raise DriftCheckError(f"{where}: JSON body is not valid JSON ({exc.msg})") from None
    instances = doc.get("instances") if isinstance(doc, dict) else None
    if not isinstance(instances, list) or not all(isinstance(row, list) for row in instances):
        raise DriftCheckError(f"{where}: JSON bodies must be {{\"instances\": [[...], ...]}} (rows as lists); "
                              "object rows have no column order a headerless baseline could match")
    return [["" if v is None else str(v) for v in row] for row in instances]


def input_rows(requests: Iterable[CapturedRequest]) -> list[list[str]]:
    """The feature rows of the requests' bodies: one row per CSV line or JSON instance, fields as text."""
    rows: list[list[str]] = []
    for request in requests:
        body = request.input_data
        where = f"request {request.event_id}"
        if isinstance(body, bytes):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError:
                raise DriftCheckError(f"{where}: binary input ({request.input_content_type}) cannot be "
                                      "analysed; capture CSV or JSON") from None
        media = _media_type(request.input_content_type)
        if media == "application/json" or media.endswith("+json"):
            rows.extend(_json_rows(body, where))
        else:
            rows.extend(row for row in csv.reader(io.StringIO(body)) if row)
    return rows


def csv_rows(features: np.ndarray, manifest: Mapping[str, Any]) -> list[str]:
    """Feature rows (e.g. from the ETL's ``encode_records``) as request CSV lines, formatted like the ETL's splits.

    The ETL writes numeric features as doubles (``12.0``) and categorical codes as integers (``2``), so the
    baseline infers Fractional and Integral columns; requests formatted any other way (a code sent as ``2.0``)
    would fail Model Monitor's data_type_check. Columns follow ``manifest["features"]``.
    """
    names = manifest.get("features")
    types = manifest.get("featureTypes", {})
    matrix = np.asarray(features, dtype=float)
    if not isinstance(names, list) or matrix.ndim != 2 or matrix.shape[1] != len(names):
        raise DriftCheckError(f"csv_rows: expected a rows x {len(names) if isinstance(names, list) else '?'} matrix "
                              f"matching manifest[\"features\"], got shape {matrix.shape}")
    categorical = [types.get(n) == "categorical" for n in names]
    lines = []
    for row in matrix:
        fields = []
        for value, is_code in zip(row, categorical):
            if not np.isfinite(value):
                fields.append("")
            elif is_code:
                if not float(value).is_integer():
                    raise DriftCheckError(f"csv_rows: categorical code {value!r} is not a whole number")
                fields.append(str(int(value)))
            else:
                fields.append(repr(float(value)))
        lines.append(",".join(fields))
    return lines
