"""Many processes at once on one database: no lost write, no cap exceeded, an intact ledger.

Eight worker processes (spawned, so nothing is inherited but the arguments) share twelve
numbers and, all released at the same instant, mix ``can_call``, ``reserve`` (a cap of 3
attempts per 24 hours), ``record_outcome`` on their reservations (``dnc_request`` adds a
suppression), and suppression adds and removals. Every acknowledged write is then looked
up in the database. Set ``OPTOUT_PRINT_THROUGHPUT=1`` (and pass ``-s``) to see the rate;
``OPTOUT_RACE_WORKERS`` and ``OPTOUT_RACE_OPERATIONS`` (per worker) make the run larger for a
measurement (``docs/benchmarks.md``).
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import queue
import time

import sqlalchemy as sa

import optout
from _workers import RACE_CAP, RACE_NUMBERS, RaceResult, race_worker
from optout._schema import attempts, suppressions

WORKERS = int(os.environ.get("OPTOUT_RACE_WORKERS", "8"))
OPERATIONS = int(os.environ.get("OPTOUT_RACE_OPERATIONS", "40"))  # per worker
#: A bound against hangs; an idle 2-core machine needs under 15 s for the default run.
DEADLINE_S = max(90.0, 0.3 * WORKERS * OPERATIONS)


def _run_workers(url: str) -> tuple[list[RaceResult], float]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=race_worker, args=(i, url, OPERATIONS, barrier, results), daemon=True)
        for i in range(WORKERS)
    ]
    out: list[RaceResult] = []
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + DEADLINE_S
        while len(out) < WORKERS:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                out.append(results.get(timeout=left))
            except queue.Empty:
                break
        for p in procs:
            p.join(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        results.close()
        results.join_thread()
    assert len(out) == WORKERS, f"only {len(out)} of {WORKERS} workers reported in time"
    started = min(r.started for r in out)
    finished = max(r.finished for r in out)
    return out, finished - started


def test_many_processes_lose_nothing_and_never_exceed_a_cap(backend_url: str) -> None:
    results, elapsed = _run_workers(backend_url)

    errors = [e for r in results for e in r.errors]
    assert not errors, "a worker saw an exception:\n" + "\n".join(errors)
    operations = sum(r.operations for r in results)
    assert operations == WORKERS * OPERATIONS

    if os.environ.get("OPTOUT_PRINT_THROUGHPUT") == "1":
        backend = backend_url.split(":", 1)[0]
        mix = {
            "can_call": sum(r.can_calls for r in results),
            "reserve": sum(r.reserves for r in results),
            "allowed": sum(len(r.allowed_reservations) for r in results),
            "record_outcome": sum(len(r.outcomes) for r in results),
            "suppressions_added": sum(len(r.suppressions) for r in results),
            "entries_lifted": sum(r.removed for r in results),
        }
        print(
            f"\n[throughput] {backend}: {WORKERS} processes, {operations} operations "
            f"in {elapsed:.2f} s = {operations / elapsed:.0f} operations/s; {mix}"
        )

    with optout.Compliance(backend_url, rules=None, registries=()) as client:
        with client.engine.connect() as conn:
            attempt_rows = {int(r.id): r for r in conn.execute(sa.select(attempts)).all()}
            suppression_rows = {int(r.id): r for r in conn.execute(sa.select(suppressions)).all()}

        # Every reservation and every outcome acknowledged to a worker is stored.
        reserved = [a for r in results for a in r.allowed_reservations]
        assert {a for a, _ in reserved} == set(attempt_rows), "attempts lost or unexplained"
        for attempt_id, number in reserved:
            assert attempt_rows[attempt_id].number == number
        for attempt_id, number, outcome in (o for r in results for o in r.outcomes):
            assert attempt_rows[attempt_id].number == number
            assert attempt_rows[attempt_id].outcome == outcome

        # No number got more attempts than the cap (all of them are inside one 24 h window).
        per_number = collections.Counter(row.number for row in attempt_rows.values())
        assert per_number, "no reservation was ever allowed: the race did not happen"
        assert max(per_number.values()) <= RACE_CAP, per_number
        assert set(per_number) <= set(RACE_NUMBERS)

        # Every acknowledged suppression is stored; every stored one was acknowledged.
        acked = [s for r in results for s in r.suppressions]
        assert {s for s, _ in acked} == set(suppression_rows)
        for entry_id, number in acked:
            assert suppression_rows[entry_id].value == number
        removed = sum(1 for row in suppression_rows.values() if row.removed_at is not None)
        assert removed == sum(r.removed for r in results)

        # One ledger entry per decision the workers asked for, in one intact chain.
        decisions = sum(r.decisions for r in results)
        report = client.ledger.verify()
        assert report.ok, report
        assert report.checked == decisions
        assert report.head_id == decisions
