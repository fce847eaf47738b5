"""What the law of December 2026 costs a ``can_call()``: declared blackouts and new packs.

Times ``Compliance.can_call()`` for an autodialed marketing call to a New York City number
(the ``US``, ``US-NY`` and ``US-NYC`` packs bind it: hours, the declared-emergency ban,
federal written consent, which each number has, and the DNC registry, answered "clear" by a
static backend), with a table of declared blackouts for other areas, in three settings run in the
same process on the same inputs, round by round in alternating order:

``cached``
    the default: declared blackouts read through the one-second cache.
``uncached``
    ``blackouts.ttl = 0``: the table is read on every decision.
``baseline``
    the same calls with the blackout read replaced by "none declared" (what a decision
    cost before blackouts existed, less nothing else).

Each round times ``--calls`` decisions on distinct numbers; the summary is the median per
call across ``--rounds`` rounds, and the ratios to ``baseline``.

Usage::

    python benchmarks/bench_law.py                  # SQLite, 5 rounds of 1,000 calls
    python benchmarks/bench_law.py --json law.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pathlib
import statistics
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import optout  # noqa: E402
from _fakes import all_clear  # noqa: E402
from optout._blackouts import BlackoutList  # noqa: E402

NY = zoneinfo.ZoneInfo("America/New_York")
AT = dt.datetime(2026, 12, 9, 15, 0, tzinfo=NY)
AREAS = ("US-FL", "US-LA", "US-TX", "IT", "FR", "GB", "US-CA", "US-OR", "BR-MG", "AU")


def _time(client: optout.Compliance, numbers: list[str]) -> float:
    start = time.perf_counter()
    for number in numbers:
        decision = client.can_call(number, at=AT, purpose="marketing", technology="autodialed")
        if not decision.allowed:  # every registry is clear and no declared area matches
            raise SystemExit(f"unexpected denial: {decision.codes}")
    return (time.perf_counter() - start) / len(numbers) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--blackouts", type=int, default=50, help="declared for other areas")
    parser.add_argument("--json", type=pathlib.Path, default=None)
    args = parser.parse_args()

    folder = pathlib.Path(tempfile.mkdtemp(prefix="bench-law-"))
    client = optout.Compliance(f"sqlite:///{folder / 'law.sqlite3'}", registries=all_clear())
    for i in range(args.blackouts):
        first = dt.date(2026, 12, 1) + dt.timedelta(days=i % 20)
        client.blackouts.add(AREAS[i % len(AREAS)], first, first, source=f"bench {i}")
    original = BlackoutList.for_call

    def none_declared(self: BlackoutList, conn: object, at: dt.datetime) -> tuple[()]:
        return ()

    def cached() -> None:
        BlackoutList.for_call = original  # type: ignore[method-assign]
        client.blackouts.ttl = 1.0

    def uncached() -> None:
        BlackoutList.for_call = original  # type: ignore[method-assign]
        client.blackouts.ttl = 0

    def baseline() -> None:
        BlackoutList.for_call = none_declared  # type: ignore[method-assign]

    settings: dict[str, Callable[[], None]] = {
        "cached": cached,
        "uncached": uncached,
        "baseline": baseline,
    }
    results: dict[str, list[float]] = {name: [] for name in settings}
    total = args.calls * args.rounds * len(settings) + 200
    every = [
        f"+1{(646, 917, 718)[k % 3]}{200 + k // 10000 % 700}{k % 10000:04d}" for k in range(total)
    ]
    given = AT - dt.timedelta(days=30)
    for number in every:  # autodialed marketing to a mobile needs written consent
        client.consents.add(number, "express_written", given_at=given, proof="bench")
    _time(client, every[:200])  # warm-up
    serial = 200
    for r in range(args.rounds):
        order = list(settings) if r % 2 == 0 else list(reversed(settings))
        for name in order:
            settings[name]()
            numbers = every[serial : serial + args.calls]
            serial += args.calls
            results[name].append(_time(client, numbers))
    BlackoutList.for_call = original  # type: ignore[method-assign]
    client.close()

    medians = {name: statistics.median(v) for name, v in results.items()}
    base = medians["baseline"]
    print(f"can_call(), autodialed marketing to New York City, {args.blackouts} blackouts")
    print(f"{'setting':<10} {'median us':>10} {'ratio':>7}  rounds")
    for name, value in medians.items():
        rounds = ", ".join(f"{v:.0f}" for v in results[name])
        print(f"{name:<10} {value:>10.0f} {value / base:>7.3f}  {rounds}")
    if args.json:
        args.json.write_text(json.dumps({"medians_us": medians, "rounds_us": results}, indent=2))


if __name__ == "__main__":
    main()
