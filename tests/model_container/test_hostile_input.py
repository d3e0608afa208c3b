"""The training reader and the hyperparameter parser under hostile input: refused clearly or read completely.

Property (Hypothesis): for any generated channel file (random field counts, blank lines, line endings, quotes,
text, invalid bytes, fake or real gzip) `load_split` either raises a ContainerError (DataError: exit 1, with a
message) or returns exactly one row per non-blank line, counted on the generated lines, not by the reader.
`HOSTILE_NIGHTLY=1` raises the example counts (see etl/README.md, "Hostile input").
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mc_helpers import failure_of, make_rows, run_train, write_job

from mlcontainer.dataset import load_split, read_csv_file
from mlcontainer.errors import ConfigError, ContainerError, DataError
from mlcontainer.hyperparameters import FLOAT32_MAX, parse_hyperparameters

NIGHTLY = os.environ.get("HOSTILE_NIGHTLY") == "1"


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


# ------------------------------------------------------------------------------------------ hyperparameters
@pytest.mark.parametrize("raw", ["1_0", "1_000", " 1_0 ", "0x10", "1 0"])
def test_underscores_and_other_non_decimal_spellings_are_refused(raw: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_hyperparameters({"max_depth": raw})
    assert f"max_depth={raw!r} must be" in str(error.value)


@pytest.mark.parametrize(("name", "raw"), [("gamma", "1e39"), ("min_child_weight", "1e308"), ("lambda", "3.5e38"),
                                           ("alpha", "1e-50"), ("eta", "1e-46")])
def test_floats_outside_xgboosts_float32_range_are_refused(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_hyperparameters({name: raw})
    assert f"{name}={raw!r} is outside XGBoost's float32 range" in str(error.value)


def test_the_largest_float32_itself_is_accepted() -> None:
    assert parse_hyperparameters({"gamma": repr(FLOAT32_MAX)})["gamma"] == FLOAT32_MAX


@given(st.text(alphabet="0123456789_.eE+- x", min_size=1, max_size=8))
@settings(max_examples=1000 if NIGHTLY else 200, deadline=None)
def test_an_accepted_number_is_exactly_the_decimal_written(raw: str) -> None:
    try:
        hp = parse_hyperparameters({"gamma": raw})
    except ConfigError as error:
        assert "gamma=" in str(error)
        return
    # Accepted only when the text is a plain decimal: the value is float(text), never a reinterpretation.
    assert "_" not in raw and "x" not in raw.strip() and hp["gamma"] == float(raw)


def test_float32_overflow_exits_2_before_any_data_is_read(tmp_path: Path, proc_env: dict) -> None:
    # The channels hold no readable data at all: exit 2 proves the check ran before the reader.
    opt_ml = write_job(tmp_path, None, None, {"gamma": "1e39", "min_child_weight": "1e308"})
    for channel in ("train", "validation"):
        (opt_ml / "input" / "data" / channel).mkdir(parents=True)
        (opt_ml / "input" / "data" / channel / "part.csv.gz").write_bytes(b"not gzip")
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 2, done.stderr
    failure = failure_of(opt_ml)
    assert failure.startswith("ConfigurationError: invalid hyperparameters")
    assert "gamma='1e39' is outside" in failure and "min_child_weight='1e308' is outside" in failure
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------------------------------------ the reader
def test_short_rows_are_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "part.csv"
    path.write_bytes(b"1,0.5,2,3\n0,1,,4\n\n1,7,8\n0,1,2,3\n")
    with pytest.raises(DataError) as error:
        read_csv_file(path)
    assert "1 row(s) have fewer fields than the first row (4); first: line 4 with 3" in str(error.value)


def test_an_empty_field_is_still_a_missing_value(tmp_path: Path) -> None:
    path = tmp_path / "part.csv"
    path.write_bytes(b"1,0.5,,3\r\n0,,2,\r\n")
    matrix = read_csv_file(path)
    assert matrix.shape == (2, 4) and int(np.isnan(matrix).sum()) == 3


@pytest.mark.parametrize("content", [b"1,2,3\n0,1,2\n", b"", b"\x1f\x8b\x08\x00garbage"])
def test_a_csv_gz_that_is_not_gzip_is_a_data_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "part-00000.csv.gz"
    path.write_bytes(content + b"x")
    with pytest.raises(DataError) as error:
        read_csv_file(path)
    assert "part-00000.csv.gz: not a valid gzip file" in str(error.value)


def test_a_real_gzip_part_is_read(tmp_path: Path) -> None:
    path = tmp_path / "part-00000.csv.gz"
    path.write_bytes(gzip.compress(b"1,2,3\n0,1,2\n"))
    assert read_csv_file(path).tolist() == [[1, 2, 3], [0, 1, 2]]


@pytest.mark.parametrize("case", ["short_row", "fake_gzip"])
def test_train_exits_1_with_a_data_error_and_no_traceback(tmp_path: Path, proc_env: dict,
                                                          rng: np.random.Generator, case: str) -> None:
    opt_ml = write_job(tmp_path, make_rows(rng, 200), make_rows(rng, 50))
    folder = opt_ml / "input" / "data" / "validation"
    if case == "short_row":
        part = folder / "part-00000.csv"
        lines = part.read_text().splitlines()
        lines[10] = ",".join(lines[10].split(",")[:-2])
        part.write_text("\n".join(lines) + "\n")
    else:
        (folder / "part-00000.csv").rename(folder / "part-00000.csv.gz")
    done = run_train(opt_ml, proc_env)
    assert done.returncode == 1
    failure = failure_of(opt_ml)
    expected = "line 11 with" if case == "short_row" else "not a valid gzip file"
    assert failure.startswith("DataError:") and expected in failure
    assert "Traceback" not in failure and "Traceback" not in done.stderr


# ------------------------------------------------------------------------------------------------ property
NUMBERS = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr))
HOSTILE_FIELD = st.one_of(NUMBERS, NUMBERS, NUMBERS, st.just(""), st.sampled_from(
    ["nan", "inf", "-inf", "abc", '"1"', '"', "1e999", "0x10", "1_0", " 3 ", "\xff", "é"]))


@st.composite
def channel_files(draw) -> tuple[bytes, int, bool]:
    """(file bytes, non-blank lines written, whether any line's field count differs from the first's)."""
    width = draw(st.integers(1, 6))
    n = draw(st.integers(0, 25))
    newline = draw(st.sampled_from([b"\n", b"\r\n"]))
    lines: list[bytes] = []
    counts: list[int] = []
    for _ in range(n):
        label = draw(st.sampled_from(["0", "1", "1", "0", "2", "", "yes"]))
        fields = draw(st.integers(max(0, width - 2), width + 1)) if draw(st.booleans()) else width
        values = [label] + [draw(HOSTILE_FIELD) for _ in range(max(fields - 1, 0))]
        line = ",".join(values[:max(fields, 1)]).encode("utf-8", "surrogateescape")
        if draw(st.integers(0, 20)) == 0:
            line += b"\xff"  # an invalid UTF-8 byte
        lines.append(line)
        if line.strip():
            counts.append(max(fields, 1))
        if draw(st.integers(0, 8)) == 0:
            lines.append(b"")  # a blank line
    body = newline.join(lines) + (newline if lines and draw(st.booleans()) else b"")
    written = sum(1 for line in lines if line.strip())
    return body, written, len(set(counts)) > 1


@given(channel_files(), st.sampled_from(["part.csv", "part.csv.gz", "fake.csv.gz"]))
@settings(max_examples=2000 if NIGHTLY else 300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_the_reader_refuses_clearly_or_reads_every_line(tmp_path: Path, generated, name: str) -> None:
    body, written, uneven = generated
    folder = tmp_path / "hyp" / "train"
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(gzip.compress(body) if name == "part.csv.gz" else body)
    try:
        split = load_split("train", folder)
    except ContainerError as error:  # anything else (a traceback in the container) fails the property
        assert isinstance(error, DataError) and str(error).strip()
        return
    assert name != "fake.csv.gz" or body.startswith(b"\x1f\x8b")
    assert split.rows == written, (split.rows, written)  # counted on the generated lines, not by the reader
    assert not uneven or b'"' in body  # rows of different widths were refused (unless quoting hid it)
    assert set(np.unique(split.labels)) == {0.0, 1.0}


def test_the_property_generator_is_hostile_enough() -> None:
    """The strategy really produces the cases the property is about (else the property proves little)."""
    seen = {"short": 0, "blank": 0, "bad_byte": 0}

    @given(channel_files())
    @settings(max_examples=200, deadline=None, database=None)
    def probe(generated) -> None:
        body, _, uneven = generated
        seen["short"] += uneven
        seen["blank"] += b"\n\n" in body or b"\r\n\r\n" in body
        seen["bad_byte"] += b"\xff" in body

    probe()
    assert all(v > 5 for v in seen.values()), seen
