"""The ETL under hostile input: no row lost, no crash, on any input.

1. The hand-made corpus (tests/etl/corpus/, rebuilt by make_corpus.py): every case runs through the entrypoint
   and must end as the table in etl/README.md ("Hostile input corpus") says, one table line per case.
2. A property over the byte-level record finder (records.scan, no Spark): for generated hostile CSVs, every
   physical line is accounted for (counted on the bytes by a separate count), each record's byte offset and line
   point at the start of its line, problems carry a detail, and a file without quoting mistakes yields exactly
   the rows generated, with exactly their values.
3. The same generated files through the whole job (glue_job.main, one Spark session): exit 0, 1 or 2, never a
   traceback; on failure failure.json exists with a kind; on success records found = rows out + rows quarantined
   and every quarantined row has a reason.

`HOSTILE_NIGHTLY=1` raises the example counts (etl/README.md, "Hostile input").
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glue_job
from etl_helpers import REPO, SAMPLE_SCHEMA
from mlops_etl import records as R
from mlops_etl import transforms as X
from mlops_etl.errors import InputError
from mlops_etl.rules import REASONS
from mlops_etl.schema import parse_schema

NIGHTLY = os.environ.get("HOSTILE_NIGHTLY") == "1"
CORPUS = Path(__file__).resolve().parent / "corpus"
README = REPO / "etl" / "README.md"
KINDS = {"input", "gate", "error", "internal", "schema", "options"}
csv.field_size_limit(sys.maxsize)  # an unparseable record's text (up to 1 MiB) is one quarantine field

# ----------------------------------------------------------------------------------------------- the corpus
_ROW = re.compile(r"^\| `(?P<file>[\w.-]+\.csv)` \| (?P<what>.+?) \| (?P<expected>.+?) \|$")


def corpus_table() -> dict[str, str]:
    section = README.read_text().split("### Hostile input corpus", 1)[1].split("\n#", 1)[0]
    return {m["file"]: m["expected"] for line in section.splitlines() if (m := _ROW.match(line))}


def test_every_corpus_file_has_one_table_line_and_every_line_a_file():
    files = sorted(p.name for p in CORPUS.glob("*.csv"))
    assert files and sorted(corpus_table()) == files


def run_entrypoint(spark, path: Path, out: Path, run_id: str, schema: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = glue_job.main(["glue_job.py", "--input", str(path), "--schema", str(schema), "--output", str(out),
                              "--run-id", run_id], spark=spark)
    return code, err.getvalue()


def assert_accounted(prefix: Path, manifest: dict[str, Any]) -> None:
    """rowsIn = records found = rowsOut + rowsQuarantined, read back from the written files."""
    assert manifest["rowsIn"] == manifest["inputRecords"]["records"]
    assert manifest["rowsIn"] == manifest["rowsOut"] + manifest["rowsQuarantined"]
    out = sum(len((prefix / s / "part-00000.csv").read_text().splitlines()) for s in ("train", "validation", "test"))
    assert out == manifest["rowsOut"]
    with open(prefix / "quarantine" / "part-00000.csv", newline="", encoding="utf-8") as fh:
        quarantined = list(csv.DictReader(fh))
    assert len(quarantined) == manifest["rowsQuarantined"]
    assert all(r["_reason"] in REASONS and r["_line"] and r["_byte_offset"] for r in quarantined)
    assert all(r["_detail"] for r in quarantined if r["_reason"] in ("unparseable_record", "invalid_encoding"))


@pytest.mark.spark
@pytest.mark.parametrize("case", sorted(corpus_table()))
def test_corpus_case_ends_as_the_table_says(spark, tmp_path, case):
    expected = corpus_table()[case]
    code, err = run_entrypoint(spark, CORPUS / case, tmp_path, "c1", CORPUS / "schema.json")
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
    if expected.startswith("ok:"):
        assert code == 0, err
        manifest = json.loads((tmp_path / "c1" / "manifest.json").read_text())
        assert_accounted(tmp_path / "c1", manifest)
        wanted = dict(t.split("=") for t in expected[3:].split())
        reasons = {r: int(wanted.pop(r, 0)) for r in REASONS}
        assert manifest["quarantineByReason"] == reasons
        assert manifest["rowsIn"] == int(wanted.pop("in")) and manifest["rowsOut"] == int(wanted.pop("out"))
        scanned = manifest["inputRecords"]
        for key, value in wanted.items():  # headerLine, blankLines, multiLineRecords ...
            actual = scanned[key] if key in scanned else scanned["files"][0][key]
            assert actual == int(value), (key, actual)
        with open(CORPUS / case, "rb") as fh:  # every physical line, counted on the bytes
            assert R.count_physical_lines(fh) == scanned["files"][0]["physicalLines"]
    else:
        kind, fragment = re.fullmatch(r'fail (\w+): "(.+)"', expected).groups()
        assert code != 0
        report = json.loads((tmp_path / "_failed-c1" / "failure.json").read_text())
        assert report["kind"] == kind and fragment in report["message"], report["message"]
        assert "\n" not in report["message"] and not (tmp_path / "c1").exists()
        assert f"FAILED ({kind})" in err


# ------------------------------------------------------------------------------------------ generated input
SCHEMA_DOC = json.loads(SAMPLE_SCHEMA.read_text())
SCHEMA = parse_schema(SCHEMA_DOC)
COLUMNS = SCHEMA.columns  # id, features, target


@st.composite
def value(draw, column: str) -> str:
    numeric = {f.name: f for f in SCHEMA.numeric}
    categorical = {f.name: f for f in SCHEMA.categorical}
    if column == SCHEMA.id:
        return ""  # filled in with a unique id by the caller
    if column == SCHEMA.target.column:
        return draw(st.sampled_from(["yes", "no", "no", "yes", "Yes", "", " no "]))
    if column in numeric:
        f = numeric[column]
        return draw(st.one_of(st.integers(int(f.min), int(f.max)).map(str), st.just(""),
                              st.sampled_from(["n/a", "1e999", "-5", "12.5.1", "1_0"])))
    f = categorical[column]
    return draw(st.one_of(st.sampled_from(list(f.categories)), st.sampled_from(["", "UNKNOWN", f.categories[0].upper()])))


MUTATIONS = ["none"] * 8 + ["stray_quote", "unclosed_quote", "text_after_quote", "quoted_newline", "drop_field",
                            "extra_field", "huge_field", "bad_byte", "blank_after", "header_again", "commas_quoted"]


@st.composite
def hostile_csv(draw, huge: int) -> tuple[bytes, dict[str, Any]]:
    """(file bytes, what was generated): rows from the churn schema with random mistakes.

    `huge` is the size of a "huge" field: above the scan's limit in the property on records.scan (which runs
    with a small limit), above records.MAX_FIELD_BYTES in the end-to-end property."""
    order = draw(st.permutations(COLUMNS)) if draw(st.booleans()) else list(COLUMNS)
    newline = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))
    n = draw(st.integers(0, 20))
    lines: list[bytes] = []
    intended: list[list[str] | None] = []  # per generated record: its values in header order, or None (mutated)
    quoting_mistake = False
    for i in range(n):
        values = [f"H{i:04d}" if c == SCHEMA.id else draw(value(c)) for c in order]
        mutation = draw(st.sampled_from(MUTATIONS))
        fields = list(values)
        text: bytes
        exact = True
        k = draw(st.integers(0, len(fields) - 1))
        if mutation == "stray_quote":
            # Inside an unquoted value a quote is literal text; at a value's start it opens a quoted value.
            fields[k] = values[k] = values[k][:1] + '"' + values[k][1:]
            exact = len(values[k]) > 1
            quoting_mistake = quoting_mistake or not exact
        elif mutation == "unclosed_quote":
            fields[k] = '"' + fields[k]
            exact = False
        elif mutation == "text_after_quote":
            fields[k] = f'"{fields[k]}"x'
            exact = False
        elif mutation == "huge_field":
            fields[k] = '"' + "z" * huge + '"'
            exact = False
        elif mutation == "quoted_newline":
            values[k] = fields[k] + "\nmore"
            fields[k] = '"' + values[k] + '"'
        elif mutation == "commas_quoted":
            values[k] = fields[k] + ', "quoted"'
            fields[k] = '"' + values[k].replace('"', '""') + '"'
        elif mutation == "drop_field":
            del fields[k]
            exact = False
        elif mutation == "extra_field":
            fields.insert(k, "extra")
            exact = False
        text = ",".join(fields).encode("utf-8")
        if mutation == "bad_byte":
            text = text.replace(b",", b"\xff,", 1)
            exact = False
        if mutation in ("unclosed_quote", "text_after_quote", "huge_field"):
            quoting_mistake = True
        lines.append(text)
        intended.append(values if exact else None)
        if mutation == "blank_after":
            lines.append(draw(st.sampled_from([b"", b"   ", b"\t"])))
        if mutation == "header_again":
            lines.append(",".join(order).encode())
            intended.append(None)
    header = ",".join(order).encode()
    before = [draw(st.sampled_from([b"", b"  ", b"\t "])) for _ in range(draw(st.integers(0, 2)))]
    all_lines = [*before, header, *lines]
    if newline == "mixed":
        body = b"".join(line + draw(st.sampled_from([b"\n", b"\r\n", b"\r"])) for line in all_lines)
    else:
        body = newline.encode().join(all_lines) + (newline.encode() if draw(st.booleans()) else b"")
    encoding = draw(st.sampled_from(["utf-8-sig", "latin-1-header", "utf-16", "semicolons"] + ["utf-8"] * 8))
    if encoding == "utf-8-sig":
        body = b"\xef\xbb\xbf" + body
    elif encoding == "latin-1-header":
        body = body.replace(header, header + b",caf\xe9", 1)
    elif encoding == "utf-16":
        body = body.decode("utf-8", "surrogateescape").encode("utf-16", "surrogatepass")
    elif encoding == "semicolons":
        body = body.replace(b",", b";")
    meta = {"rows": len(intended), "intended": intended, "quoting_mistake": quoting_mistake, "encoding": encoding,
            "order": order, "blank_before": len(before)}
    return body, meta


def line_starts(data: bytes) -> list[int]:
    """Byte offset of every physical line (1-based index = line number), found without records.py."""
    return [0, 0] + [m.end() for m in re.finditer(rb"\r\n|\r(?!\n)|\n", data)]


def scan_bytes(data: bytes, limit: int) -> tuple[R.ScanReport, list[dict[str, Any]]]:
    out: list[bytes] = []
    found: list[X.ColumnMap] = []
    report = R.scan(["in.csv"], lambda _: io.BytesIO(data), lambda names: found.append(X.map_columns(names, SCHEMA)),
                    out.append, limit)
    return report, [json.loads(line) for line in b"".join(out).decode("utf-8").splitlines()]


SMALL_LIMIT = 200


@given(hostile_csv(huge=SMALL_LIMIT + 50))
@settings(max_examples=3000 if NIGHTLY else 300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_record_finder_accounts_for_every_line_and_byte(generated):
    data, meta = generated
    try:
        report, records = scan_bytes(data, SMALL_LIMIT)
    except InputError as exc:  # the job reports these in failure.json (kind input)
        assert exc.message and "\n" not in exc.message.strip()
        assert meta["encoding"] in ("latin-1-header", "utf-16", "semicolons"), exc.message
        return
    assert meta["encoding"] in ("utf-8", "utf-8-sig")
    report.check()
    assert R.count_physical_lines(io.BytesIO(data)) == report.files[0].physical_lines
    assert report.files[0].blank_lines_before_header == meta["blank_before"]
    assert [r["r"] for r in records] == list(range(1, report.records + 1))
    starts = line_starts(data)
    for r in records:
        assert data[r["o"]:].startswith(data[starts[r["l"]]:starts[r["l"]] + 1]) and r["o"] == starts[r["l"]]
        assert (r["p"] is None) == (r["d"] is None)
        assert r["p"] in (None, R.UNPARSEABLE, R.INVALID_ENCODING, R.WRONG_COUNT)
        if r["p"] is None:
            assert len(r["v"]) == len(COLUMNS)
    if not meta["quoting_mistake"]:
        # No quoting mistake: one record per generated row, and an untouched row reads back exactly.
        assert report.records == meta["rows"], (report.records, meta["rows"])
        header = meta["order"]
        for r, values in zip(records, meta["intended"]):
            if values is not None:
                assert r["p"] is None and r["v"] == [values[header.index(c)] for c in header]


def test_the_generator_produces_every_kind_of_trouble():
    """The strategy really makes the cases the properties are about (else they would prove little)."""
    seen: dict[str, int] = {"quoting": 0, "cr": 0, "bom": 0, "bad_byte": 0, "blank": 0, "utf16": 0, "reordered": 0}

    @given(hostile_csv(huge=SMALL_LIMIT + 50))
    @settings(max_examples=100, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    def probe(generated):
        data, meta = generated
        seen["quoting"] += meta["quoting_mistake"]
        seen["cr"] += bool(re.search(rb"\r(?!\n)", data))
        seen["bom"] += meta["encoding"] == "utf-8-sig"
        seen["bad_byte"] += b"\xff," in data
        seen["blank"] += meta["blank_before"] > 0
        seen["utf16"] += meta["encoding"] == "utf-16"
        seen["reordered"] += meta["order"] != list(COLUMNS)

    probe()
    assert all(v >= 3 for v in seen.values()), str(seen)


# ---------------------------------------------------------------------------------------- the whole job
@pytest.fixture(scope="module")
def lenient_schema(tmp_path_factory) -> Path:
    """The churn schema with a gate that lets small, bad inputs through (so success paths are exercised)."""
    doc = {**SCHEMA_DOC, "quality": {"maxQuarantineShare": 1.0, "minRows": 1, "maxUnknownCategoryShare": 1.0}}
    path = tmp_path_factory.mktemp("schema") / "schema.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.spark
@given(data=hostile_csv(huge=R.MAX_FIELD_BYTES + 10), lenient=st.booleans())
@settings(max_examples=150 if NIGHTLY else 10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
def test_the_job_never_crashes_and_loses_no_row(spark, tmp_path, lenient_schema, data, lenient):
    body, meta = data
    test_the_job_never_crashes_and_loses_no_row.calls = getattr(test_the_job_never_crashes_and_loses_no_row,
                                                                "calls", 0) + 1
    run_id = f"h{test_the_job_never_crashes_and_loses_no_row.calls}"
    path = tmp_path / f"{run_id}.csv"
    path.write_bytes(body)
    code, err = run_entrypoint(spark, path, tmp_path / "out", run_id, lenient_schema if lenient else SAMPLE_SCHEMA)
    assert "Traceback" not in err and code in (0, 1, 2), err
    if code:
        report = json.loads((tmp_path / "out" / f"_failed-{run_id}" / "failure.json").read_text())
        assert report["kind"] in KINDS and report["message"].strip() and "\n" not in report["message"]
        return
    manifest = json.loads((tmp_path / "out" / run_id / "manifest.json").read_text())
    assert_accounted(tmp_path / "out" / run_id, manifest)
    with open(path, "rb") as fh:
        assert R.count_physical_lines(fh) == manifest["inputRecords"]["files"][0]["physicalLines"]
    if not meta["quoting_mistake"]:
        assert manifest["rowsIn"] == meta["rows"]


# ----------------------------------------------------------------------------------- failure paths, one each
@pytest.mark.spark
def test_an_unexpected_spark_error_ends_in_failure_json_with_one_line(spark, tmp_path, monkeypatch):
    from py4j.protocol import Py4JJavaError

    class FakeJava:
        def toString(self):  # noqa: N802 - the JVM's name
            return "org.apache.spark.SparkException: Job aborted due to stage failure\n\tat org.apache.Foo(Foo.java:1)"

    def boom(*_a, **_k):
        # A real Py4JJavaError (its constructor needs a live JVM object, so it is built without it); its str()
        # would be the whole Java stack trace, which must not reach the user.
        error = Py4JJavaError.__new__(Py4JJavaError)
        error.java_exception = FakeJava()
        raise error

    monkeypatch.setattr(X, "summarize", boom)
    code, err = run_entrypoint(spark, CORPUS / "utf8_bom.csv", tmp_path, "x1", CORPUS / "schema.json")
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    report = json.loads((tmp_path / "_failed-x1" / "failure.json").read_text())
    assert report["kind"] == "internal"
    assert report["message"] == ("unexpected error: org.apache.spark.SparkException: Job aborted due to stage failure "
                                 "(rerun with --debug for the stack trace)")
    assert not (tmp_path / "x1").exists() and not (tmp_path / "_staging-x1").exists()


def test_a_bad_schema_leaves_failure_json_and_exits_2(tmp_path):
    bad = tmp_path / "schema.json"
    bad.write_text('{"name": "x"')
    code, err = run_entrypoint(None, CORPUS / "utf8_bom.csv", tmp_path / "out", "s1", bad)
    assert code == 2 and "Traceback" not in err
    report = json.loads((tmp_path / "out" / "_failed-s1" / "failure.json").read_text())
    assert report["kind"] == "schema" and "not valid JSON" in report["message"]


def test_a_missing_input_leaves_failure_json(tmp_path):
    code, err = run_entrypoint(None, tmp_path / "nope.csv", tmp_path / "out", "m1", CORPUS / "schema.json")
    assert code == 1 and "Traceback" not in err
    report = json.loads((tmp_path / "out" / "_failed-m1" / "failure.json").read_text())
    assert report["kind"] == "input" and "input not found" in report["message"]

