"""Dataset schema validation: a bad schema fails at load with the field's path and what is allowed."""

from __future__ import annotations

import copy
import json

import pytest

from etl_helpers import SAMPLE_SCHEMA, TINY_SCHEMA
from mlops_etl.schema import OTHER, SchemaError, load_schema, parse_schema, schema_from_text


def test_sample_schema_loads_with_contract_fields():
    schema = load_schema(str(SAMPLE_SCHEMA))
    assert schema.target.column == "churned" and schema.target.positive == "yes"
    assert schema.id == "customer_id"
    assert schema.features == ["tenure_months", "monthly_charges", "total_charges", "support_calls",
                               "data_usage_gb", "age", "contract", "payment_method", "internet_service", "region"]
    assert schema.quality.max_quarantine_share == 0.05 and schema.quality.min_rows == 100
    assert (schema.split.train, schema.split.validation, schema.split.test, schema.split.seed) == (0.7, 0.15, 0.15, 42)
    assert schema.raw == json.loads(SAMPLE_SCHEMA.read_text())
    contract = [f for f in schema.categorical if f.name == "contract"][0]
    assert contract.encoding() == {"month-to-month": 0, "one-year": 1, "two-year": 2, OTHER: 3}


def test_required_columns_are_target_id_and_required_features():
    schema = parse_schema(TINY_SCHEMA)
    assert schema.required_columns == ["y", "id", "a", "c"]
    assert schema.feature_types == {"a": "numeric", "b": "numeric", "c": "categorical", "d": "categorical"}


def test_quality_and_split_default_when_omitted():
    doc = copy.deepcopy(TINY_SCHEMA)
    del doc["quality"], doc["split"], doc["id"]
    schema = parse_schema(doc)
    assert (schema.quality.max_quarantine_share, schema.quality.min_rows) == (0.05, 100)
    assert (schema.split.train, schema.split.validation, schema.split.test, schema.split.seed) == (0.7, 0.15, 0.15, 42)
    assert schema.id is None


def _mutated(path: list, value=None, delete: bool = False) -> dict:
    doc = copy.deepcopy(TINY_SCHEMA)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


@pytest.mark.parametrize("doc, expected", [
    (_mutated(["extra"], 1), "extra: unknown field; allowed: categorical, description, id, name, numeric"),
    (_mutated(["target"], delete=True), "target: is required"),
    (_mutated(["target", "negative"], "yes"), "target.negative: must differ from target.positive"),
    (_mutated(["target", "column"], ""), "target.column: expected a non-empty string"),
    (_mutated(["target", "positive"], 1), "target.negative: must have the same type as target.positive (number), "
                                          "got string 'no'"),
    (_mutated(["target", "positive"], None), "target.positive: expected a string, a number or true/false, got null"),
    (_mutated(["target", "positive"], [1]), "target.positive: expected a string, a number or true/false, got list"),
    (_mutated(["target"], {"column": "y", "positive": 1, "negative": 1.0}),
     "target.negative: must differ from target.positive"),
    (_mutated(["target"], {"column": "y", "positive": True, "negative": True}),
     "target.negative: must differ from target.positive"),
    (_mutated(["numeric", 0, "min"], 200), "numeric[0].min: min (200.0) must not exceed max (100.0)"),
    (_mutated(["numeric", 1, "max"], "ten"), "numeric[1].max: expected a finite number, got 'ten'"),
    (_mutated(["numeric", 1, "max"], True), "numeric[1].max: expected a finite number, got True"),
    (_mutated(["numeric", 0, "required"], "yes"), "numeric[0].required: expected true or false"),
    (_mutated(["numeric", 0, "kind"], "int"), "numeric[0].kind: unknown field; allowed: max, min, name, required"),
    (_mutated(["numeric"], {"name": "a"}), "numeric: expected a list of features, got dict"),
    (_mutated(["categorical", 0, "categories"], []), "categorical[0].categories: expected a non-empty list"),
    (_mutated(["categorical", 0, "categories"], ["x", "x"]), "categorical[0].categories[1]: duplicate category 'x'"),
    (_mutated(["categorical", 0, "categories"], ["x", OTHER]), "categorical[0].categories[1]: '__other__' is reserved"),
    (_mutated(["categorical", 1, "name"], "a"), "categorical[1].name: 'a' is already used by numeric[0].name"),
    (_mutated(["id"], "y"), "id: 'y' is already used by target.column"),
    (_mutated(["numeric", 0, "name"], "_c0"), "numeric[0].name: column names must not start with '_'"),
    (_mutated(["numeric", 0, "name"], " a"), "numeric[0].name: must not start or end with whitespace"),
    (_mutated(["split", "train"], 0.9), "split: train + validation + test must add up to 1, got 1.4"),
    (_mutated(["split", "validation"], 0), "split.validation: expected a share greater than 0 and less than 1"),
    (_mutated(["split", "seed"], -1), "split.seed: expected an integer >= 0, got -1"),
    (_mutated(["quality", "maxQuarantineShare"], 1.5), "quality.maxQuarantineShare: expected a share between 0 and 1"),
    (_mutated(["quality", "minRows"], 0), "quality.minRows: expected an integer >= 1, got 0"),
    (_mutated(["quality", "minRows"], 2.5), "quality.minRows: expected an integer >= 1, got 2.5"),
    (_mutated(["quality", "maxRows"], 5), "quality.maxRows: unknown field; allowed: maxQuarantineShare, maxUnknownCategoryShare, minRows"),
])
def test_invalid_schema_names_the_field_and_what_is_allowed(doc, expected):
    with pytest.raises(SchemaError) as err:
        parse_schema(doc)
    assert expected in str(err.value)
    assert str(err.value).startswith("schema: ")


def test_schema_without_features_is_rejected():
    doc = copy.deepcopy(TINY_SCHEMA)
    doc["numeric"], doc["categorical"] = [], []
    with pytest.raises(SchemaError, match="at least one numeric or categorical feature"):
        parse_schema(doc)


def test_schema_that_is_not_json_is_rejected():
    with pytest.raises(SchemaError, match="not valid JSON"):
        schema_from_text("{'name': 'single quotes'}")
    with pytest.raises(SchemaError, match=r"\(root\): expected an object, got list"):
        schema_from_text("[]")
