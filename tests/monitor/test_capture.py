"""Data capture files: SageMaker's layout and line format, written and read back."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from drift_checker import (CapturedRequest, DriftCheckError, capture_files, capture_record, input_rows,
                           parse_capture_line, read_capture, write_capture)

T0 = datetime(2024, 5, 1, 13, 4, 5, 123000, tzinfo=timezone.utc)


def req(i: int, when: datetime = T0, **kw) -> CapturedRequest:
    return CapturedRequest(input_data=f"{i}.0,2", output_data=f'{{"predictions": [0.{i}]}}', inference_time=when,
                           event_id=f"ev-{i}", **kw)


def test_capture_record_has_sagemakers_line_format():
    record = capture_record(req(1))
    assert record == {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1.0,2", "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                               "data": '{"predictions": [0.1]}', "encoding": "JSON"},
        },
        "eventMetadata": {"eventId": "ev-1", "inferenceTime": "2024-05-01T13:04:05.123Z"},
        "eventVersion": "0",
    }


def test_other_content_types_are_base64_and_charset_parameters_are_ignored():
    record = capture_record(CapturedRequest(b"\x00\x01binary", "0.5", T0, "e", "application/x-npy",
                                            "text/csv; charset=utf-8"))
    endpoint_input = record["captureData"]["endpointInput"]
    assert endpoint_input["encoding"] == "BASE64"
    assert base64.b64decode(endpoint_input["data"]) == b"\x00\x01binary"
    assert record["captureData"]["endpointOutput"]["encoding"] == "CSV"


def test_write_capture_uses_the_hour_folder_layout_and_names_files_after_the_first_record(tmp_path):
    later = T0 + timedelta(hours=1, minutes=10)
    files = write_capture([req(1), req(2, T0 + timedelta(seconds=1)), req(3, later)], tmp_path, "churn-prod",
                          file_id="abc")
    rel = [p.relative_to(tmp_path).as_posix() for p in files]
    assert rel == ["churn-prod/AllTraffic/2024/05/01/13/04-05-123-abc.jsonl",
                   "churn-prod/AllTraffic/2024/05/01/14/14-05-123-abc.jsonl"]
    lines = files[0].read_text().splitlines()
    assert [json.loads(line)["eventMetadata"]["eventId"] for line in lines] == ["ev-1", "ev-2"]


def test_write_capture_files_hold_utc_hours_and_random_ids_by_default(tmp_path):
    tz = timezone(timedelta(hours=2))
    files = write_capture([req(1, datetime(2024, 5, 1, 1, 30, tzinfo=tz))], tmp_path, "ep", "blue")
    assert re.fullmatch(r"ep/blue/2024/04/30/23/30-00-000-[0-9a-f-]{36}\.jsonl",
                        files[0].relative_to(tmp_path).as_posix())
    naive = write_capture([req(1, datetime(2024, 5, 1, 1, 30))], tmp_path, "ep", "blue")
    assert "/2024/05/01/01/" in naive[0].as_posix()


def test_write_capture_assigns_event_ids_when_missing(tmp_path):
    files = write_capture([CapturedRequest("1,2", "0.1", T0)], tmp_path, "ep")
    event_id = json.loads(files[0].read_text())["eventMetadata"]["eventId"]
    assert re.fullmatch(r"[0-9a-f-]{36}", event_id)


def test_write_capture_never_overwrites(tmp_path):
    write_capture([req(1)], tmp_path, "ep", file_id="same")
    with pytest.raises(DriftCheckError, match="already exists; pass another file_id"):
        write_capture([req(2)], tmp_path, "ep", file_id="same")


@pytest.mark.parametrize("endpoint", ["", "a/b", ".."])
def test_write_capture_rejects_bad_folder_names(tmp_path, endpoint):
    with pytest.raises(DriftCheckError, match="endpoint_name"):
        write_capture([req(1)], tmp_path, endpoint)


def test_read_capture_round_trips_and_filters_by_time(tmp_path):
    requests = [req(i, T0 + timedelta(minutes=20 * i)) for i in range(6)]
    write_capture(requests, tmp_path, "ep", file_id="x")
    back = read_capture(tmp_path)
    assert [r.event_id for r in back] == [f"ev-{i}" for i in range(6)]
    assert back[2].input_data == "2.0,2" and back[2].inference_time == T0 + timedelta(minutes=40)
    window = read_capture(tmp_path, start=T0 + timedelta(minutes=20), end=T0 + timedelta(minutes=60))
    assert [r.event_id for r in window] == ["ev-1", "ev-2"]


def test_base64_bodies_round_trip(tmp_path):
    write_capture([CapturedRequest(b"\xff\xfe", "0.1", T0, "b", "application/octet-stream")], tmp_path, "ep")
    assert read_capture(tmp_path)[0].input_data == b"\xff\xfe"


def test_capture_files_requires_a_directory(tmp_path):
    with pytest.raises(DriftCheckError, match="does not exist"):
        capture_files(tmp_path / "nope")


@pytest.mark.parametrize("line, message", [
    ("{not json", "not valid JSON"),
    ("[1]", "expected a JSON object"),
    ('{"eventMetadata": {"inferenceTime": "2024-01-01T00:00:00Z"}}', "missing captureData.endpointInput"),
    ('{"captureData": {"endpointInput": {"data": "1", "encoding": "CSV"}}}', "missing eventMetadata.inferenceTime"),
    ('{"captureData": {"endpointInput": {"data": "1", "encoding": "XML"}}, '
     '"eventMetadata": {"inferenceTime": "2024-01-01T00:00:00Z"}}', "allowed: CSV, JSON, BASE64"),
    ('{"captureData": {"endpointInput": {"data": "%%%", "encoding": "BASE64"}}, '
     '"eventMetadata": {"inferenceTime": "2024-01-01T00:00:00Z"}}', "not valid base64"),
    ('{"captureData": {"endpointInput": {"data": "1", "encoding": "CSV"}}, '
     '"eventMetadata": {"inferenceTime": "yesterday"}}', "invalid time 'yesterday'"),
])
def test_malformed_lines_fail_with_their_location(line, message):
    with pytest.raises(DriftCheckError, match=re.escape(message)) as info:
        parse_capture_line(line, "f.jsonl:7")
    assert str(info.value).startswith("f.jsonl:7: ")


def test_read_capture_names_the_file_and_line_of_a_bad_record(tmp_path):
    folder = tmp_path / "ep" / "AllTraffic" / "2024" / "05" / "01" / "13"
    folder.mkdir(parents=True)
    good = json.dumps(capture_record(req(1)))
    (folder / "a.jsonl").write_text(good + "\n\n" + "{oops\n")
    with pytest.raises(DriftCheckError, match=r"a\.jsonl:3: not valid JSON"):
        read_capture(tmp_path)


def test_input_rows_splits_csv_lines_and_json_instances():
    requests = [
        CapturedRequest('1.0,2,"a,b"\n3.0,4,c\n', "", T0, "1"),
        CapturedRequest('{"instances": [[5.0, 6, "d"], [null, 7, "e"]]}', "", T0, "2", "application/json"),
        CapturedRequest(b"8.0,9,f", "", T0, "3", "application/octet-stream"),
    ]
    assert input_rows(requests) == [["1.0", "2", "a,b"], ["3.0", "4", "c"], ["5.0", "6", "d"], ["", "7", "e"],
                                    ["8.0", "9", "f"]]


def test_input_rows_rejects_json_objects_and_binary():
    with pytest.raises(DriftCheckError, match="object rows have no column order"):
        input_rows([CapturedRequest('{"instances": [{"a": 1}]}', "", T0, "1", "application/json")])
    with pytest.raises(DriftCheckError, match="binary input"):
        input_rows([CapturedRequest(b"\xff\xfe", "", T0, "2", "application/octet-stream")])
