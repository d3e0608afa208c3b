#!/usr/bin/env python3
"""Benchmark of the local ETL job (etl/glue_job.py) at several input sizes.

For each size the synthetic data is generated first (not timed; kept in --data-dir for reruns), then the job
runs as a separate process exactly as the local pipeline runs it. Its process tree (Python + the Spark JVM) is
sampled from /proc every 0.1 s for resident memory and CPU time.

    .venv/bin/python benchmarks/etl_benchmark.py --sizes 100k,1m,5m

Prints a table: rows, wall seconds (JVM start included), rows/s, peak RSS of the tree, CPU seconds, and the
job's own phase times. Results are also written as JSON to benchmarks/results/etl-benchmark.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "data"))

import synthetic_churn as sc  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"size must look like 20000, 100k or 1m, got {text!r}")
    return int(float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_usage(root: int) -> tuple[int, float]:
    """(resident bytes, CPU seconds) summed over a process and all its descendants."""
    tree = _children()
    rss, cpu, todo = 0, 0.0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            rss += int(fields[21]) * _PAGE
            cpu += (int(fields[11]) + int(fields[12])) / _TICK
        except (OSError, IndexError, ValueError):
            continue
    return rss, cpu


def ensure_data(rows: int, folder: Path) -> Path:
    path = folder / f"churn-{rows}.csv"
    if not path.exists():
        started = time.monotonic()
        df = sc.generate(rows, seed=1234, dirty_fraction=0.01)
        sc.write_csv(df, path)
        print(f"generated {rows:,} rows in {time.monotonic() - started:.1f}s -> {path} "
              f"({path.stat().st_size / 1e6:.0f} MB)", flush=True)
    return path


def run_once(path: Path, out: Path, run_id: str, driver_memory: str) -> dict:
    cmd = [sys.executable, str(REPO / "etl" / "glue_job.py"), "--input", str(path),
           "--schema", str(REPO / "data" / "churn.schema.json"), "--output", str(out), "--run-id", run_id]
    env = {**os.environ, "ETL_SPARK_DRIVER_MEMORY": driver_memory, "ETL_PRINT_PHASES": "1"}
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak_rss, cpu = 0, 0.0
    while proc.poll() is None:
        rss, used = tree_usage(proc.pid)
        peak_rss, cpu = max(peak_rss, rss), max(cpu, used)
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"ETL failed ({proc.returncode}): {stderr[-2000:]}")
    manifest = json.loads((out / run_id / "manifest.json").read_text())
    phases = next((line.split("etl: phases ", 1)[1] for line in stderr.splitlines() if "etl: phases " in line), "")
    return {"rows": manifest["rowsIn"], "phases": phases, "seconds": round(wall, 2), "rowsPerSecond": round(manifest["rowsIn"] / wall),
            "peakRssMB": round(peak_rss / 2 ** 20), "cpuSeconds": round(cpu, 1), "summary": stdout.strip(),
            "inputMB": round(path.stat().st_size / 1e6, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100k,1m,5m", help="comma-separated row counts (e.g. 20k,100k,1m,5m)")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/etl-benchmark"),
                        help="where generated inputs and outputs go (inputs are reused)")
    parser.add_argument("--driver-memory", default="4g", help="Spark driver heap (local mode: the only JVM)")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "etl-benchmark.json")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    args.data_dir.mkdir(parents=True, exist_ok=True)

    load = os.getloadavg()[0]
    results = []
    for rows in sizes:
        path = ensure_data(rows, args.data_dir)
        out = args.data_dir / f"out-{rows}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        result = run_once(path, out, "bench", args.driver_memory)
        results.append(result)
        print(f"  {result['summary']}\n  phases: {result['phases']}", flush=True)

    header = f"{'rows':>10} {'input MB':>9} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>12} {'CPU s':>7}"
    print(f"\nETL benchmark ({os.cpu_count()} cores, load average at start {load:.1f}, driver {args.driver_memory})")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['rows']:>10,} {r['inputMB']:>9.1f} {r['seconds']:>8.1f} {r['rowsPerSecond']:>9,} "
              f"{r['peakRssMB']:>12,} {r['cpuSeconds']:>7.1f}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"cores": os.cpu_count(), "loadAverageAtStart": load,
                                        "driverMemory": args.driver_memory, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
