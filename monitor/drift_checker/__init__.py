"""Local stand-in for SageMaker Model Monitor's data-quality job (see monitor/README.md).

Pure functions: capture files (``write_capture``, ``read_capture``, ``input_rows``, ``csv_rows``), statistics and
constraints in Model Monitor's format (``build_statistics``, ``suggest_constraints``) and the checks
(``check_window``; the drift decision is ``drift_rule.decide``). ``run_check`` is one monitoring execution
over files; ``monitor/check_drift.py`` is its CLI, ``processing_job`` the monitoring job container's entrypoint.
"""

from .capture import (CapturedRequest, capture_files, capture_record, csv_rows, input_rows, parse_capture_line,
                      parse_time, read_capture, write_capture)
from .checks import (CHECK_TYPES, CheckResult, Violation, categorical_distance, check_window,
                     display_names_from_manifest, effective_config, numeric_distance)
from .drift_rule import (CATEGORICAL, CONTINUOUS, DRIFT, INSUFFICIENT, NO_DRIFT, DriftVerdict, FeatureTest,
                         decide)
from .errors import DriftCheckError
from .run import Baseline, categorical_from_manifest, check_rows, run_check, write_results
from .statistics import (ParsedColumn, build_statistics, columns_from_rows, feature_statistics, kll_sketch,
                         suggest_constraints, value_kind)

__all__ = [
    "Baseline", "CATEGORICAL", "CHECK_TYPES", "CONTINUOUS", "DRIFT", "DriftVerdict", "FeatureTest", "INSUFFICIENT",
    "NO_DRIFT", "categorical_from_manifest", "decide", "write_results", "CapturedRequest", "CheckResult", "DriftCheckError", "ParsedColumn", "Violation",
    "build_statistics", "capture_files", "capture_record", "categorical_distance", "check_rows", "check_window",
    "columns_from_rows", "csv_rows", "display_names_from_manifest", "effective_config", "feature_statistics",
    "input_rows",
    "kll_sketch", "numeric_distance", "parse_capture_line", "parse_time", "read_capture", "run_check",
    "suggest_constraints", "value_kind", "write_capture",
]
