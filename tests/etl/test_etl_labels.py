"""Target labels as JSON strings, numbers or booleans (docs/contracts.md section 1), and the manifest saying how
rows were split (by id, or by position when the schema declares none)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_helpers import TINY_SCHEMA, read_split
from mlops_etl.schema import parse_schema

pytestmark = pytest.mark.spark


def numeric_only(target: dict, with_id: bool = False) -> dict:
    doc = {"name": "labels", "target": {"column": "y", **target}, "numeric": [{"name": "x", "required": True}],
           "quality": {"maxQuarantineShare": 1.0, "minRows": 1},
           "split": {"train": 0.6, "validation": 0.2, "test": 0.2, "seed": 3}}
    if with_id:
        doc["id"] = "k"
    return doc


def labels_of(result) -> list[float]:
    return [row[0] for s in ("train", "validation", "test") for row in read_split(result.prefix, s)]


def test_number_labels_match_by_value_and_anything_else_is_invalid(run_etl):
    # 0/1 written as integers, as decimals, with a sign or an exponent all count; 2, "yes", "0x1" do not.
    cells = ["1", "0", "1.0", "0.00", "+1", "1e0", " 1 ", "2", "yes", "0x1", "-0", "1.5"]
    rows = [f"{i},{c}" for i, c in enumerate(cells)] + [f"{i},{i % 2}" for i in range(20, 60)]
    result = run_etl("x,y\n" + "\n".join(rows) + "\n", numeric_only({"positive": 1, "negative": 0}))
    m = result.manifest
    assert m["quarantineByReason"]["invalid_target"] == 4  # 2, yes, 0x1, 1.5
    assert m["rowsOut"] == len(rows) - 4
    assert sorted(labels_of(result)).count(1.0) == 5 + 20  # 1, 1.0, +1, 1e0 and " 1 " (values are trimmed)
    assert m["schema"]["target"] == {"column": "y", "positive": 1, "negative": 0}, "the schema as given"


def test_boolean_labels_match_true_and_false_in_any_case(run_etl):
    cells = ["true", "False", "TRUE", "false", "1", "yes", "t"]
    rows = [f"{i},{c}" for i, c in enumerate(cells)] + [f"{i},{'True' if i % 2 else 'False'}" for i in range(20, 60)]
    result = run_etl("x,y\n" + "\n".join(rows) + "\n", numeric_only({"positive": True, "negative": False}))
    assert result.manifest["quarantineByReason"]["invalid_target"] == 3  # 1, yes, t
    assert sorted(labels_of(result)).count(1.0) == 2 + 20


def test_string_labels_still_match_exactly(run_etl):
    rows = [f"{i},{c}" for i, c in enumerate(["yes", "Yes", "no", "1"])] + [f"{i},{'yes' if i % 2 else 'no'}"
                                                                          for i in range(20, 60)]
    result = run_etl("x,y\n" + "\n".join(rows) + "\n", numeric_only({"positive": "yes", "negative": "no"}))
    assert result.manifest["quarantineByReason"]["invalid_target"] == 2  # Yes, 1


def test_manifest_says_split_by_position_without_an_id_and_by_id_with_one(run_etl, tmp_path):
    rows = [f"{i},{i % 2}" for i in range(40)]
    by_position = run_etl("x,y\n" + "\n".join(rows) + "\n", numeric_only({"positive": 1, "negative": 0}))
    assert by_position.manifest["splitBy"] == "position"
    with_id = run_etl("k,x,y\n" + "\n".join(f"id{r.split(',')[0]},{r}" for r in rows) + "\n",
                      numeric_only({"positive": 1, "negative": 0}, with_id=True), run_id="r2")
    assert with_id.manifest["splitBy"] == "id"
    assert json.loads(Path(with_id.prefix, "manifest.json").read_text())["splitBy"] == "id"


def test_summary_line_says_split_by_position(run_etl):
    from mlops_etl.job import summary_line

    rows = [f"{i},{i % 2}" for i in range(40)]
    result = run_etl("x,y\n" + "\n".join(rows) + "\n", numeric_only({"positive": 1, "negative": 0}))
    assert " (split by position: no id) time=" in summary_line(result)


@settings(max_examples=60, deadline=None)
@given(positive=st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32)),
       negative=st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32)))
def test_any_two_distinct_numbers_are_accepted_and_equal_ones_refused(positive, negative):
    doc = copy.deepcopy(TINY_SCHEMA)
    doc["target"] = {"column": "y", "positive": positive, "negative": negative}
    if float(positive) == float(negative):
        with pytest.raises(ValueError, match="target.negative: must differ from target.positive"):
            parse_schema(doc)
    else:
        t = parse_schema(doc).target
        assert (t.kind, t.positive_number, t.negative_number) == ("number", float(positive), float(negative))
