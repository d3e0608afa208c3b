#!/usr/bin/env python3
"""Measured detection quality of the drift check, with the synthetic churn generator.

For each of ``--trials`` seeds, a window of ``--window`` requests is generated twice from the same seed: once
with ``--feature`` shifted by ``--shift`` nominal standard deviations, once unshifted (the generator's per-column
random streams make the two windows identical except for the shift). Each window is encoded with the ETL's
``encode_records``, sent through ``write_capture`` / ``read_capture`` as SageMaker data capture files, and checked
against the baseline with the same code as ``check_drift.py``. A window counts as flagged when the check reports
any violation. Prints the rate of flagged windows in both arms and the drift rule's false-alarm rate (alpha).

The baseline is built once: from a real ETL run (``--etl-run <curated>/<runId>``: its ``manifest.json`` and
``baseline/``), or, by default, from ``--train-rows`` generated rows with this package's statistics builder
(same format as the ETL's baseline; ``--compare-etl`` shows how the two agree). Drift is decided by the drift
rule (``drift_checker.drift_rule``) at ``--alpha`` (default 0.01), fixed before any trial ran, not tuned on these
seeds. ``benchmarks/drift_benchmark.py`` measures false alarms and detection over many more windows.

    .venv/bin/python monitor/detection_rates.py [--etl-run DIR] [--trials 100] [--window 1000] [--shift 0.5]
    .venv/bin/python monitor/detection_rates.py --compare-etl DIR
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for folder in ("monitor", "data", "etl"):
    if str(REPO / folder) not in sys.path:
        sys.path.insert(0, str(REPO / folder))

from drift_checker import (Baseline, CapturedRequest, build_statistics, check_rows, columns_from_rows,  # noqa: E402
                           csv_rows, input_rows, numeric_distance, read_capture, suggest_constraints, write_capture)
from drift_checker.drift_rule import DEFAULT_ALPHA  # noqa: E402
from mlops_etl.encode_records import encode_records  # noqa: E402
from mlops_etl.schema import OTHER  # noqa: E402
from synthetic_churn import IMPORTANT_FEATURE, NUMERIC, Drift, generate, schema_dict  # noqa: E402

WINDOW_START = datetime(2024, 5, 1, 13, 0, tzinfo=timezone.utc)


def manifest_for(train: Any, schema: dict) -> dict:
    """The parts of an ETL manifest that encoding needs, for a generated training set (docs/contracts.md §2)."""
    features = [f["name"] for f in schema["numeric"]] + [f["name"] for f in schema["categorical"]]
    types = {**{f["name"]: "numeric" for f in schema["numeric"]},
             **{f["name"]: "categorical" for f in schema["categorical"]}}
    encodings = {f["name"]: {**{c: i for i, c in enumerate(f["categories"])}, OTHER: len(f["categories"])}
                 for f in schema["categorical"]}
    imputation = {f["name"]: float(np.nanmedian(train[f["name"]].astype("float64").to_numpy()))
                  for f in schema["numeric"]}
    return {"features": features, "featureTypes": types, "encodings": encodings, "imputation": imputation}


def builder_baseline(train_rows: int, seed: int) -> tuple[Baseline, dict]:
    train = generate(train_rows, seed)
    manifest = manifest_for(train, schema_dict())
    columns = columns_from_rows([line.split(",") for line in csv_rows(encode_records(train, manifest), manifest)])
    statistics = build_statistics(columns)
    return Baseline(statistics, suggest_constraints(statistics)), manifest


def etl_baseline(run_dir: Path) -> tuple[Baseline, dict]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return Baseline.load(run_dir / "baseline"), manifest


@dataclass
class Arm:
    shift: float
    flagged: list[int] = field(default_factory=list)
    feature_flagged: list[int] = field(default_factory=list)
    distances: list[float] = field(default_factory=list)
    max_distances: list[float] = field(default_factory=list)
    other_violations: dict[str, int] = field(default_factory=dict)

    def rate(self) -> float:
        return sum(self.flagged) / len(self.flagged)


def run_window(baseline: Baseline, manifest: dict, rows: int, seed: int, drift: Drift, column: str,
               alpha: float, workdir: Path) -> tuple[bool, bool, float, float, list[str]]:
    """One window through encoding, capture files and the check: (flagged, feature flagged, distances, kinds)."""
    window = generate(rows, seed, drift)
    lines = csv_rows(encode_records(window, manifest), manifest)
    requests = [CapturedRequest(line, '{"predictions": [0.5]}', WINDOW_START + timedelta(seconds=3 * i), f"{seed}-{i}")
                for i, line in enumerate(lines)]
    # One folder per (seed, shifted feature, shift): both arms of a seed must not share a capture folder,
    # whichever feature is shifted (keyed on one fixed feature, every other feature's arms collided).
    shifts = "-".join(f"{name}={value}" for name, value in sorted(drift.shift.items())) or "none"
    root = workdir / f"capture-{seed}-{shifts}"
    write_capture(requests, root, "churn-prod", file_id=str(seed))
    result, _ = check_rows(baseline, input_rows(read_capture(root)), alpha=alpha)
    kinds = [f"{v.feature_name}:{v.constraint_check_type}" for v in result.violations]
    feature_hit = any(v.feature_name == column and v.constraint_check_type == "baseline_drift_check"
                      for v in result.violations)
    return bool(result.violations), feature_hit, result.distances[column], max(result.distances.values()), kinds


def measure(baseline: Baseline, manifest: dict, *, feature: str, shift: float, trials: int, window: int,
            first_seed: int, alpha: float = DEFAULT_ALPHA) -> tuple[Arm, Arm]:
    column = f"_c{manifest['features'].index(feature)}"
    arms = (Arm(shift), Arm(0.0))
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(first_seed, first_seed + trials):
            for arm in arms:
                drift = Drift(shift={feature: arm.shift}) if arm.shift else Drift()
                flagged, hit, distance, largest, kinds = run_window(baseline, manifest, window, seed, drift, column,
                                                                    alpha, Path(tmp))
                arm.flagged.append(int(flagged))
                arm.feature_flagged.append(int(hit))
                arm.distances.append(distance)
                arm.max_distances.append(largest)
                for kind in kinds:
                    if not kind.startswith(f"{column}:"):
                        arm.other_violations[kind] = arm.other_violations.get(kind, 0) + 1
    return arms


def compare_with_etl(run_dir: Path) -> list[dict]:
    """Per feature: this package's statistics of the run's train split against the ETL's baseline."""
    etl = json.loads((run_dir / "baseline" / "statistics.json").read_text())
    train_files = sorted((run_dir / "train").glob("*.csv"))
    rows = [row[1:] for path in train_files for row in csv.reader(path.open()) if row]  # label first
    mine = build_statistics(columns_from_rows(rows))
    report = []
    for a, b in zip(mine["features"], etl["features"]):
        na, nb = a["numerical_statistics"], b["numerical_statistics"]
        values = np.array([float(r[int(a["name"][2:])]) for r in rows])
        report.append({
            "feature": a["name"],
            "inferred_type": [a["inferred_type"], b["inferred_type"]],
            "num_present": [na["common"]["num_present"], nb["common"]["num_present"]],
            "mean_diff": abs(na["mean"] - nb["mean"]),
            "std_dev_diff": abs(na["std_dev"] - nb["std_dev"]),
            "min_max_equal": na["min"] == nb["min"] and na["max"] == nb["max"],
            "buckets_equal": na["distribution"]["kll"]["buckets"] == nb["distribution"]["kll"]["buckets"],
            "sketch_error_builder": numeric_distance(na["distribution"], values),
            "sketch_error_etl": numeric_distance(nb["distribution"], values),
        })
    return report


