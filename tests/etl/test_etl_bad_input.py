"""Bad input, each case on real local Spark: what is quarantined, kept, or refused, and why."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from etl_helpers import TINY_HEADER, tiny_csv, tiny_rows
from mlops_etl.errors import EtlFailure, GateFailure, InputError

pytestmark = pytest.mark.spark


def reasons(rows):
    return {r["_id"] or r["_row_number"]: r["_reason"] for r in rows}


def test_valid_rows_pass_and_are_typed(classify):
    rows = classify("\n".join([TINY_HEADER, "A,12,0.5,x,p,yes", "B,0,,z,,no"]) + "\n")
    assert [r["_reason"] for r in rows] == [None, None]
    a, b = rows
    assert (a["_row_number"], a["_label"], a["_x0"], a["_x1"], a["_x2"], a["_x3"]) == (1, 1, 12.0, 0.5, 0, 0)
    assert (b["_row_number"], b["_label"], b["_x0"], b["_x1"], b["_x2"], b["_x3"]) == (2, 0, 0.0, None, 2, 2)


def test_wrong_column_count_is_quarantined_both_ways(classify):
    rows = classify("\n".join([TINY_HEADER, "A,1,0,x,p,yes", "B,1,0,x,p", "C,1,0,x,p,yes,extra"]) + "\n")
    assert reasons(rows) == {"A": None, "B": "wrong_column_count", "C": "wrong_column_count"}


@pytest.mark.parametrize("value", ["abc", "12,5", "$4", "1d", "0x10", "NaN", "Infinity", "1e999", "--1", "1 2"])
def test_text_that_is_not_a_plain_number_is_non_numeric(classify, value):
    quoted = '"' + value + '"'
    rows = classify(f"{TINY_HEADER}\nA,{quoted},0,x,p,yes\nB,5,0,x,p,no\n")
    assert reasons(rows) == {"A": "non_numeric", "B": None}


@pytest.mark.parametrize("value, expected", [(" 7 ", 7.0), ("1e1", 10.0), ("+3.", 3.0), (".5", 0.5), ("007", 7.0)])
def test_plain_numbers_with_padding_or_exponent_are_accepted(classify, value, expected):
    rows = classify(f'{TINY_HEADER}\nA,"{value}",0,x,p,yes\n')
    assert rows[0]["_reason"] is None and rows[0]["_x0"] == expected


def test_out_of_range_values_are_quarantined_and_bounds_are_inclusive(classify):
    rows = classify("\n".join([TINY_HEADER, "A,101,0,x,p,yes", "B,-0.5,0,x,p,no", "C,50,1.5,x,p,no",
                               "D,100,-1,x,p,yes", "E,0,1,y,q,no"]) + "\n")
    assert reasons(rows) == {"A": "out_of_range", "B": "out_of_range", "C": "out_of_range", "D": None, "E": None}


def test_unknown_and_missing_categories_map_to_other_code(classify):
    rows = classify("\n".join([TINY_HEADER, "A,1,0,w,p,yes", "B,1,0, y ,,no", "C,1,0,X,r,no", "D,1,0,x,__other__,no"])
                    + "\n")
    assert [r["_reason"] for r in rows] == [None] * 4
    assert [(r["_x2"], r["_o2"]) for r in rows] == [(3, True), (1, False), (3, True), (0, False)]
    assert [(r["_x3"], r["_o3"]) for r in rows] == [(0, False), (2, False), (2, True), (2, True)]


def test_missing_required_feature_is_quarantined_but_missing_optional_is_kept(classify):
    rows = classify("\n".join([TINY_HEADER, "A,,0,x,p,yes", "B,1,0,  ,p,no", "C,1,,x,,no"]) + "\n")
    assert reasons(rows) == {"A": "missing_required", "B": "missing_required", "C": None}


def test_null_and_invalid_targets_are_quarantined_and_targets_are_trimmed(classify):
    rows = classify("\n".join([TINY_HEADER, "A,1,0,x,p,", "B,1,0,x,p,  ", "C,1,0,x,p,maybe", "D,1,0,x,p,Yes",
                               "E,1,0,x,p, yes ", "F,1,0,x,p,no"]) + "\n")
    assert reasons(rows) == {"A": "null_target", "B": "null_target", "C": "invalid_target", "D": "invalid_target",
                             "E": None, "F": None}
    assert [r["_label"] for r in rows if r["_reason"] is None] == [1, 0]


def test_duplicate_ids_keep_the_first_row_by_row_number(classify):
    rows = classify("\n".join([TINY_HEADER, "A,1,0,x,p,yes", "B,2,0,x,p,no", "A,3,0,x,p,no", " A ,4,0,x,p,yes",
                               ",5,0,x,p,no", "B,xx,0,x,p,no"]) + "\n")
    assert [(r["_row_number"], r["_reason"]) for r in rows] == [
        (1, None), (2, None), (3, "duplicate_id"), (4, "duplicate_id"), (5, "missing_id"), (6, "non_numeric")]


def test_first_applicable_reason_wins(classify):
    rows = classify("\n".join([TINY_HEADER, "A,,abc,x,p,maybe", "B,abc,5,x,p,yes"]) + "\n")
    assert reasons(rows) == {"A": "invalid_target", "B": "non_numeric"}


def test_utf8_bom_and_crlf_line_endings(classify):
    text = "\ufeff" + "\r\n".join([TINY_HEADER, "A,1,0.5,x,p,yes", "B,2,,y,q,no"]) + "\r\n"
    rows = classify(text.encode("utf-8"))
    assert [(r["_id"], r["_reason"], r["_label"], r["_x3"]) for r in rows] == [("A", None, 1, 0), ("B", None, 0, 1)]
    assert all("\r" not in (r["_h5"] or "") for r in rows)


def test_quoted_fields_with_commas_quotes_and_newlines_stay_one_record(classify):
    text = TINY_HEADER + '\n"A",1,0,x,"p, or ""q""\nmaybe",yes\nB,2,0,"y",q,no\n'
    rows = classify(text)
    assert [(r["_row_number"], r["_id"]) for r in rows] == [(1, "A"), (2, "B")]
    assert rows[0]["_h4"] == 'p, or "q"\nmaybe'
    assert (rows[0]["_reason"], rows[0]["_x3"], rows[0]["_o3"]) == (None, 2, True)


def test_columns_are_matched_by_name_not_position(classify):
    rows = classify("y,d,c,b,a,id,note\nyes,q,z,-1,42,A,free text\n")
    assert (rows[0]["_reason"], rows[0]["_x0"], rows[0]["_x1"], rows[0]["_x2"], rows[0]["_x3"]) == (None, 42.0, -1.0, 2, 1)


def test_missing_optional_column_counts_as_missing(classify):
    rows = classify("id,a,c,y\nA,1,x,yes\n")
    assert (rows[0]["_reason"], rows[0]["_x1"], rows[0]["_x3"]) == (None, None, 2)


def _failure(out: Path, run_id: str = "r1") -> dict:
    assert not (out / run_id).exists(), "a failed run must publish nothing"
    assert not (out / f"_staging-{run_id}").exists()
    return json.loads((out / f"_failed-{run_id}" / "failure.json").read_text())


def test_empty_file_is_refused(run_etl, tmp_path):
    with pytest.raises(InputError, match="input is empty: no header line and no rows"):
        run_etl("")
    report = _failure(tmp_path / "out")
    assert report["kind"] == "input" and report["quarantine"] is None


def test_blank_lines_only_is_empty_too(run_etl, tmp_path):
    with pytest.raises(InputError, match="input is empty"):
        run_etl("\n  \n\r\n")


def test_header_only_fails_the_gate_and_publishes_nothing(run_etl, tmp_path):
    with pytest.raises(GateFailure, match=r"0 usable rows \(0 read, 0 quarantined\); minRows is 1"):
        run_etl(TINY_HEADER + "\n")
    report = _failure(tmp_path / "out")
    assert report["rowsIn"] == 0 and report["quarantine"] == "quarantine/"
    assert (tmp_path / "out" / "_failed-r1" / "quarantine" / "part-00000.csv").read_text() == \
        TINY_HEADER + ",_reason,_row_number,_file,_line,_byte_offset,_detail\n"


def test_missing_header_is_detected(run_etl, tmp_path):
    with pytest.raises(InputError, match="the first line is not a header: it names few of the schema's columns"):
        run_etl("\n".join(tiny_rows(30)) + "\n")
    assert "must start with a header row" in _failure(tmp_path / "out")["message"]


def test_duplicate_or_empty_header_names_are_refused(run_etl):
    with pytest.raises(InputError, match=r"duplicate column names: \['a'\]"):
        run_etl("id,a,a,c,y\nA,1,2,x,yes\n")
    with pytest.raises(InputError, match="header column 3 has no name"):
        run_etl("id,a,,c,y\nA,1,2,x,yes\n", run_id="r2")


def test_non_utf8_input_is_refused(run_etl):
    with pytest.raises(InputError, match="not UTF-8"):
        run_etl("id,a,c,y,caf\xe9\n".encode("latin-1"))


def test_quarantine_file_keeps_every_original_column_as_text(run_etl):
    extra = ['T900,"1,5",0,x,p,yes', 'T901,5,0,x,"p\nq",maybe', "T902,5,0,x,p", "T1,7,0,x,p,no",
             'T903,  abc ,0, x ,p,"say ""no"""']
    result = run_etl(tiny_csv(extra))
    text = (Path(result.prefix) / "quarantine" / "part-00000.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0].keys()) == ["id", "a", "b", "c", "d", "y", "_reason", "_row_number", "_file", "_line", "_byte_offset", "_detail"]
    assert [(r["id"], r["_reason"], r["_row_number"]) for r in rows] == [
        ("T900", "non_numeric", "61"), ("T901", "invalid_target", "62"), ("T902", "wrong_column_count", "63"),
        ("T1", "duplicate_id", "64"), ("T903", "invalid_target", "65")]
    assert rows[0]["a"] == "1,5" and rows[1]["d"] == "p\nq"
    assert (rows[4]["a"], rows[4]["c"], rows[4]["y"]) == ("  abc ", " x ", 'say "no"')
    assert result.manifest["quarantineByReason"]["duplicate_id"] == 1
    assert result.manifest["rowsQuarantined"] == 5 and result.manifest["rowsIn"] == 65


def test_unknown_categories_are_counted_in_the_manifest_not_quarantined(run_etl):
    result = run_etl(tiny_csv(["U1,5,0,w,p,yes", "U2,5,0,x,r,no", "U3,5,0,v,,no"]))
    assert result.manifest["rowsQuarantined"] == 0
    assert result.manifest["otherCategoryCounts"] == {"c": 2, "d": 1}


def test_folder_of_files_each_with_a_header(run_etl, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "part-a.csv").write_text("\n".join([TINY_HEADER, *tiny_rows(40)]) + "\n")
    (folder / "part-b.csv").write_text("\n".join([TINY_HEADER, *tiny_rows(30, start=41), "T1,1,0,x,p,no"]) + "\n")
    (folder / "_ignored.csv").write_text("not,data\n")
    result = run_etl(folder)
    assert result.manifest["rowsIn"] == 71
    assert result.manifest["quarantineByReason"]["duplicate_id"] == 1
    text = (Path(result.prefix) / "quarantine" / "part-00000.csv").read_text()
    # Row 71 overall, line 32 of the second file (its own header is line 1).
    assert text.splitlines()[1].startswith("T1,1,0,x,p,no,duplicate_id,71,part-b.csv,32,")


def test_missing_input_is_refused(run_etl, tmp_path):
    with pytest.raises(EtlFailure, match="input not found"):
        run_etl(tmp_path / "nope.csv")
