"""One monitoring execution, locally: baseline + captured window in, Model Monitor's outputs out.

Reads ``<baseline_dir>/statistics.json`` and ``constraints.json`` (the ETL's ``baseline/`` folder), the
captured requests under ``capture_dir`` within ``[start, end)``, and writes into ``output_dir`` what a Model
Monitor data-quality execution writes: ``constraint_violations.json`` and the window's ``statistics.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Mapping

from .capture import input_rows, read_capture
from .checks import CheckResult, check_window, display_names_from_manifest
from .drift_rule import DEFAULT_ALPHA, DEFAULT_MIN_WINDOW
from .errors import DriftCheckError
from .statistics import build_statistics, columns_from_rows, require_features

VIOLATIONS_FILE = "constraint_violations.json"
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"


def load_json(path: Path, what: str) -> dict:
    try:
        with path.open(encoding="utf-8") as handle:
            doc = json.load(handle)
    except FileNotFoundError:
        raise DriftCheckError(f"{what} not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise DriftCheckError(f"{what} {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise DriftCheckError(f"{what} {path}: expected a JSON object")
    return doc


@dataclass(frozen=True)
class Baseline:
    statistics: dict
    constraints: dict

    @staticmethod
    def load(baseline_dir: str | Path) -> "Baseline":
        root = Path(baseline_dir)
        statistics = load_json(root / STATISTICS_FILE, "baseline statistics")
        constraints = load_json(root / CONSTRAINTS_FILE, "baseline constraints")
        stat_names = [f["name"] for f in require_features(statistics, f"{root / STATISTICS_FILE}")]
        cons_names = [f["name"] for f in require_features(constraints, f"{root / CONSTRAINTS_FILE}")]
        if stat_names != cons_names:
            raise DriftCheckError(f"baseline in {root}: statistics features {stat_names} and constraints features "
                                  f"{cons_names} differ; both must list the same columns in the same order")
        return Baseline(statistics, constraints)

    @property
    def column_names(self) -> list[str]:
        return [f["name"] for f in self.constraints["features"]]


def check_rows(baseline: Baseline, rows: list[list[str]], *, display_names: Mapping[str, str] | None = None,
               completeness_tolerance: float = 0.0, alpha: float = DEFAULT_ALPHA,
               min_window: int = DEFAULT_MIN_WINDOW, categorical: Mapping[str, bool] | None = None
               ) -> tuple[CheckResult, dict]:
    """Checks a window given as rows; returns the result and the window's statistics.json."""
    columns = columns_from_rows(rows, baseline.column_names)
    result = check_window(baseline.statistics, baseline.constraints, columns, display_names=display_names,
                          completeness_tolerance=completeness_tolerance, alpha=alpha, min_window=min_window,
                          categorical=categorical)
    return result, build_statistics(columns)


def categorical_from_manifest(manifest: Mapping) -> dict[str, bool]:
    """``{"_c6": True, ...}`` from an ETL manifest's ``baselineColumns`` (docs/contracts.md section 2)."""
    columns = manifest.get("baselineColumns") if isinstance(manifest, Mapping) else None
    if columns is None:
        return {}
    if not isinstance(columns, list) or not all(isinstance(c, Mapping) and isinstance(c.get("name"), str)
                                                and c.get("type") in ("numeric", "categorical") for c in columns):
        raise DriftCheckError('manifest: "baselineColumns" must list {"name": "_c<i>", "type": "numeric" | '
                              '"categorical"} entries (docs/contracts.md section 2)')
    return {c["name"]: c["type"] == "categorical" for c in columns}


def write_results(output_dir: str | Path, result: CheckResult, statistics: dict) -> None:
    """statistics.json, then constraint_violations.json (last: a reader that sees it sees the statistics too)."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / STATISTICS_FILE).write_text(json.dumps(statistics, indent=2) + "\n", encoding="utf-8")
    (out / VIOLATIONS_FILE).write_text(json.dumps(result.as_violations_document(), indent=2) + "\n",
                                       encoding="utf-8")


def run_check(baseline_dir: str | Path, capture_dir: str | Path, output_dir: str | Path, *,
              manifest_path: str | Path | None = None, start: datetime | None = None,
              end: datetime | None = None, completeness_tolerance: float = 0.0, alpha: float = DEFAULT_ALPHA,
              min_window: int = DEFAULT_MIN_WINDOW) -> CheckResult:
    """Runs the checks and writes constraint_violations.json and statistics.json into output_dir.

    With a manifest, its feature names label the violations and its ``baselineColumns`` say which columns are
    categorical; without one, the drift rule infers it from the baseline's types.
    """
    baseline = Baseline.load(baseline_dir)
    manifest = load_json(Path(manifest_path), "manifest") if manifest_path else None
    names = display_names_from_manifest(manifest) if manifest else None
    categorical = categorical_from_manifest(manifest) if manifest else None
    requests = read_capture(capture_dir, start=start, end=end)
    if not requests:
        window = f" between {start} and {end}" if start or end else ""
        raise DriftCheckError(f"no captured requests under {capture_dir}{window}; nothing to check")
    result, statistics = check_rows(baseline, input_rows(requests), display_names=names,
                                    completeness_tolerance=completeness_tolerance, alpha=alpha,
                                    min_window=min_window, categorical=categorical)
    write_results(output_dir, result, statistics)
    return result
