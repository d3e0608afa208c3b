#!/usr/bin/env python3
"""Early stopping on validation AUC (the old rule) vs on validation log loss after a minimum of rounds (now),
on the small datasets of data/byod_examples.py, side by side in one run.

    .venv/bin/python benchmarks/early_stopping_benchmark.py [--seeds 10]

For every dataset kind and seed: generate, split 70/15/15 at random (seeded), train the container's booster
(mlcontainer.train.train_booster, the dev stack's hyperparameters) once per rule, score the test split, and
compare log loss and Brier score (scikit-learn) with a logistic regression on standardised features as a
calibrated reference. Prints one table of means over seeds; ratios are old / new.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "model-container"), str(REPO / "data")]

from byod_examples import KINDS, generate  # noqa: E402
from mlcontainer.dataset import Split  # noqa: E402
from mlcontainer.hyperparameters import parse_hyperparameters  # noqa: E402
from mlcontainer.train import StopRequest, train_booster  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

# Pulumi.dev.yaml mlops:training.hyperparameters
DEV_HP = {"max_depth": "5", "eta": "0.1", "num_round": "400", "early_stopping_rounds": "20"}
RULES = {
    "old: AUC, no minimum": {**DEV_HP, "early_stopping_metric": "auc", "min_rounds": "1"},
    "new: log loss, min 20": DEV_HP,
}


def _split(x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    order = np.random.default_rng(seed + 10_000).permutation(len(y))
    a, b = int(0.7 * len(y)), int(0.85 * len(y))
    parts = {"train": order[:a], "validation": order[a:b], "test": order[b:]}
    return {k: (x[i].astype(np.float32), y[i].astype(np.float32)) for k, i in parts.items()}


def run(kinds: list[str], seeds: int) -> list[dict]:
    rows = []
    for kind in kinds:
        target = KINDS[kind].target
        acc: dict[str, list[tuple[float, float, float, int]]] = {r: [] for r in [*RULES, "logistic regression"]}
        for seed in range(1, seeds + 1):
            frame, schema = generate(kind, seed)
            names = [f["name"] for f in schema["numeric"]]
            parts = _split(frame[names].to_numpy(float), frame[target].to_numpy(float), seed)
            splits = {k: Split(k, yy, xx, ()) for k, (xx, yy) in parts.items()}
            x_test, y_test = parts["test"]
            if len(set(y_test)) < 2:
                continue
            for rule, hp in RULES.items():
                result = train_booster(splits["train"], splits["validation"], parse_hyperparameters(hp), 1,
                                       StopRequest())
                p = np.clip(result.booster.inplace_predict(x_test), 0, 1)
                acc[rule].append((log_loss(y_test, p, labels=[0, 1]), brier_score_loss(y_test, p),
                                  roc_auc_score(y_test, p), int(result.metrics["best_iteration"]) + 1))
            lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(*parts["train"])
            p = lr.predict_proba(x_test)[:, 1]
            acc["logistic regression"].append((log_loss(y_test, p), brier_score_loss(y_test, p),
                                               roc_auc_score(y_test, p), 0))
        for rule, values in acc.items():
            v = np.array(values, dtype=float)
            rows.append({"kind": kind, "rule": rule, "n": len(v), "logloss": v[:, 0].mean(), "brier": v[:, 1].mean(),
                         "auc": v[:, 2].mean(), "rounds": v[:, 3].mean()})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args(argv)
    rows = run(args.kinds.split(","), args.seeds)
    print(f"test-split means over {args.seeds} seeds (dev hyperparameters: {DEV_HP})\n")
    print("| dataset | rule | seeds | rounds kept | test log loss | test Brier | test ROC AUC |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        rounds = "—" if r["rule"] == "logistic regression" else f"{r['rounds']:.1f}"
        print(f"| {r['kind']} | {r['rule']} | {r['n']} | {rounds} | {r['logloss']:.4f} | {r['brier']:.4f} | "
              f"{r['auc']:.4f} |")
    print("\nratios old / new:")
    for kind in dict.fromkeys(r["kind"] for r in rows):
        old, new = (next(r for r in rows if r["kind"] == kind and r["rule"] == rule) for rule in RULES)
        print(f"  {kind}: log loss {old['logloss'] / new['logloss']:.2f}x, Brier {old['brier'] / new['brier']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
