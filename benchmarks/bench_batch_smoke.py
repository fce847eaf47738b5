"""Rows per second of ``decide_many`` on generated lists (SQLite, no registry data).

python benchmarks/bench_batch_smoke.py                 # 1M rows, clean and 20 % messy
python benchmarks/bench_batch_smoke.py --rows 200000 --workers 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time

import optout
from optout._batch import decide_many

AREAS = ["202", "212", "305", "312", "415", "512", "617", "713", "206", "404"]


def generate(rows: int, messy: float, rng: random.Random) -> list[str]:
    out = []
    for _ in range(rows):
        area, line = rng.choice(AREAS), rng.randint(2_000_000, 9_999_999)
        if rng.random() < messy:
            text = f"{line:07d}"
            out.append(f"({area}) {text[:3]}-{text[3:]}")
        else:
            out.append(f"+1{area}{line}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(7)
    at = dt.datetime(2026, 3, 4, 15, tzinfo=dt.UTC)
    with tempfile.TemporaryDirectory() as folder:
        client = optout.Compliance(f"sqlite:///{folder}/bench.sqlite3", default_region="US")
        for i in range(1000):
            client.suppressions.add(f"+1202555{i:04d}", reason="bench", at=at)
        for label, messy in (("clean", 0.0), ("20% messy", 0.2)):
            numbers = generate(args.rows, messy, rng)
            start = time.perf_counter()
            batch = decide_many(client, numbers, at=at, workers=args.workers)
            took = time.perf_counter() - start
            allowed = sum(batch.allowed.to_pylist())
            print(
                f"{label:>10}: {args.rows} rows in {took:.1f} s = {args.rows / took:,.0f} rows/s "
                f"({allowed} allowed)"
            )
        client.close()


if __name__ == "__main__":
    main()