def summary(arm: Arm) -> dict:
    d = np.array(arm.distances)
    return {"shift": arm.shift, "trials": len(arm.flagged), "flaggedRate": arm.rate(),
            "featureFlaggedRate": sum(arm.feature_flagged) / len(arm.feature_flagged),
            "featureDistance": {"mean": float(d.mean()), "min": float(d.min()), "max": float(d.max())},
            "largestDistanceOfAnyFeature": float(max(arm.max_distances)), "otherViolations": arm.other_violations}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure drift detection rates with the synthetic churn data.")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--window", type=int, default=1000, help="requests per window (one row each)")
    parser.add_argument("--shift", type=float, default=0.5, help="shift in nominal standard deviations")
    parser.add_argument("--feature", default=IMPORTANT_FEATURE, choices=sorted(NUMERIC))
    parser.add_argument("--first-seed", type=int, default=1000, help="window seeds: first-seed .. first-seed+trials-1")
    parser.add_argument("--train-rows", type=int, default=14000, help="rows of the builder's baseline")
    parser.add_argument("--baseline-seed", type=int, default=11)
    parser.add_argument("--etl-run", type=Path, help="use this ETL run's manifest.json and baseline/ instead")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="the drift rule's false-alarm rate")
    parser.add_argument("--json", type=Path, help="also write the full result here")
    parser.add_argument("--compare-etl", type=Path, metavar="RUN_DIR",
                        help="only compare this package's statistics builder with an ETL run's baseline")
    args = parser.parse_args(argv)

    if args.compare_etl:
        print(json.dumps(compare_with_etl(args.compare_etl), indent=2))
        return 0
    if args.trials < 1 or args.window < 1:
        parser.error("--trials and --window must be at least 1")
    started = time.monotonic()
    if args.etl_run:
        baseline, manifest = etl_baseline(args.etl_run)
        source = f"ETL run {args.etl_run}"
    else:
        baseline, manifest = builder_baseline(args.train_rows, args.baseline_seed)
        source = f"builder, {args.train_rows} generated rows, seed {args.baseline_seed}"
    shifted, clean = measure(baseline, manifest, feature=args.feature, shift=args.shift, trials=args.trials,
                             window=args.window, first_seed=args.first_seed, alpha=args.alpha)
    result = {
        "baseline": source, "feature": args.feature, "window": args.window,
        "seeds": [args.first_seed, args.first_seed + args.trials - 1],
        "alpha": args.alpha,
        "shifted": summary(shifted), "unshifted": summary(clean), "seconds": round(time.monotonic() - started, 1),
    }
    print(f"baseline: {source}; drift rule alpha {args.alpha}; window {args.window} "
          f"requests; seeds {args.first_seed}..{args.first_seed + args.trials - 1}")
    print(f"shift {args.shift} std on {args.feature}: drift flagged in {shifted.rate():.0%} of {args.trials} windows "
          f"(distance mean {result['shifted']['featureDistance']['mean']:.3f}, "
          f"min {result['shifted']['featureDistance']['min']:.3f})")
    print(f"no shift: drift flagged in {clean.rate():.0%} of {args.trials} windows "
          f"(largest distance of any feature {result['unshifted']['largestDistanceOfAnyFeature']:.3f})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
