#!/usr/bin/env python3
"""Drift benchmark: false alarms and detection of the drift rule against the former fixed-distance rule.

Run on demand (about 2 minutes on one core; not part of the test suite):

    .venv/bin/python benchmarks/drift_benchmark.py [--windows 200] [--first-seed 2000] [--json out.json]

Baseline: ``--train-rows`` rows of the synthetic churn generator (seed ``--baseline-seed``), encoded as the ETL
encodes them and summarised by the drift checker's statistics builder (the ETL's baseline format: numeric
features Fractional with a KLL sketch, categorical codes Integral; ``monitor/detection_rates.py --compare-etl``
shows it matches a real ETL run). Every window is freshly generated from its own seed (``first-seed`` onwards,
the same seeds for every cell and both rules), encoded the same way and judged by

- **the drift rule** (``drift_checker.drift_rule.decide`` at its defaults: alpha 0.01 per window, minimum window
  100 requests; continuous / categorical from the manifest, as the local pipeline and the AWS job run it), and
- **the former rule**: a feature drifts when the L-infinity distance between its baseline CDF (the same sketch)
  and the window's exceeds 0.1 and the KS critical value ``1.358*sqrt((n+m)/(n*m))`` (Model Monitor's
  ``comparison_threshold`` 0.1, method Robust); categorical codes, Integral, were compared the same way.

A window is *flagged* when any feature drifts. Cells:

- false alarms: no change, windows of 100, 200, 500, 1,000 and 5,000 requests (goal <= 1 %, or insufficient data),
  all against the one baseline; and 5,000 requests against ten baselines (seeds ``--baseline-seed`` + 1 .. + 10, a
  tenth of the windows each). alpha bounds the false-alarm rate over baselines and windows together; against one
  fixed baseline the rate of large windows depends on how far that baseline's sample happens to sit from the
  population (the window's own noise shrinks, the baseline's stays), so the second row shows the average;
- detection at 1,000 requests, drift made by the generator itself (``synthetic_churn.Drift``, as
  ``monitor/detection_rates.py`` does): one numeric feature moved by +0.25 of its nominal standard deviation
  before rounding and clipping (goal >= 95 %) — except ``support_calls``: rounding undoes a 0.27-call shift of
  its Poisson counts entirely (the generator's windows come out identical), so there 1 call is added to a random
  quarter of the rows (0.25 std x 1.095 = 27.4 %), the same mean shift with integer counts — or the share of one categorical feature's most common category
  below one half raised by 50 % (the other categories keep their proportions; goal >= 90 %).

The table prints each rule's flagged share with a 95 % Wilson interval, and the ratio of the former rule's to
the new rule's rate.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for folder in ("monitor", "data", "etl"):
    if str(REPO / folder) not in sys.path:
        sys.path.insert(0, str(REPO / folder))

from detection_rates import builder_baseline  # noqa: E402
from drift_checker import Baseline, columns_from_rows, csv_rows, decide, numeric_distance  # noqa: E402
from drift_checker.drift_rule import DEFAULT_ALPHA, DEFAULT_MIN_WINDOW, INSUFFICIENT  # noqa: E402
from mlops_etl.encode_records import encode_records  # noqa: E402
from synthetic_churn import CATEGORICAL, NUMERIC, Drift, generate  # noqa: E402

FALSE_ALARM_SIZES = (100, 200, 500, 1000, 5000)
DETECTION_WINDOW = 1000
MEAN_SHIFT_STD = 0.25
SHARE_RAISE = 1.5
FORMER_THRESHOLD = 0.1
KS_C_ALPHA_05 = 1.358
INTEGER_SHIFTED = "support_calls"


@dataclass
class Cell:
    label: str
    size: int
    goal: str
    #: Baseline seeds to spread the windows over (None: the benchmark's one baseline).
    baseline_seeds: tuple[int, ...] | None = None
    new_flagged: int = 0
    new_insufficient: int = 0
    former_flagged: int = 0
    windows: int = 0


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a rate k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def former_rule_flags(baseline: Baseline, matrix: np.ndarray) -> bool:
    """Any feature with distance > 0.1 and beyond the KS critical value at 0.05 (the former Robust check)."""
    m = matrix.shape[0]
    for j, feature in enumerate(baseline.statistics["features"]):
        numerical = feature["numerical_statistics"]
        n = float(numerical["common"]["num_present"])
        distance = numeric_distance(numerical["distribution"], matrix[:, j])
        if distance > FORMER_THRESHOLD and distance > KS_C_ALPHA_05 * math.sqrt((n + m) / (n * m)):
            return True
    return False


def run_cell(cell: Cell, baseline: Baseline, manifest: dict, categorical: dict[str, bool], seeds: Sequence[int],
             drift: Drift, add_one_share: float = 0.0) -> None:
    column = manifest["features"].index(INTEGER_SHIFTED)
    for seed in seeds:
        matrix = encode_records(generate(cell.size, seed, drift), manifest)
        if add_one_share:
            rng = np.random.default_rng([seed, 99])
            matrix[:, column] += rng.random(cell.size) < add_one_share
        # Through the same text format the capture holds (12.0 / 2), so types are inferred as in production.
        rows = [line.split(",") for line in csv_rows(matrix, manifest)]
        verdict = decide(baseline.statistics["features"], columns_from_rows(rows, baseline.column_names),
                         categorical=categorical)
        cell.windows += 1
        cell.new_flagged += int(verdict.status == "drift")
        cell.new_insufficient += int(verdict.status == INSUFFICIENT)
        cell.former_flagged += int(former_rule_flags(baseline, matrix))


def build_cells() -> list[tuple[Cell, Drift, float]]:
    cells = [(Cell(f"no change, {size:,} requests", size, "<= 1 %"), Drift(), 0.0) for size in FALSE_ALARM_SIZES]
    cells.append((Cell("no change, 5,000 requests, 10 baselines", 5000, "<= 1 %", baseline_seeds=tuple(range(1, 11))),
                  Drift(), 0.0))
    for name in NUMERIC:
        if name == INTEGER_SHIFTED:
            share = MEAN_SHIFT_STD * NUMERIC[name]["std"]
            cells.append((Cell(f"{name} +{MEAN_SHIFT_STD} std (+1 call in {share:.1%} of rows)", DETECTION_WINDOW,
                               ">= 95 %"), Drift(), share))
        else:
            cells.append((Cell(f"{name} +{MEAN_SHIFT_STD} std", DETECTION_WINDOW, ">= 95 %"),
                          Drift(shift={name: MEAN_SHIFT_STD}), 0.0))
    for name, spec in CATEGORICAL.items():
        shares = dict(spec["categories"])
        category = max((c for c in shares if shares[c] < 0.5), key=lambda c: shares[c])
        raised = SHARE_RAISE * shares[category]
        cells.append((Cell(f"{name}={category} share {shares[category]:.0%} -> {raised:.0%}", DETECTION_WINDOW,
                           ">= 90 %"), Drift(category_mix={name: {category: raised}}), 0.0))
    return cells


def rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k / n:6.1%} [{lo:.1%}, {hi:.1%}]"


def table(cells: Sequence[Cell]) -> str:
    lines = ["| cell | requests | goal | drift rule: flagged [95% CI] | former rule (distance > 0.1): flagged "
             "[95% CI] | former / new |",
             "|---|---|---|---|---|---|"]
    for c in cells:
        if c.new_insufficient == c.windows:
            new = "insufficient data (all windows)"
        else:
            new = rate(c.new_flagged, c.windows)
            if c.new_insufficient:
                new += f", {c.new_insufficient} insufficient"
        ratio = (f"{c.former_flagged / c.new_flagged:.2f}" if c.new_flagged else
                 ("—" if c.former_flagged == 0 else "∞"))
        lines.append(f"| {c.label} | {c.size:,} | {c.goal} | {new} | {rate(c.former_flagged, c.windows)} | {ratio} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="False alarms and detection of the drift rule vs the former rule.")
    parser.add_argument("--windows", type=int, default=200, help="windows per cell (default 200)")
    parser.add_argument("--first-seed", type=int, default=2000, help="window seeds: first-seed .. +windows-1")
    parser.add_argument("--train-rows", type=int, default=14000, help="rows of the baseline (default 14000)")
    parser.add_argument("--baseline-seed", type=int, default=11)
    parser.add_argument("--json", type=Path, help="also write the counts here")
    args = parser.parse_args(argv)
    if args.windows < 1:
        parser.error("--windows must be at least 1")
    started = time.monotonic()
    baseline, manifest = builder_baseline(args.train_rows, args.baseline_seed)
    manifest["baselineColumns"] = [{"name": f"_c{i}", "feature": f, "type": manifest["featureTypes"][f]}
                                   for i, f in enumerate(manifest["features"])]
    categorical = {c["name"]: c["type"] == "categorical" for c in manifest["baselineColumns"]}
    seeds = range(args.first_seed, args.first_seed + args.windows)
    cells = build_cells()
    for cell, drift, add_one_share in cells:
        if cell.baseline_seeds is None:
            run_cell(cell, baseline, manifest, categorical, seeds, drift, add_one_share)
            continue
        share = math.ceil(len(seeds) / len(cell.baseline_seeds))
        for k, offset in enumerate(cell.baseline_seeds):
            other, other_manifest = builder_baseline(args.train_rows, args.baseline_seed + offset)
            run_cell(cell, other, other_manifest, categorical, seeds[k * share:(k + 1) * share], drift, add_one_share)
    elapsed = time.monotonic() - started
    print(f"baseline: {args.train_rows:,} generated rows (seed {args.baseline_seed}); {args.windows} windows per "
          f"cell, seeds {args.first_seed}..{args.first_seed + args.windows - 1}; drift rule alpha {DEFAULT_ALPHA}, "
          f"minimum window {DEFAULT_MIN_WINDOW}; {elapsed:.0f} s")
    print(table([c for c, _, _ in cells]))
    if args.json:
        args.json.write_text(json.dumps([c.__dict__ for c, _, _ in cells], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
