#!/usr/bin/env python3
"""Glue 5.0 entrypoint of the ETL job; the same file runs locally on plain PySpark.

On Glue (awsglue importable) the options come from getResolvedOptions and the session from GlueContext; the
`mlops_etl` package is shipped beside this script as an extra Python file. Locally:

    .venv/bin/python etl/glue_job.py --input data/churn-sample.csv --schema data/churn.schema.json \
        --output /tmp/x --run-id r1

Prints one summary line and exits 0 when `<output>/<run-id>/` is published; exits 1 with the gate's message
when the run is rejected (see `<output>/_failed-<run-id>/failure.json`), 2 on bad options or schema.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Sequence

from mlops_etl.errors import EtlFailure
from mlops_etl.inputs import inspect_input, open_uri
from mlops_etl.job import JobOptions, effective_limits, looser_schema_notes, run_job, summary_line
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


def main(argv: Sequence[str] | None = None, spark=None) -> int:
    """Runs the job; `spark` lets tests reuse one session instead of starting a JVM per run."""
    started = time.monotonic()
    argv = list(sys.argv if argv is None else argv)
    try:
        opts, schema_uri = parse_args(argv)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        return 2
    try:
        schema = load_schema_uri(schema_uri)
    except (SchemaError, OSError) as exc:
        print(f"etl: run {opts.run_id} FAILED: {schema_uri}: {exc}", file=sys.stderr)
        return 2
    try:
        for note in looser_schema_notes(effective_limits(schema, opts), opts.schema_uri):
            print(f"etl: note: {note}", file=sys.stderr)
    except ValueError as exc:  # bad platform limits
        print(f"etl: run {opts.run_id} FAILED: {exc}", file=sys.stderr)
        return 2
    try:
        info = inspect_input(opts.input)
    except EtlFailure as exc:
        print(f"etl: run {opts.run_id} FAILED ({exc.kind}): {exc.message}", file=sys.stderr)
        return 1
    try:
        result = run_job(spark or _session(info.size_bytes), schema, info, opts)
    except EtlFailure as exc:
        report = f"{opts.output.rstrip('/')}/_failed-{opts.run_id}/failure.json"
        print(f"etl: run {opts.run_id} FAILED ({exc.kind}): {exc.message} "
              f"(time={time.monotonic() - started:.1f}s; report: {report})", file=sys.stderr)
        return 1
    except ValueError as exc:  # bad option values (run id, limits)
        print(f"etl: run {opts.run_id} FAILED: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("ETL_PRINT_PHASES"):  # benchmarks: where the job's time went
        print("etl: phases " + " ".join(f"{k}={v:.2f}s" for k, v in result.phases.items()), file=sys.stderr)
    print(summary_line(result, time.monotonic() - started), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
