"""Fixtures of the ETL tests: one local SparkSession for the whole run, small inputs, job runners."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
for folder in ("etl", "data"):  # pytest.ini adds them too; keeps this folder runnable on its own
    if str(REPO / folder) not in sys.path:
        sys.path.insert(0, str(REPO / folder))

from mlops_etl import transforms as X  # noqa: E402
from mlops_etl.inputs import inspect_input  # noqa: E402
from mlops_etl.job import JobOptions, JobResult, run_job  # noqa: E402
from mlops_etl.schema import DatasetSchema, parse_schema  # noqa: E402

from etl_helpers import SAMPLE_CSV, SAMPLE_SCHEMA, TINY_SCHEMA, read_input, write_bytes  # noqa: E402


@pytest.fixture(scope="session")
def spark():
    from mlops_etl.local_spark import local_session

    session = local_session("mlops-etl-tests", cores=2, driver_memory="1g", shuffle_partitions=2, input_bytes=0)
    yield session
    session.stop()


@pytest.fixture()
def tiny_schema() -> dict[str, Any]:
    return copy.deepcopy(TINY_SCHEMA)


@pytest.fixture(scope="session")
def churn_schema() -> DatasetSchema:
    return parse_schema(json.loads(SAMPLE_SCHEMA.read_text()))


@pytest.fixture()
def classify(spark, tmp_path) -> Callable[..., list[dict[str, Any]]]:
    """Hand-written CSV text -> the prepared rows (reason, label, typed features, split), in row order."""
    def run(text: str | bytes, schema: dict[str, Any] | None = None, seed: int = 7) -> list[dict[str, Any]]:
        parsed = parse_schema(schema or TINY_SCHEMA)
        path = write_bytes(tmp_path / "in.csv", text)
        columns, raw = read_input(spark, path, parsed, tmp_path / "records.jsonl")
        rows = X.classify(raw, parsed, columns, seed).orderBy(X.ROW).collect()
        return [r.asDict() for r in rows]

    return run


@pytest.fixture()
def run_etl(spark, tmp_path) -> Callable[..., JobResult]:
    """Runs the whole job on a file (or CSV text) into tmp_path/out; returns the JobResult or raises."""
    written = [0]

    def run(source: str | bytes | Path, schema: dict[str, Any] | DatasetSchema | None = None, run_id: str = "r1",
            output: Path | None = None, **overrides: Any) -> JobResult:
        if isinstance(source, Path):
            path = source
        else:
            written[0] += 1
            path = write_bytes(tmp_path / f"input-{written[0]}.csv", source)
        parsed = schema if isinstance(schema, DatasetSchema) else parse_schema(schema or TINY_SCHEMA)
        out = output or tmp_path / "out"
        opts = JobOptions(input=str(path), output=str(out), run_id=run_id, **overrides)
        return run_job(spark, parsed, inspect_input(str(path)), opts)

    return run


@pytest.fixture(scope="session")
def sample_run(spark, churn_schema, tmp_path_factory) -> JobResult:
    """The job run once on the committed sample (data/churn-sample.csv), shared by the tests that read it."""
    out = tmp_path_factory.mktemp("sample")
    return run_job(spark, churn_schema, inspect_input(str(SAMPLE_CSV)), JobOptions(str(SAMPLE_CSV), str(out), "sample"))
