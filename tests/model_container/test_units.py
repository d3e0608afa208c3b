"""Pure functions of the container, in-process: hyperparameters, request parsing, negotiation, failure text."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from mlcontainer.app import read_body
from mlcontainer.errors import ConfigError, DataError, TrainingStopped
from mlcontainer.hyperparameters import ALLOWED, defaults, parse_hyperparameters, xgboost_params
from mlcontainer.jobconfig import parse_resource_config, validate_input_data_config
from mlcontainer.model import ModelUnavailable, read_artifact
from mlcontainer.payload import (
    CSV, JSON, RequestError, encode_predictions, parse_csv, parse_json, request_format, response_format,
)
from mlcontainer.train import failure_text, format_metric

FEATURES = ("a", "b", "c")
INDEX = {name: i for i, name in enumerate(FEATURES)}


# ---------------------------------------------------------------------------------------------- hyperparameters
def test_defaults_when_nothing_is_given() -> None:
    assert parse_hyperparameters({}) == defaults()
    assert defaults()["num_round"] == 300 and defaults()["early_stopping_rounds"] == 20
    assert set(ALLOWED) == set(defaults())


def test_strings_are_typed() -> None:
    hp = parse_hyperparameters({"num_round": "50", "eta": "0.05", "max_depth": "4.0", "tree_method": '"approx"',
                                "lambda": " 2 "})
    assert hp["num_round"] == 50 and isinstance(hp["num_round"], int)
    assert hp["eta"] == 0.05 and isinstance(hp["eta"], float)
    assert hp["max_depth"] == 4 and isinstance(hp["max_depth"], int)
    assert hp["tree_method"] == "approx"
    assert hp["lambda"] == 2.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"num_round": "0"}, "num_round='0' must be in [1, 10000]"),
        ({"eta": "1.5"}, "eta='1.5' must be in (0, 1]"),
        ({"eta": "nan"}, "eta='nan' must be finite"),
        ({"max_depth": "3.5"}, "max_depth='3.5' must be an integer"),
        ({"gamma": "-1"}, "gamma='-1' must be in [0, inf)"),
        ({"scale_pos_weight": "0"}, "scale_pos_weight='0' must be in (0, inf)"),
        ({"seed": True}, "seed=True must be a string (got JSON bool)"),
        ({"tree_method": "gpu"}, "tree_method='gpu' must be one of hist, approx, exact"),
    ],
)
def test_invalid_values_are_rejected(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_hyperparameters(raw)
    assert message in str(error.value)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        parse_hyperparameters({"eta": "x", "max_depth": "0", "foo": "1", "bar": "2"})
    text = str(error.value)
    assert "eta='x' must be a number" in text and "max_depth='0' must be in [1, 16]" in text
    assert "unknown hyperparameter(s) bar, foo; allowed: " + ", ".join(ALLOWED) in text


def test_reserved_sagemaker_keys_are_ignored() -> None:
    hp = parse_hyperparameters({"_tuning_objective_metric": "validation:auc", "sagemaker_region": '"eu-west-1"'})
    assert hp == defaults()


def test_xgboost_params_stop_on_validation_auc() -> None:
    params = xgboost_params(defaults(), nthread=2)
    assert params["objective"] == "binary:logistic" and params["eval_metric"][-1] == "auc"
    assert params["nthread"] == 2


# ---------------------------------------------------------------------------------------------- job config
def test_input_data_config_requires_train_and_validation(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    with pytest.raises(ConfigError) as error:
        validate_input_data_config({"train": {"ContentType": "text/csv"}}, tmp_path)
    assert "required channel(s) validation not declared" in str(error.value)


def test_input_data_config_accepts_csv_with_parameters_and_the_manifest(tmp_path: Path) -> None:
    for name in ("train", "validation", "manifest"):
        (tmp_path / name).mkdir()
    config = {"train": {"ContentType": "text/csv; label_size=1"}, "validation": {"TrainingInputMode": "FastFile"},
              "manifest": {"ContentType": "application/json"}}
    assert validate_input_data_config(config, tmp_path) == ("train", "validation", "manifest")


def test_pipe_mode_is_refused(tmp_path: Path) -> None:
    for name in ("train", "validation"):
        (tmp_path / name).mkdir()
    with pytest.raises(ConfigError, match="TrainingInputMode 'Pipe' is not supported"):
        validate_input_data_config({"train": {"TrainingInputMode": "Pipe"}, "validation": {}}, tmp_path)


def test_resource_config() -> None:
    assert parse_resource_config(None).hosts == ("local",)
    assert parse_resource_config({"current_host": "algo-1", "hosts": ["algo-1"]}).current_host == "algo-1"
    assert parse_resource_config({"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]}).hosts == ("algo-1", "algo-2")
    with pytest.raises(ConfigError, match="include 'current_host'"):
        parse_resource_config({"current_host": "", "hosts": ["algo-1", "algo-2"]})


# ---------------------------------------------------------------------------------------------- train output
def test_metric_format_matches_the_metric_definitions_regex() -> None:
    import re

    for name, value in (("validation_auc", 0.84123), ("best_iteration", 12), ("tiny", 1.5e-12), ("neg", -3.25)):
        line = format_metric(name, value)
        match = re.fullmatch(rf"METRIC {name}=([-+0-9.eE]+)", line)
        assert match and float(match.group(1)) == pytest.approx(value, rel=1e-9)


def test_failure_text_puts_the_reason_first() -> None:
    assert failure_text(DataError("bad label")) == "DataError: bad label\n"
    assert failure_text(TrainingStopped("stopped by SIGTERM")).startswith("Stopped: stopped by SIGTERM")
    try:
        raise KeyError("boom")
    except KeyError as exc:
        text = failure_text(exc)
    assert text.startswith("AlgorithmError: unexpected KeyError: 'boom'\n\nTraceback")


# ---------------------------------------------------------------------------------------------- model artifact
def test_read_artifact_reports_missing_files(tmp_path: Path) -> None:
    missing = read_artifact(tmp_path)
    assert isinstance(missing, ModelUnavailable) and "metadata.json not found" in missing.reason
    (tmp_path / "metadata.json").write_text(json.dumps({"modelFile": "../etc/passwd"}))
    assert "must be a file name inside" in read_artifact(tmp_path).reason  # type: ignore[union-attr]
    (tmp_path / "metadata.json").write_text(json.dumps({"modelFile": "model.ubj"}))
    unreadable = read_artifact(tmp_path)
    assert isinstance(unreadable, ModelUnavailable) and "contains: metadata.json" in unreadable.reason


# ---------------------------------------------------------------------------------------------- request parsing
def test_csv_rows_and_line_endings() -> None:
    matrix = parse_csv(b"1,2,3\r\n4.5,-6,7e-3\n\n", FEATURES)
    assert matrix.dtype == np.float32 and matrix.flags.c_contiguous
    np.testing.assert_array_equal(matrix, np.array([[1, 2, 3], [4.5, -6, 7e-3]], dtype=np.float32))
    np.testing.assert_array_equal(parse_csv(b'"1","2",3', FEATURES), [[1, 2, 3]])


@pytest.mark.parametrize(
    ("body", "status", "error", "detail"),
    [
        (b"", 400, "empty_body", "no rows"),
        (b" \n\r\n", 400, "empty_body", "no rows"),
        (b"1,2", 400, "wrong_feature_count", "row 1 has 2 value(s); the model expects 3"),
        (b"1,2,3\n1,2,3,4", 400, "wrong_feature_count", "row 2 has 4 value(s)"),
        (b"1,x,3", 400, "non_numeric_value", "row 1, column 2 (b): 'x' is not a number"),
        (b"1,2,", 400, "non_numeric_value", "row 1, column 3 (c) is empty"),
        (b"1,2,nan", 400, "non_finite_value", "row 1, column 3 (c) is nan"),
        (b"1,-inf,3", 400, "non_finite_value", "row 1, column 2 (b) is -inf"),
        (b"1,2,1e39", 400, "non_finite_value", "beyond float32 range"),
        (b'1,"2,3', 400, "malformed_csv", "cannot parse the CSV body"),
    ],
)
def test_csv_client_errors(body: bytes, status: int, error: str, detail: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_csv(body, FEATURES)
    assert (caught.value.status, caught.value.error) == (status, error)
    assert detail in caught.value.detail
    assert json.loads(caught.value.body()) == {"error": error, "detail": caught.value.detail}


def test_json_lists_and_objects() -> None:
    lists = parse_json(b'{"instances": [[1, 2, 3], [4, 5, 6.5]]}', FEATURES, INDEX)
    objects = parse_json(b'{"instances": [{"c": 3, "a": 1, "b": 2}, {"b": 5, "a": 4, "c": 6.5}]}', FEATURES, INDEX)
    np.testing.assert_array_equal(lists, objects)
    assert objects.dtype == np.float32 and objects.shape == (2, 3)


@pytest.mark.parametrize(
    ("body", "error", "detail"),
    [
        (b"{", "invalid_json", "not valid JSON"),
        (b"[[1,2,3]]", "invalid_payload", '{"instances": [...]}'),
        (b'{"instances": []}', "invalid_payload", "non-empty list"),
        (b'{"instances": [1, 2, 3]}', "invalid_payload", "list of feature values or an object"),
        (b'{"instances": [[1, 2, 3], {"a": 1}]}', "invalid_payload", "instance 2 is not a list"),
        (b'{"instances": [[1, 2]]}', "wrong_feature_count", "row 1 has 2 value(s)"),
        (b'{"instances": [[1, 2, 3], [1, 2]]}', "wrong_feature_count", "row 2 has 2 value(s)"),
        (b'{"instances": [[1, "2", 3]]}', "non_numeric_value", "row 1, column 2 (b): '2' is a string, not a number"),
        (b'{"instances": [[1, null, 3]]}', "non_numeric_value", "row 1, column 2 (b) is null"),
        (b'{"instances": [[1, true, 3]]}', "non_numeric_value", "row 1, column 2 (b): 'True' is not a number"),
        (b'{"instances": [[1, 2, 1e39]]}', "non_finite_value", "row 1, column 3 (c)"),
        (b'{"instances": [{"a": 1, "b": 2}]}', "missing_feature", "instance 1 lacks feature(s) c"),
        (b'{"instances": [{"a": 1, "b": 2, "c": 3, "d": 4}]}', "unknown_feature", "unknown feature(s) d"),
    ],
)
def test_json_client_errors(body: bytes, error: str, detail: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_json(body, FEATURES, INDEX)
    assert (caught.value.status, caught.value.error) == (400, error)
    assert detail in caught.value.detail


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON), (b"", JSON), (b"*/*", JSON), (b"application/json", JSON), (b"text/csv", CSV),
        (b"text/csv; charset=utf-8", CSV), (b"text/*", CSV), (b"application/*", JSON),
        (b"text/csv;q=0.4, application/json;q=0.8", JSON), (b"application/json;q=0.1, text/csv", CSV),
        (b"image/png, */*;q=0.1", JSON), (b"text/html, text/csv", CSV),
    ],
)
def test_accept_negotiation(accept: bytes | None, expected: str) -> None:
    assert response_format(accept) == expected


@pytest.mark.parametrize("accept", [b"image/png", b"text/html, application/xml", b"text/csv;q=0, application/json;q=0"])
def test_unsupported_accept_is_406(accept: bytes) -> None:
    with pytest.raises(RequestError) as caught:
        response_format(accept)
    assert caught.value.status == 406 and caught.value.error == "not_acceptable"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [(b"text/csv", CSV), (b"Text/CSV; charset=UTF-8", CSV), (b"application/json; charset=utf-8", JSON)],
)
def test_content_types(content_type: bytes, expected: str) -> None:
    assert request_format(content_type) == expected


@pytest.mark.parametrize("content_type", [None, b"", b"text/plain", b"application/x-npy", b"text/csv; charset=utf-16"])
def test_unsupported_content_type_is_415(content_type: bytes | None) -> None:
    with pytest.raises(RequestError) as caught:
        request_format(content_type)
    assert caught.value.status == 415 and caught.value.error == "unsupported_media_type"


def test_prediction_encodings_round_trip_float32() -> None:
    predictions = np.array([0.1, 0.123456789, 1e-7, 1.0], dtype=np.float32)
    as_json = json.loads(encode_predictions(predictions, JSON))["predictions"]
    as_csv = [float(line) for line in encode_predictions(predictions, CSV).decode().splitlines()]
    np.testing.assert_array_equal(np.array(as_json, dtype=np.float32), predictions)
    np.testing.assert_array_equal(np.array(as_csv, dtype=np.float32), predictions)


# ---------------------------------------------------------------------------------------------- body limit
def _receiver(chunks: list[bytes]) -> tuple:
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> dict:
        return messages.pop(0)

    return receive, messages


def test_read_body_joins_chunks_up_to_the_limit() -> None:
    receive, _ = _receiver([b"ab", b"cd", b"e"])
    assert asyncio.run(read_body(receive, limit=5)) == b"abcde"


def test_read_body_refuses_a_chunked_body_past_the_limit_before_reading_it_all() -> None:
    receive, unread = _receiver([b"ab", b"cd", b"ef", b"never read"])
    with pytest.raises(RequestError) as caught:
        asyncio.run(read_body(receive, limit=5))
    assert caught.value.status == 413 and caught.value.error == "payload_too_large"
    assert [m["body"] for m in unread] == [b"never read"]


# ---------------------------------------------------------------------------------------------- large CSV bodies
def _large_body(rows: int) -> tuple[bytes, np.ndarray]:
    values = np.random.default_rng(3).normal(size=(rows, 3)).round(5)
    return ("\n".join(",".join(repr(float(v)) for v in row) for row in values) + "\n").encode(), values


def test_large_csv_bodies_parse_like_small_ones() -> None:
    body, values = _large_body(400)
    assert len(body) > 4096  # numpy's C reader path
    np.testing.assert_array_equal(parse_csv(body, FEATURES), values.astype(np.float32))
    np.testing.assert_array_equal(parse_csv(body.replace(b"\n", b"\r\n"), FEATURES), values.astype(np.float32))


@pytest.mark.parametrize(
    ("row", "replacement", "error", "detail"),
    [
        (300, b"1,2", "wrong_feature_count", "row 300 has 2 value(s)"),
        (250, b"1,oops,3", "non_numeric_value", "row 250, column 2 (b): 'oops' is not a number"),
        (17, b"1,2,", "non_numeric_value", "row 17, column 3 (c) is empty"),
        (399, b"1,2,inf", "non_finite_value", "row 399, column 3 (c) is inf"),
        (5, b"1e300,2,3", "non_finite_value", "row 5, column 1 (a) is 1e+300"),
    ],
)
def test_large_csv_errors_name_the_row(row: int, replacement: bytes, error: str, detail: str) -> None:
    body, _ = _large_body(400)
    lines = body.split(b"\n")
    lines[row - 1] = replacement
    with pytest.raises(RequestError) as caught:
        parse_csv(b"\n".join(lines), FEATURES)
    assert caught.value.error == error and detail in caught.value.detail


def test_json_integers_beyond_int64_are_numbers_too() -> None:
    matrix = parse_json(b'{"instances": [[-1, 18446744073709551615, 3]]}', FEATURES, INDEX)
    np.testing.assert_array_equal(matrix, np.array([[-1, 2.0**64, 3]], dtype=np.float32))


def test_values_near_the_float32_maximum_are_accepted() -> None:
    """Their squares overflow the quick screen; the exact check must still let them through."""
    np.testing.assert_array_equal(parse_csv(b"3e38,-3e38,1", FEATURES), np.array([[3e38, -3e38, 1]], np.float32))
    with pytest.raises(RequestError, match="non_finite_value"):
        parse_csv(b"3e38,-3.5e38,1", FEATURES)


def test_cached_negotiation_errors_are_raised_fresh() -> None:
    """Cached header verdicts must not share one exception object (tracebacks and headers would accumulate)."""
    raised = []
    for _ in range(2):
        with pytest.raises(RequestError) as caught:
            request_format(b"text/plain")
        raised.append(caught.value)
    assert raised[0] is not raised[1] and raised[0].headers == raised[1].headers == ()
