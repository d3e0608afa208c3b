#!/usr/bin/env python3
"""Glue 5.0 entrypoint of the ETL job; the same file runs locally on plain PySpark.

On Glue (awsglue importable) the options come from getResolvedOptions and the session from GlueContext; the
`mlops_etl` package is shipped beside this script as an extra Python file. Locally:

    .venv/bin/python etl/glue_job.py --input data/churn-sample.csv --schema data/churn.schema.json \
        --output /tmp/x --run-id r1

Prints one summary line and exits 0 when `<output>/<run-id>/` is published; exits 1 with the gate's message
when the run is rejected (see `<output>/_failed-<run-id>/failure.json`), 2 on bad options or schema. Every
failure after the options are read, unexpected ones (Spark, Java) included, leaves that failure.json with a
`kind` and prints one line; the stack trace only with `--debug` (or ETL_DEBUG=1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from typing import Any, Sequence

from mlops_etl.errors import EtlFailure, InputError
from mlops_etl.inputs import inspect_input, open_uri
from mlops_etl.job import _RUN_ID as RUN_ID
from mlops_etl.job import JobOptions, describe_exception, effective_limits, looser_schema_notes, run_job, summary_line
from mlops_etl.schema import DatasetSchema, SchemaError, schema_from_text

REQUIRED = ("input", "schema", "output", "run-id")
OPTIONAL = ("seed", "max-quarantine-share", "min-rows")

try:  # present only inside a Glue job run
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions

    ON_GLUE = True
except ImportError:
    ON_GLUE = False


def _is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


def _local(uri: str) -> str:
    return uri if _is_remote(uri) else os.path.abspath(uri.removeprefix("file://"))


def parse_args(argv: Sequence[str]) -> tuple[JobOptions, str]:
    """(job options, schema URI) from the command line; Glue-style names, Glue-style resolution on Glue."""
    if ON_GLUE:
        wanted = list(REQUIRED) + [o for o in OPTIONAL if f"--{o}" in argv]
        raw = getResolvedOptions(list(argv), wanted)
        values = {o.replace("-", "_"): raw.get(o.replace("-", "_")) for o in (*REQUIRED, *OPTIONAL)}
    else:
        parser = argparse.ArgumentParser(prog="glue_job.py", description="Churn ETL (local run of the Glue job).")
        parser.add_argument("--input", required=True, help="CSV file or folder (local path or s3:// URI)")
        parser.add_argument("--schema", required=True, help="dataset schema JSON (local path or s3:// URI)")
        parser.add_argument("--output", required=True, help="curated root; the run goes to <output>/<run-id>/")
        parser.add_argument("--run-id", required=True)
        parser.add_argument("--seed", help="split seed (default: the schema's split.seed)")
        parser.add_argument("--max-quarantine-share",
                            help="platform ceiling on the quarantined share (stack config mlops:etl.maxQuarantineShare); "
                                 "the schema's quality.maxQuarantineShare may only lower it")
        parser.add_argument("--min-rows",
                            help="platform floor of usable rows (stack config mlops:etl.minRows); the schema's "
                                 "quality.minRows may only raise it")
        parser.add_argument("--debug", action="store_true", help="print stack traces of unexpected errors")
        values = vars(parser.parse_args(list(argv[1:])))

    def number(name: str, kind: type):
        value = values.get(name)
        if value in (None, ""):
            return None
        try:
            return kind(value)
        except ValueError:
            raise SystemExit(f"etl: --{name.replace('_', '-')} must be {kind.__name__}, got {value!r}") from None

    opts = JobOptions(input=_local(values["input"]), output=_local(values["output"]), run_id=values["run_id"],
                      seed=number("seed", int), max_quarantine_share=number("max_quarantine_share", float),
                      min_rows=number("min_rows", int), schema_uri=_local(values["schema"]))
    return opts, _local(values["schema"])


def load_schema_uri(uri: str) -> DatasetSchema:
    with open_uri(uri) as fh:
        return schema_from_text(fh.read().decode("utf-8"))


def _session(input_bytes: int):
    if ON_GLUE:
        from pyspark.context import SparkContext

        return GlueContext(SparkContext.getOrCreate()).spark_session
    from mlops_etl.local_spark import local_session

    return local_session("mlops-etl", input_bytes=input_bytes)


def _debug(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("ETL_DEBUG", "") not in ("", "0")


def _write_failure(opts: JobOptions, report: dict[str, Any], spark) -> str:
    """Writes `<output>/_failed-<run-id>/failure.json` for failures before or outside run_job."""
    uri = f"{opts.output.rstrip('/')}/_failed-{opts.run_id}/failure.json"
    text = json.dumps(report, indent=2) + "\n"
    if _is_remote(uri):
        from mlops_etl.storage import Storage

        Storage(spark or _session(0)).write_text(uri, text)
    else:
        os.makedirs(os.path.dirname(uri), exist_ok=True)
        with open(uri, "w", encoding="utf-8") as fh:
            fh.write(text)
    return uri


def _report(opts: JobOptions, kind: str, message: str) -> dict[str, Any]:
    from mlops_etl.job import _now

    return {"runId": opts.run_id, "createdAt": _now(), "status": "failed", "kind": kind, "message": message,
            "checks": [], "input": {"uri": opts.input, "sha256": None}, "quarantine": None}


def main(argv: Sequence[str] | None = None, spark=None) -> int:
    """Runs the job; `spark` lets tests reuse one session instead of starting a JVM per run."""
    started = time.monotonic()
    argv = list(sys.argv if argv is None else argv)
    debug = _debug(argv)
    try:
        opts, schema_uri = parse_args(argv)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        return 2
    report = f"{opts.output.rstrip('/')}/_failed-{opts.run_id}/failure.json"
    safe_id = bool(RUN_ID.match(opts.run_id))  # else no folder can be named after it: stderr only

    def fail(kind: str, message: str, code: int, session=None) -> int:
        where = ""
        if safe_id:
            try:
                where = f" (report: {_write_failure(opts, _report(opts, kind, message), session)})"
            except Exception as exc:  # the report itself could not be written: say so, still one line
                where = f" (failure.json could not be written: {describe_exception(exc)})"
        print(f"etl: run {opts.run_id} FAILED ({kind}): {message}{where}", file=sys.stderr)
        return code

    try:
        schema = load_schema_uri(schema_uri)
    except (SchemaError, OSError, UnicodeDecodeError) as exc:
        return fail("schema", f"{schema_uri}: {exc}", 2, spark)
    try:
        for note in looser_schema_notes(effective_limits(schema, opts), opts.schema_uri):
            print(f"etl: note: {note}", file=sys.stderr)
    except ValueError as exc:  # bad platform limits
        return fail("options", str(exc), 2, spark)
    try:
        info = inspect_input(opts.input)
    except InputError as exc:
        return fail(exc.kind, exc.message, 1, spark)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        return fail("input", f"cannot read the input {opts.input}: {describe_exception(exc)}", 1, spark)
    session = spark
    try:
        session = spark or _session(info.size_bytes)
        if spark is None and not ON_GLUE and not debug:
            # Spark logs a failed task's Java stack trace at ERROR; the job reports it in one line instead.
            session.sparkContext.setLogLevel("OFF")
        result = run_job(session, schema, info, opts)
    except EtlFailure as exc:
        if debug and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        print(f"etl: run {opts.run_id} FAILED ({exc.kind}): {exc.message} "
              f"(time={time.monotonic() - started:.1f}s; report: {report})", file=sys.stderr)
        return 1
    except ValueError as exc:  # bad option values (run id, limits), refused before anything is written
        return fail("options", str(exc), 2, session)
    except Exception as exc:  # failed before run_job could report it (e.g. the JVM did not start)
        if debug:
            traceback.print_exc()
        return fail("internal", describe_exception(exc), 1, session)
    if os.environ.get("ETL_PRINT_PHASES"):  # benchmarks: where the job's time went
        print("etl: phases " + " ".join(f"{k}={v:.2f}s" for k, v in result.phases.items()), file=sys.stderr)
    print(summary_line(result, time.monotonic() - started), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
