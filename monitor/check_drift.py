#!/usr/bin/env python3
"""Local Model Monitor data-quality execution: baseline + captured traffic -> constraint_violations.json.

    check_drift.py --baseline-dir RUN/baseline --capture-dir CAPTURE [--manifest RUN/manifest.json]
                   --output OUT [--start ISO] [--end ISO] [--alpha 0.01] [--min-window 100]
                   [--completeness-tolerance X]

Drift is decided by drift_checker.drift_rule (two-sample tests, Holm's correction at --alpha, no verdict below
--min-window requests); the monitoring job's container (drift_checker.processing_job) runs the same code.
Exit codes: 0 no violation, 1 violations found (written to OUT/constraint_violations.json), 2 unusable input.
The verdict (drift / no drift / insufficient data) is printed either way.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Sequence

from drift_checker import DriftCheckError, parse_time, run_check
from drift_checker.drift_rule import DEFAULT_ALPHA, DEFAULT_MIN_WINDOW


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check captured endpoint traffic against a Model Monitor baseline.")
    parser.add_argument("--baseline-dir", required=True, help="folder with statistics.json and constraints.json")
    parser.add_argument("--capture-dir", required=True,
                        help="data capture root (or an endpoint/variant/hour folder below it); read recursively")
    parser.add_argument("--manifest", help="ETL manifest.json: names features in the descriptions")
    parser.add_argument("--output", required=True, help="folder for constraint_violations.json and statistics.json")
    parser.add_argument("--start", help="only requests at or after this ISO-8601 time")
    parser.add_argument("--end", help="only requests before this ISO-8601 time")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help=f"false-alarm rate per window of the drift rule (default {DEFAULT_ALPHA})")
    parser.add_argument("--min-window", type=int, default=DEFAULT_MIN_WINDOW,
                        help=f"fewer requests than this give 'insufficient data' (default {DEFAULT_MIN_WINDOW})")
    parser.add_argument("--completeness-tolerance", type=float, default=0.0,
                        help="allowed drop of completeness below the baseline's (default 0)")
    args = parser.parse_args(argv)
    try:
        result = run_check(args.baseline_dir, args.capture_dir, args.output, manifest_path=args.manifest,
                           start=parse_time(args.start) if args.start else None,
                           end=parse_time(args.end) if args.end else None,
                           completeness_tolerance=args.completeness_tolerance, alpha=args.alpha,
                           min_window=args.min_window)
    except DriftCheckError as exc:
        print(f"check_drift: {exc}", file=sys.stderr)
        return 2
    kinds = Counter(v.constraint_check_type for v in result.violations)
    summary = ", ".join(f"{k}={n}" for k, n in sorted(kinds.items())) or "none"
    verdict = result.verdict.status if result.verdict else "not evaluated"
    print(f"check_drift: rows={result.row_count} drift verdict: {verdict}; violations={len(result.violations)} "
          f"({summary}) -> {args.output}")
    return 1 if result.violations else 0


if __name__ == "__main__":
    sys.exit(main())
