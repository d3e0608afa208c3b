"""The quality gate: each failure fails the run with a clear message and publishes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import glue_job
from etl_helpers import TINY_HEADER, TINY_SCHEMA, tiny_csv
from mlops_etl import job as J
from mlops_etl.errors import EtlFailure, GateFailure, InputError
from mlops_etl.schema import Quality, parse_schema

pytestmark = pytest.mark.spark

BAD_ROWS = [f"Q{i},abc,0,x,p,yes" for i in range(10)]


def strict(**quality) -> dict:
    schema = json.loads(json.dumps(TINY_SCHEMA))
    schema["quality"] = {"maxQuarantineShare": 0.05, "minRows": 10, **quality}
    return schema


def assert_published_nothing(out: Path, run_id: str = "r1") -> dict:
    assert not (out / run_id).exists()
    assert not (out / f"_staging-{run_id}").exists()
    assert sorted(p.name for p in out.iterdir()) == [f"_failed-{run_id}"]
    return json.loads((out / f"_failed-{run_id}" / "failure.json").read_text())


def test_quarantine_share_over_the_limit_fails_and_keeps_the_quarantine(run_etl, tmp_path):
    with pytest.raises(GateFailure) as err:
        run_etl(tiny_csv(BAD_ROWS), strict())
    assert "quarantined share 0.1429 (10 of 70 rows) exceeds maxQuarantineShare 0.05" in err.value.message
    report = assert_published_nothing(tmp_path / "out")
    assert report["kind"] == "gate" and report["status"] == "failed"
    assert [c["name"] for c in report["checks"]] == ["quarantine_share"]
    assert report["rowsIn"] == 70 and report["rowsQuarantined"] == 10
    assert report["quarantineByReason"]["non_numeric"] == 10
    assert report["input"]["sha256"] and report["quarantine"] == "quarantine/"
    kept = (tmp_path / "out" / "_failed-r1" / "quarantine" / "part-00000.csv").read_text().splitlines()
    assert len(kept) == 11 and kept[1].startswith("Q0,abc,0,x,p,yes,non_numeric,61,input-1.csv,62,")


def test_a_platform_limit_is_a_ceiling_a_schema_cannot_loosen(run_etl, tmp_path):
    # The schema allows 20% quarantined rows, the platform (stack config) 5%: the stricter applies, and the
    # refusal names the stack setting, its value and how to change it.
    with pytest.raises(GateFailure) as err:
        run_etl(tiny_csv(BAD_ROWS), strict(maxQuarantineShare=0.2), max_quarantine_share=0.05,
                schema_uri="/data/mine.schema.json")
    assert ("exceeds maxQuarantineShare 0.05 (the platform ceiling, stack config mlops:etl.maxQuarantineShare "
            "(passed as ETL option --max-quarantine-share); a schema's quality.maxQuarantineShare may only lower it: "
            "change it with `pulumi config set mlops:etl.maxQuarantineShare <value>`") in err.value.message
    assert_published_nothing(tmp_path / "out")


def test_a_schema_may_tighten_a_platform_limit_and_the_manifest_says_who_set_each(run_etl):
    result = run_etl(tiny_csv(BAD_ROWS), strict(maxQuarantineShare=0.2, minRows=5), max_quarantine_share=0.5,
                     min_rows=50)
    assert result.manifest["rowsQuarantined"] == 10
    # Exact: the share is one division of two counts, correctly rounded the same way on every CPU.
    assert result.manifest["quality"] == {"maxQuarantineShare": 0.2, "minRows": 50, "maxUnknownCategoryShare": 0.25,
                                          "quarantineShare": 10 / 70,
                                          "limitSources": {"maxQuarantineShare": "schema", "minRows": "platform"}}
    assert Path(result.prefix, "manifest.json").exists()


def test_a_schema_limit_refusal_names_the_schema_key_and_file(run_etl):
    with pytest.raises(GateFailure) as err:
        run_etl(tiny_csv(), strict(minRows=100), min_rows=20, schema_uri="/data/mine.schema.json")
    assert ("60 usable rows (60 read, 0 quarantined); minRows is 100 (schema key quality.minRows in "
            "/data/mine.schema.json: change quality.minRows in the schema; it may not go below the platform limit 20 "
            "(stack config mlops:etl.minRows))") in err.value.message


def test_a_schema_default_is_named_as_a_default():
    schema = parse_schema({k: v for k, v in TINY_SCHEMA.items() if k != "quality"})
    limits = J.effective_limits(schema, J.JobOptions("in", "out", "r"))
    assert limits["minRows"].value == 100 and limits["minRows"].source == "schema"
    assert limits["minRows"].origin("s.json").startswith("schema default (quality.minRows is not set in s.json)")


@pytest.mark.parametrize("schema_rows,platform_rows,used,source", [
    (100, None, 100, "schema"), (100, 1000, 1000, "platform"), (500, 100, 500, "schema"), (100, 100, 100, "schema"),
])
def test_min_rows_is_the_larger_of_schema_and_platform(schema_rows, platform_rows, used, source):
    schema = parse_schema(strict(minRows=schema_rows))
    limit = J.effective_limits(schema, J.JobOptions("in", "out", "r", min_rows=platform_rows))["minRows"]
    assert (limit.value, limit.source) == (used, source)


def test_bad_platform_limits_name_the_stack_setting():
    schema = parse_schema(strict())
    with pytest.raises(ValueError, match=r"--min-rows \(stack config mlops:etl.minRows\) must be at least 1"):
        J.effective_limits(schema, J.JobOptions("in", "out", "r", min_rows=0))
    with pytest.raises(ValueError, match=r"stack config mlops:etl.maxQuarantineShare\) must be between 0 and 1"):
        J.effective_limits(schema, J.JobOptions("in", "out", "r", max_quarantine_share=1.5))


def test_missing_target_column_fails(run_etl, tmp_path):
    text = tiny_csv().replace(TINY_HEADER, "id,a,b,c,d,label")
    with pytest.raises(InputError, match=r"required column\(s\) missing from the header: \['y'\]"):
        run_etl(text, strict())
    report = assert_published_nothing(tmp_path / "out")
    assert report["kind"] == "input" and report["checks"][0]["value"] == ["y"]


def test_missing_required_feature_column_fails(run_etl, tmp_path):
    text = tiny_csv().replace(TINY_HEADER, "id,alpha,b,c,d,y")
    with pytest.raises(InputError, match=r"missing from the header: \['a'\]"):
        run_etl(text, strict())
    assert_published_nothing(tmp_path / "out")


def test_too_few_usable_rows_fails(run_etl, tmp_path):
    with pytest.raises(GateFailure, match=r"60 usable rows \(60 read, 0 quarantined\); minRows is 100"):
        run_etl(tiny_csv(), strict(minRows=100))
    assert assert_published_nothing(tmp_path / "out")["checks"][0]["name"] == "min_rows"


def test_single_class_target_fails(run_etl, tmp_path):
    text = tiny_csv().replace(",yes\n", ",no\n")
    with pytest.raises(GateFailure, match=r"target 'y' has a single class among usable rows \(0 'yes', 60 'no'\)"):
        run_etl(text, strict())
    assert assert_published_nothing(tmp_path / "out")["checks"][0]["name"] == "target_classes"


def test_numeric_feature_never_observed_in_train_fails(run_etl, tmp_path):
    lines = tiny_csv().splitlines()
    blanked = [lines[0]] + [",".join(v if k != 2 else "" for k, v in enumerate(line.split(","))) for line in lines[1:]]
    with pytest.raises(GateFailure, match="numeric feature 'b' has no observed value in the train split"):
        run_etl("\n".join(blanked) + "\n", strict())
    assert_published_nothing(tmp_path / "out")


def test_every_failing_check_is_reported_not_just_the_first(run_etl):
    with pytest.raises(GateFailure) as err:
        run_etl(tiny_csv(BAD_ROWS).replace(",yes\n", ",no\n"), strict(minRows=100))
    assert [c["name"] for c in err.value.checks] == ["min_rows", "quarantine_share", "target_classes"]


def test_gate_checks_per_split_classes():
    schema = parse_schema(TINY_SCHEMA)
    summary = {"rows": 40, **{f"reason:{r}": 0 for r in J.REASONS}, "split:train": 20, "positive:train": 5,
               "split:validation": 10, "positive:validation": 10, "split:test": 10, "positive:test": 2,
               "present:0": 20, "present:1": 0, "other:c": 0, "other:d": 0}
    failing = [c for c in J.gate_checks(summary, schema, Quality(0.05, 10)) if not c["ok"]]
    assert [c["name"] for c in failing] == ["target_classes_validation", "observed:b"]
    assert "the validation split has a single target class (10 positive of 10 rows)" in failing[0]["message"]


def test_row_accounting_mismatch_fails_the_run(run_etl, tmp_path, monkeypatch):
    real = J._count_written
    monkeypatch.setattr(J, "_count_written", lambda spark, staging: {**real(spark, staging), "test": -1})
    with pytest.raises(EtlFailure, match=r"row accounting: 60 rows in, but 60 out \+ 0 quarantined"):
        run_etl(tiny_csv())
    assert_published_nothing(tmp_path / "out")


def test_a_published_run_id_is_never_overwritten(run_etl, tmp_path):
    first = run_etl(tiny_csv())
    manifest = Path(first.prefix, "manifest.json").read_text()
    with pytest.raises(EtlFailure, match="run 'r1' is already published"):
        run_etl(tiny_csv(["Z1,1,0,x,p,yes"]))
    assert Path(first.prefix, "manifest.json").read_text() == manifest
    assert not (tmp_path / "out" / "_failed-r1").exists()


def test_rerun_after_a_failure_publishes_and_clears_the_failure(run_etl, tmp_path):
    with pytest.raises(GateFailure):
        run_etl(tiny_csv(BAD_ROWS), strict())
    run_etl(tiny_csv(), strict())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["r1"]


@pytest.mark.parametrize("run_id", ["_staging-x", "", "a/b", "x" * 129])
def test_unsafe_run_ids_are_refused(run_etl, run_id):
    with pytest.raises(ValueError, match="run id"):
        run_etl(tiny_csv(), run_id=run_id)


def test_entrypoint_exit_codes_and_messages(spark, tmp_path, capsys):
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(strict()))
    bad = tmp_path / "bad.csv"
    bad.write_text(tiny_csv(BAD_ROWS))
    args = ["glue_job.py", "--input", str(bad), "--schema", str(schema_path), "--output", str(tmp_path / "o")]
    assert glue_job.main([*args, "--run-id", "g1"], spark=spark) == 1
    err = capsys.readouterr().err
    assert "etl: run g1 FAILED (gate): quality gate failed: quarantined share 0.1429" in err
    assert f"report: {tmp_path / 'o'}/_failed-g1/failure.json" in err

    # A platform ceiling does not loosen the schema's 5%: still refused.
    assert glue_job.main([*args, "--run-id", "g1b", "--max-quarantine-share", "0.5"], spark=spark) == 1
    assert "exceeds maxQuarantineShare 0.05 (schema key quality.maxQuarantineShare in " \
           f"{schema_path}" in capsys.readouterr().err
    # The schema governs its data: 50% in the schema, and a looser platform ceiling, lets it through.
    schema_path.write_text(json.dumps(strict(maxQuarantineShare=0.5)))
    assert glue_job.main([*args, "--run-id", "g2", "--max-quarantine-share", "0.6"], spark=spark) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("etl: run g2 ok: rows in=70 out=60 quarantined=10 (14.29%) train=")

    assert glue_job.main([*args, "--run-id", "g3", "--min-rows", "many"], spark=spark) == 2
    assert "--min-rows must be int" in capsys.readouterr().err
    # A schema value looser than the platform limit is said out loud, not silently replaced.
    assert glue_job.main([*args, "--run-id", "g5", "--max-quarantine-share", "0.3"], spark=spark) == 0
    assert ("etl: note: schema quality.maxQuarantineShare 0.5 "
            f"({schema_path}) is looser than the platform limit 0.3 (stack config mlops:etl.maxQuarantineShare); "
            "0.3 applies") in capsys.readouterr().err
    schema_path.write_text(json.dumps({**strict(), "split": {"train": 2}}))
    assert glue_job.main([*args, "--run-id", "g4"], spark=spark) == 2
    assert "schema: split.train: expected a share greater than 0 and less than 1" in capsys.readouterr().err
