#!/usr/bin/env python3
"""Benchmark: the model container's `train` on one host against two hosts, same data, side by side.

Synthetic label-first CSV (the ETL's format) is generated once into --data-dir (not timed): the train split
as 4 part files, a validation and a test split. Then, in one run:

  1 host   one `bin/train` process over every train file
  2 hosts  two `bin/train` processes on loopback (MLCONTAINER_HOST_ADDRESSES), each with its half of the train
           files (what ShardedByS3Key gives each instance) and the whole validation split

Each process's peak resident memory comes from the kernel (wait4's ru_maxrss); wall time spans start to the
last host's exit (Python, NumPy and XGBoost start-up included); test AUC is the saved model's on the test split.

    .venv/bin/python benchmarks/distributed_training_benchmark.py --rows 2m

Caveat printed with the table: both hosts share this machine's cores, so the 2-host wall time measures the
protocol's overhead, not the speed-up of two real instances. What distribution buys on SageMaker is memory:
each host holds only its shard of the training data.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "model-container"))
from mlcontainer.distributed import HOST_ADDRESSES_ENV, TRACKER_PORT_ENV, free_port_pair  # noqa: E402

TRAIN = REPO / "model-container" / "bin" / "train"
FEATURES = 10
PARTS = 4
HP = {"num_round": "200", "early_stopping_rounds": "10", "eta": "0.3", "max_depth": "6"}


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"size must look like 200000, 500k or 2m, got {text!r}")
    return int(float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()])


def make_rows(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Label-first rows: a logistic signal over a few features with interactions, the rest noise."""
    x = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    logit = 1.1 * x[:, 0] - 0.9 * x[:, 1] + 0.7 * x[:, 1] * x[:, 2] + 0.5 * np.sin(2 * x[:, 3]) + 0.3 * x[:, 4] ** 2 - 0.3
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    return np.column_stack([y, x])


def write_csv(path: Path, rows: np.ndarray) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    frame[0] = frame[0].astype(np.int8)
    frame.to_csv(path, header=False, index=False, float_format="%.6g")


def prepare(data_dir: Path, rows: int, seed: int) -> Path:
    root = data_dir / f"rows-{rows}-seed-{seed}"
    done = root / ".complete"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(seed)
    print(f"generating {rows:,} train rows in {PARTS} files, {rows // 10:,} validation and test rows …", flush=True)
    for k in range(PARTS):
        write_csv(root / "train" / f"part-{k:05d}.csv", make_rows(rng, rows // PARTS))
    write_csv(root / "validation" / "part-00000.csv", make_rows(rng, rows // 10))
    write_csv(root / "test" / "part-00000.csv", make_rows(rng, rows // 10))
    done.write_text("")
    return root


def link_tree(src: Path, dst: Path) -> None:
    """Hard links (or copies across devices): the hosts' channels without duplicating gigabytes."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def layout(work: Path, data: Path, host: str, hosts: list[str], rank: int) -> Path:
    opt_ml = work / host
    config = opt_ml / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(HP))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {c: {"ContentType": "text/csv", "TrainingInputMode": "File"} for c in ("train", "validation")}))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": hosts}))
    for k, part in enumerate(sorted((data / "train").glob("part-*.csv"))):
        if k % len(hosts) == rank:  # ShardedByS3Key: every n-th object
            link_tree(part, opt_ml / "input" / "data" / "train" / part.name)
    link_tree(data / "validation" / "part-00000.csv", opt_ml / "input" / "data" / "validation" / "part-00000.csv")
    return opt_ml


def run_hosts(work: Path, data: Path, count: int) -> dict:
    hosts = [f"algo-{i + 1}" for i in range(count)]
    env = {k: v for k, v in os.environ.items() if k not in ("OPT_ML_DIR", "PYTHONDONTWRITEBYTECODE")}
    env[HOST_ADDRESSES_ENV] = ",".join(f"{h}=127.0.0.1" for h in hosts)
    env[TRACKER_PORT_ENV] = str(free_port_pair())
    started = time.monotonic()
    procs = {}
    for rank, host in enumerate(hosts):
        opt_ml = layout(work, data, host, hosts, rank)
        log = (opt_ml / "train.log").open("w")
        procs[host] = (subprocess.Popen([sys.executable, str(TRAIN)], env={**env, "OPT_ML_DIR": str(opt_ml)},
                                        stdout=log, stderr=subprocess.STDOUT), opt_ml)
    peaks, codes = {}, {}
    for host, (proc, _) in procs.items():
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        codes[host] = proc.returncode
        peaks[host] = usage.ru_maxrss * 1024  # Linux reports KiB
    wall = time.monotonic() - started
    leader = procs[hosts[0]][1]
    if any(codes.values()):
        raise SystemExit(f"{count} host(s) failed {codes}: see {work}/*/train.log")
    log = (leader / "train.log").read_text()
    metric = lambda name: float(re.findall(rf"METRIC {name}=([-+0-9.eE]+)", log)[-1])  # noqa: E731
    return {"hosts": count, "wall_s": wall, "training_s": metric("training_seconds"),
            "rounds": int(metric("best_iteration")) + 1, "validation_auc": metric("validation_auc"),
            "peak_rss_mb": [peaks[h] / 2**20 for h in hosts], "model": leader / "model" / "model.ubj"}


def test_auc(model: Path, data: Path) -> float:
    import pandas as pd
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    test = pd.read_csv(data / "test" / "part-00000.csv", header=None, dtype=np.float32).to_numpy()
    booster = xgb.Booster(model_file=str(model))
    return float(roc_auc_score(test[:, 0], booster.inplace_predict(test[:, 1:])))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=parse_size, default=parse_size("2m"), help="train rows (default 2m)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/mlops-distributed-benchmark"))
    args = parser.parse_args()

    data = prepare(args.data_dir, args.rows, args.seed)
    results = []
    for count in (1, 2):
        work = args.data_dir / f"run-{count}-hosts"
        shutil.rmtree(work, ignore_errors=True)
        print(f"training on {count} host(s) …", flush=True)
        result = run_hosts(work, data, count)
        result["test_auc"] = test_auc(result["model"], data)
        results.append(result)

    cores = len(os.sched_getaffinity(0))
    print(f"\n{args.rows:,} train rows × {FEATURES} features ({PARTS} files), {args.rows // 10:,} validation, "
          f"{args.rows // 10:,} test; hyperparameters {json.dumps(HP)}")
    print(f"| hosts | wall s | training s | rounds | peak RSS per host (MiB) | validation AUC | test AUC |")
    print(f"|---|---|---|---|---|---|---|")
    for r in results:
        rss = " / ".join(f"{m:,.0f}" for m in r["peak_rss_mb"])
        print(f"| {r['hosts']} | {r['wall_s']:.1f} | {r['training_s']:.1f} | {r['rounds']} | {rss} | "
              f"{r['validation_auc']:.4f} | {r['test_auc']:.4f} |")
    one, two = results
    print(f"\n2 hosts / 1 host: wall ×{two['wall_s'] / one['wall_s']:.2f}, training ×{two['training_s'] / one['training_s']:.2f}, "
          f"peak RSS per host ×{max(two['peak_rss_mb']) / one['peak_rss_mb'][0]:.2f}, "
          f"test AUC {two['test_auc'] - one['test_auc']:+.4f}")
    print(f"Caveat: both hosts ran on this machine's {cores} cores (shared with other work), so the 2-host times "
          "include the same CPUs twice over plus loopback collectives; on SageMaker each host has its own instance. "
          "The per-host memory is the figure that carries over.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
