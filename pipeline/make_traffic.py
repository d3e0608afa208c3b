#!/usr/bin/env python3
"""Production traffic for the local prod endpoint: one request body (a CSV feature row) per line.

    make_traffic.py --manifest RUN/manifest.json --out traffic.csv --generate N --seed S [--shift FEATURE=K ...]
    make_traffic.py --manifest RUN/manifest.json --out traffic.csv --split-dir RUN/test [--limit N]

--generate draws fresh customers from the synthetic churn generator (optionally drifted) and encodes them with the
run's manifest exactly as the ETL did (encode_records); --split-dir replays an ETL split's rows without their
label (a user's own dataset, where no generator exists). Rows are formatted as the ETL writes its splits
(csv_rows), the format the drift baseline expects.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from drift_checker import csv_rows
from mlops_etl.encode_records import encode_records
from synthetic_churn import Drift, generate


def parse_shift(items: Sequence[str]) -> dict[str, float]:
    shifts: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"make_traffic: --shift expects FEATURE=K, got {item!r}")
        shifts[name] = float(value)
    return shifts


def split_rows(split_dir: Path, limit: int | None) -> list[str]:
    rows: list[str] = []
    for part in sorted(split_dir.glob("*.csv")):
        for line in part.read_text(encoding="utf-8").splitlines():
            if line:
                rows.append(line.split(",", 1)[1])  # drop the label (first column)
    return rows[:limit] if limit else rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--out", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--generate", type=int, metavar="N", help="draw N synthetic customers")
    source.add_argument("--split-dir", help="replay an ETL split folder (label dropped)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shift", action="append", default=[], metavar="FEATURE=K")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)

    manifest = json.loads(Path(args.manifest).read_text(encoding="utf-8"))
    if args.generate is not None:
        drift = Drift(shift=parse_shift(args.shift)) if args.shift else None
        raw = generate(args.generate, args.seed, drift=drift)
        lines = csv_rows(encode_records(raw, manifest), manifest)
    else:
        if args.shift:
            raise SystemExit("make_traffic: --shift needs --generate (a replayed split cannot be drifted)")
        lines = split_rows(Path(args.split_dir), args.limit)
    Path(args.out).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    print(f"make_traffic: {len(lines)} requests -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
