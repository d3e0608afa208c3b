"""Shared helpers and inputs of the ETL tests (importable: pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_etl import records as R
from mlops_etl import transforms as X
from mlops_etl.inputs import open_uri

REPO = Path(__file__).resolve().parents[2]
SAMPLE_CSV = REPO / "data" / "churn-sample.csv"
SAMPLE_SCHEMA = REPO / "data" / "churn.schema.json"

# A small schema for hand-written inputs: every rule of the contract, few columns, a gate that lets bad rows
# through (tests of the gate set their own limits).
TINY_SCHEMA: dict[str, Any] = {
    "name": "tiny",
    "target": {"column": "y", "positive": "yes", "negative": "no"},
    "id": "id",
    "numeric": [{"name": "a", "min": 0, "max": 100, "required": True}, {"name": "b", "min": -1, "max": 1}],
    "categorical": [{"name": "c", "categories": ["x", "y", "z"], "required": True},
                    {"name": "d", "categories": ["p", "q"]}],
    "quality": {"maxQuarantineShare": 1.0, "minRows": 1},
    "split": {"train": 0.5, "validation": 0.25, "test": 0.25, "seed": 7},
}
TINY_HEADER = "id,a,b,c,d,y"


def read_input(spark: Any, path: Path, schema: Any, records: Path) -> tuple[Any, Any]:
    """(column map, read_records frame) of one CSV file, through records.scan as the job does."""
    found: list[X.ColumnMap] = []
    with open(records, "wb") as fh:
        R.scan([str(path)], open_uri, lambda names: found.append(X.map_columns(names, schema)), fh.write)
    columns = found[0] if found else X.map_columns(None, schema)
    return columns, X.read_records(spark, str(records), columns)


def write_bytes(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read_split(prefix: str | Path, split: str) -> list[list[float]]:
    text = (Path(prefix) / split / "part-00000.csv").read_text()
    return [[float(v) for v in line.split(",")] for line in text.splitlines()]


def tiny_rows(n: int, start: int = 1) -> list[str]:
    """n valid TINY_SCHEMA rows with both labels and every category, ids T<start>..."""
    rows = []
    for i in range(start, start + n):
        rows.append(f"T{i},{i % 97},{(i % 21 - 10) / 10},{'xyz'[i % 3]},{'pq'[i % 2] if i % 5 else ''},"
                    f"{'yes' if i % 3 == 0 else 'no'}")
    return rows


def tiny_csv(extra: list[str] | None = None, n: int = 60, header: str = TINY_HEADER, newline: str = "\n") -> str:
    """A TINY_SCHEMA input: header, n valid rows, then the given extra lines."""
    return newline.join([header, *tiny_rows(n), *(extra or [])]) + newline
