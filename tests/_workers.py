"""Top-level functions for the robustness tests' worker processes.

``race_worker`` runs in ``multiprocessing`` (spawn) children of ``test_concurrency.py``.
Run as a script, this module is the child of ``test_crash.py``: it loops over a write and
prints one acknowledgement line (flushed) after each write returns, until it is killed::

    python tests/_workers.py suppress URL      # ack <suppression id> <e164>
    python tests/_workers.py outcome URL       # ack <attempt id> <e164> <suppression id|->
"""

from __future__ import annotations

import dataclasses
import random
import sys
import time
import traceback
from typing import Any

import optout

#: The numbers the concurrency workers fight over (Rome landlines).
RACE_NUMBERS = tuple(f"+390612345{i:03d}" for i in range(12))

#: The cap the race policy enforces: 3 attempts per number in 24 hours.
RACE_CAP = 3

#: Outcomes reported for reserved attempts (``dnc_request`` also adds a suppression).
_OUTCOMES = ("no_answer", "busy", "answering_machine", "conversation", "dnc_request")


def race_rules() -> optout.RuleBook:
    """No jurisdiction pack, one policy: at most :data:`RACE_CAP` attempts per 24 hours."""
    policy = optout.Policy.from_dict(
        {
            "policy": {"name": "race"},
            "retry": {"max_attempts": {"count": RACE_CAP, "period": "24h"}},
        }
    )
    return optout.RuleBook(packs={}, policies=(policy,), unsupported="allow")


@dataclasses.dataclass
class RaceResult:
    """What one concurrency worker did and was told (acknowledged writes)."""

    worker: int
    decisions: int = 0  # can_call + reserve calls: each one is a ledger entry
    can_calls: int = 0
    reserves: int = 0
    allowed_reservations: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    outcomes: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)
    suppressions: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    removed: int = 0
    operations: int = 0
    started: float = 0.0
    finished: float = 0.0
    errors: list[str] = dataclasses.field(default_factory=list)


def race_worker(worker: int, url: str, operations: int, barrier: Any, results: Any) -> None:
    """Mixed reads and writes on :data:`RACE_NUMBERS`; puts a :class:`RaceResult` on
    ``results``. Every exception is caught and reported in ``errors``."""
    result = RaceResult(worker=worker)
    rng = random.Random(1000 + worker)
    try:
        with optout.Compliance(
            url, migrate=True, rules=race_rules(), registries=(), ledger="all"
        ) as client:
            barrier.wait(120)
            result.started = time.monotonic()
            for _ in range(operations):
                number = rng.choice(RACE_NUMBERS)
                pick = rng.random()
                try:
                    _race_step(client, number, pick, rng, result)
                except Exception:
                    result.errors.append(traceback.format_exc())
                result.operations += 1
            result.finished = time.monotonic()
    except Exception:
        result.errors.append(traceback.format_exc())
    results.put(result)


def _race_step(
    client: optout.Compliance,
    number: str,
    pick: float,
    rng: random.Random,
    result: RaceResult,
) -> None:
    if pick < 0.3:
        result.decisions += 1  # counted before the call: the ledger write may be what fails
        result.can_calls += 1
        client.can_call(number)
    elif pick < 0.65:
        result.decisions += 1
        result.reserves += 1
        reservation = client.reserve(number)
        if reservation.attempt_id is None:
            return
        result.allowed_reservations.append((reservation.attempt_id, number))
        outcome = rng.choice(_OUTCOMES)
        attempt = client.record_outcome(number, outcome, attempt_id=reservation.attempt_id)
        result.outcomes.append((attempt.id, number, outcome))
        if attempt.suppression_id is not None:
            result.suppressions.append((attempt.suppression_id, number))
    elif pick < 0.85:
        entry = client.suppressions.add(number, reason="race", source="api", actor="race")
        result.suppressions.append((entry.id, number))
    else:
        result.removed += client.suppressions.remove(number, actor="race", reason="race")


# -- crash children ---------------------------------------------------------------------------


def _ack(*fields: object) -> None:
    sys.stdout.write(" ".join(str(f) for f in fields) + "\n")
    sys.stdout.flush()


def crash_suppress(url: str) -> None:
    """Add suppressions forever; ack each one after ``add`` returns."""
    with optout.Compliance(url, migrate=True, rules=race_rules(), registries=()) as client:
        _ack("ready")
        for i in range(1_000_000):
            number = f"+3906{20_000_000 + i}"
            entry = client.suppressions.add(number, reason="crash", source="api")
            _ack("ack", entry.id, number)


def crash_outcome(url: str) -> None:
    """Decide (ledger on) and record outcomes forever; ack each outcome after it returns."""
    with optout.Compliance(
        url, migrate=True, rules=race_rules(), registries=(), ledger="all"
    ) as client:
        _ack("ready")
        for i in range(1_000_000):
            number = f"+3906{30_000_000 + i}"
            client.can_call(number)
            outcome = "dnc_request" if i % 3 == 0 else "no_answer"
            attempt = client.record_outcome(number, outcome)
            suppression = "-" if attempt.suppression_id is None else attempt.suppression_id
            _ack("ack", attempt.id, number, suppression)


if __name__ == "__main__":
    mode, database = sys.argv[1], sys.argv[2]
    {"suppress": crash_suppress, "outcome": crash_outcome}[mode](database)
