#!/usr/bin/env python3
"""Small "bring your own dataset" examples that look nothing like churn, generated from a seed.

Each is what a new user might bring: a few hundred rows, numeric features only, a 0/1 integer target, column
names of their own, no id column, and a schema written from docs/contracts.md section 1 alone (no `quality`,
no `split`: the defaults apply). The end-to-end test (tests/pipeline/byod-pipeline.test.ts) runs each through
`npm run pipeline:local -- --data <csv> --schema <schema>`; benchmarks/early_stopping_benchmark.py trains on
them. Everything is synthetic.

    .venv/bin/python data/byod_examples.py --kind sensor-fault --seed 1 --out /tmp/byod

writes `/tmp/byod/sensor-fault.csv` and `/tmp/byod/sensor-fault.schema.json` and prints one line.

Pure functions: ``generate(kind, seed, rows)`` returns (DataFrame, schema dict); the CLI only writes files.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Kind:
    rows: int
    target: str
    make: Callable[[np.random.Generator, int], tuple[pd.DataFrame, np.ndarray]]
    description: str


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _sensor_fault(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Machine sensors; faults come with heat and vibration (a linear signal, moderately noisy)."""
    temperature = rng.normal(65.0, 8.0, n)
    vibration = rng.gamma(4.0, 0.9, n)
    pressure = rng.normal(101.3, 2.5, n)
    humidity = rng.uniform(20.0, 80.0, n)
    z = 0.35 * (temperature - 65.0) + 0.9 * (vibration - 3.6) - 0.5
    fault = (rng.random(n) < _sigmoid(z)).astype(int)
    frame = pd.DataFrame({"temperature_c": temperature.round(2), "vibration_mm_s": vibration.round(3),
                          "pressure_kpa": pressure.round(2), "humidity_pct": humidity.round(1)})
    return frame, fault


def _wine_grade(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Lab measurements; "premium" depends on an interaction and a threshold (not linear), about a third positive.
    The file also has a running `sample_no` column the schema does not declare (ignored, not an id)."""
    alcohol = rng.normal(10.5, 1.1, n)
    sulphates = rng.lognormal(-0.5, 0.25, n)
    acidity = rng.normal(8.3, 1.6, n)
    sugar = rng.lognormal(0.8, 0.5, n)
    ph = rng.normal(3.3, 0.15, n)
    density = 0.9967 - 0.0009 * (alcohol - 10.5) + rng.normal(0, 0.0006, n)
    chlorides = rng.lognormal(-2.6, 0.3, n)
    z = 4.0 * (alcohol - 10.8) * (sulphates > 0.62) + 2.6 * (alcohol - 11.2) - 12.0 * (chlorides - 0.08)
    premium = (rng.random(n) < _sigmoid(z)).astype(int)
    frame = pd.DataFrame({
        "premium": premium, "sample_no": np.arange(1, n + 1), "fixed_acidity": acidity.round(2),
        "residual_sugar": sugar.round(2), "ph": ph.round(3), "sulphates": sulphates.round(3),
        "alcohol": alcohol.round(2), "density": density.round(5), "chlorides": chlorides.round(4),
    })
    return frame, premium


def _two_blobs(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Two well separated clusters: an easy problem where ROC AUC reaches 1.0 within a few boosting rounds,
    the case where early stopping on AUC stops too soon for calibrated probabilities."""
    label = (rng.random(n) < 0.37).astype(int)
    centre = np.where(label[:, None] == 1, [3.6, 2.6, -1.8], [0.0, 0.0, 0.0])
    x = centre + rng.normal(0.0, 1.0, (n, 3))
    frame = pd.DataFrame({"radius_mean": (14.0 + 3.0 * x[:, 0]).round(3),
                          "texture_mean": (19.0 + 4.0 * x[:, 1]).round(3),
                          "smoothness_mean": (0.096 + 0.014 * x[:, 2]).round(5)})
    return frame, label


KINDS: dict[str, Kind] = {
    "sensor-fault": Kind(400, "fault", _sensor_fault, "4 sensor readings, linear signal, fault ~40%"),
    "wine-grade": Kind(550, "premium", _wine_grade, "7 lab measurements, interaction signal, extra column, target first"),
    "two-blobs": Kind(320, "malignant", _two_blobs, "3 features, two separated clusters (easy: AUC ~1)"),
}


def schema_dict(kind: str, frame: pd.DataFrame) -> dict:
    """The schema a user writes from docs/contracts.md section 1: name, target with integer labels, numeric
    features by name. No id, no quality, no split: the documented defaults apply."""
    spec = KINDS[kind]
    features = [c for c in frame.columns if c not in (spec.target, "sample_no")]
    return {
        "name": kind,
        "description": spec.description,
        "target": {"column": spec.target, "positive": 1, "negative": 0},
        "numeric": [{"name": c, "required": True} for c in features],
    }


def generate(kind: str, seed: int, rows: int | None = None) -> tuple[pd.DataFrame, dict]:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    spec = KINDS[kind]
    n = rows or spec.rows
    frame, label = spec.make(np.random.default_rng(seed), n)
    if spec.target not in frame.columns:
        frame[spec.target] = label
    return frame, schema_dict(kind, frame)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", required=True, choices=sorted(KINDS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rows", type=int, help="rows to generate (default: the kind's own, 300-600)")
    parser.add_argument("--out", required=True, help="folder for <kind>.csv and <kind>.schema.json")
    args = parser.parse_args(argv)
    frame, schema = generate(args.kind, args.seed, args.rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / f"{args.kind}.csv"
    frame.to_csv(csv, index=False)
    (out / f"{args.kind}.schema.json").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    target = KINDS[args.kind].target
    print(f"byod_examples: {args.kind} rows={len(frame)} positives={int(frame[target].sum())} -> {csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
