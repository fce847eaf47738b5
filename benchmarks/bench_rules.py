"""Benchmark ``can_call()`` with every rule pack loaded over a large attempt history.

The script stores a synthetic history of call attempts (10,000,000 rows over about
1,000,000 numbers by default, spread over the 60 days before the query day), then:

1. times ``Compliance.can_call()`` with the default ``RuleBook()`` (every built-in pack) on
   numbers that have history, for marketing and for debt collection (with person and debt ids,
   so the Regulation F caps run), at instants inside the callee's calling hours for most
   calls; and, on the same inputs, the parts of a decision on their own (see ``STAGES``);
2. runs ``Compliance.reserve()`` from several worker processes at once over a shared pool of
   numbers under a company policy of at most 3 attempts per 24 hours, and checks afterwards
   that no number got more than 3.

Both run on SQLite (WAL) and on PostgreSQL (a throwaway cluster from ``tests/_postgres.py``
unless ``--postgres-url`` is given).

The numbers are random digits on libphonenumber's example patterns (and on a few area codes
per country to reach several US states, Canadian provinces and Brazilian states), kept only
when ``phonenumbers.is_valid_number`` accepts them: they are fictional and belong to no one in
the data set.

Usage::

    python benchmarks/bench_rules.py --json rules.json             # full size, both backends
    python benchmarks/bench_rules.py --attempts 200000 --numbers 20000 --calls 2000 --rounds 2
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import gc
import itertools
import json
import math
import multiprocessing
import multiprocessing.synchronize
import pathlib
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import phonenumbers
import psycopg
import sqlalchemy as sa
from bench_can_call import Stats, forget_normalized_numbers, machine_details, postgres_url
from phonenumbers import timezone as pn_timezone

import optout
from optout._facts import AbandonmentCache, call_needs, load_attempts
from optout._rules._decide import RuleCall, check_rules
from optout._rules._engine import AttemptFact
from optout._schema import attempts as attempts_table

#: The day every ``can_call()`` is asked about (a Tuesday, a working day in every country).
QUERY_DAY = dt.date(2026, 11, 17)
#: History ends at the start of the query day (UTC) and goes back this many days.
HISTORY_DAYS = 60
HISTORY_END = dt.datetime.combine(QUERY_DAY, dt.time(0, 0), tzinfo=dt.UTC)
#: The day the reservation workers reserve calls for (no history falls within 24 h of it).
RESERVE_DAY = dt.date(2026, 11, 19)
#: Rows per transaction (SQLite executemany) or per COPY batch (PostgreSQL).
LOAD_CHUNK = 50_000
#: Local calling hours most query instants fall in; the rest are at any hour.
CALL_HOURS = (10, 17)
IN_HOURS_SHARE = 0.9
#: Every fourth number belongs to a debtor: its calls are mostly debt collection.
DEBTOR_EVERY = 4
CAMPAIGNS = tuple(f"campaign-{i:02d}" for i in range(24))
BRANDS = ("acme", "globex", "initech", "umbrella")
OUTCOMES: tuple[tuple[optout.Outcome, int], ...] = (
    (optout.Outcome.NO_ANSWER, 80),
    (optout.Outcome.BUSY, 12),
    (optout.Outcome.ANSWERING_MACHINE, 40),
    (optout.Outcome.ABANDONED, 1),  # about 1.5% of live answers: under the 3% TCPA limit
    (optout.Outcome.CONVERSATION, 50),
    (optout.Outcome.REFUSED, 12),
    (optout.Outcome.DNC_REQUEST, 0),  # would need a suppression too: kept out of the history
    (optout.Outcome.WRONG_NUMBER, 4),
    (optout.Outcome.INVALID_NUMBER, 2),
    (optout.Outcome.CALLBACK_REQUESTED, 4),
    (optout.Outcome.FAILED, 4),
)
#: Campaigns whose uncached abandonment count is timed.
SCANNED_CAMPAIGNS = 6
#: Stage names, in the order they are timed within a round.
STAGES = ("can_call", "normalize", "facts", "rules")
#: Cap of the reservation benchmark's company policy.
RESERVE_CAP = 3
POLICY = {"policy": {"name": "bench"}, "retry": {"max_attempts": {"count": 3, "period": "24h"}}}
#: Reservations aim at a shared pool; half of them at its first ``HOT`` numbers, so that
#: workers often race for the same number.
RESERVE_POOL = 5_000
HOT = 50
#: The reservations' campaign. It has no history, so the abandonment counts that
#: ``reserve()`` reads (before it takes its locks) are cheap; see the docs. The calls are
#: ``technology="manual"``, which no abandonment rule binds, so they read none anyway.
RESERVE_CAMPAIGN = "reservations"

COLUMNS = (
    "number",
    "at",
    "outcome",
    "raw_code",
    "campaign",
    "brand",
    "purpose",
    "channel",
    "technology",
    "person",
    "actor",
    "recorded_at",
    "debt",
    "subject",
    "outcome_at",
)


# -- synthetic numbers ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Pattern:
    """``+<country_code><head>`` followed by ``random_digits`` random digits."""

    region: str
    prefix: str
    random_digits: int


#: Area codes to reach several subdivisions (and their packs) for NANP and Brazil.
US_AREAS = ("201", "212", "305", "312", "206", "512", "617", "405", "702", "215", "410", "207")
CA_AREAS = ("416", "604", "506", "514")
BR_DDDS = ("11", "21", "85", "27", "67", "82", "92")


def number_patterns() -> list[Pattern]:
    """Patterns for US (several states), IT, FR, GB, ES, DE, CA, AU and BR numbers."""
    patterns = [Pattern("US", f"+1{a}", 7) for a in US_AREAS]
    patterns += [Pattern("CA", f"+1{a}", 7) for a in CA_AREAS]
    patterns += [Pattern("BR", f"+55{d}9", 8) for d in BR_DDDS]
    patterns += [Pattern("BR", f"+55{d}3", 7) for d in BR_DDDS[:3]]
    for region in ("IT", "FR", "GB", "ES", "DE", "AU"):
        for line_type in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE,
        ):
            example = phonenumbers.example_number_for_type(region, line_type)
            if example is None:
                continue
            nsn: str = phonenumbers.national_significant_number(example)
            tail = min(6, len(nsn) - 2)
            code = phonenumbers.country_code_for_region(region)
            patterns.append(Pattern(region, f"+{code}{nsn[:-tail]}", tail))
    return patterns


def make_numbers(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct valid E.164 numbers."""
    patterns = number_patterns()
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        pattern = rng.choice(patterns)
        e164 = (
            f"{pattern.prefix}{rng.randrange(10**pattern.random_digits):0{pattern.random_digits}d}"
        )
        if e164 in seen:
            continue
        parsed = phonenumbers.parse(e164)
        if phonenumbers.is_valid_number(parsed) and (
            phonenumbers.region_code_for_number(parsed) == pattern.region
        ):
            seen.add(e164)
            out.append(e164)
    return out


def zone_of(e164: str) -> zoneinfo.ZoneInfo:
    """The first time zone libphonenumber gives for the number."""
    zones = pn_timezone.time_zones_for_number(phonenumbers.parse(e164))
    name = next((z for z in zones if z != "Etc/Unknown"), "UTC")
    return zoneinfo.ZoneInfo(name)


# -- synthetic history ----------------------------------------------------------------------


def is_debtor(index: int) -> bool:
    return index % DEBTOR_EVERY == 0


def person_of(index: int) -> str:
    return f"person-{index:07d}"


def debt_of(index: int, which: int) -> str:
    return f"debt-{index:07d}-{which}"


def campaign_of(index: int) -> str:
    return CAMPAIGNS[index % len(CAMPAIGNS)]


def attempt_rows(numbers: Sequence[str], count: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """``count`` attempts shaped as ``record_outcome()`` stores them, in ``COLUMNS`` order."""
    rng = random.Random(seed)
    outcomes = [o.value for o, _ in OUTCOMES]
    weights = list(itertools.accumulate(w for _, w in OUTCOMES))
    span = HISTORY_DAYS * 86_400
    n = len(numbers)
    for _ in range(count):
        index = rng.randrange(n)
        rand = rng.random()
        person: str | None
        debt: str | None
        at = HISTORY_END - dt.timedelta(seconds=rng.randrange(span))
        if is_debtor(index) and rand < 0.8:
            purpose, person, debt = "debt_collection", person_of(index), debt_of(index, index % 2)
        else:
            purpose = "marketing" if rand < 0.9 else ("survey", "sales", "informational")[index % 3]
            person = person_of(index) if rand < 0.4 else None
            debt = None
        duration = dt.timedelta(seconds=5 + int(rand * 300))
        campaign = campaign_of(index)
        outcome = rng.choices(outcomes, cum_weights=weights)[0]
        yield (
            numbers[index],
            at,
            outcome,
            None,  # raw_code
            campaign,
            BRANDS[CAMPAIGNS.index(campaign) % len(BRANDS)],
            purpose,
            "sms" if rand > 0.97 else "voice",
            "manual" if rand < 0.25 else "autodialed",
            person,
            None,  # actor
            at + duration,  # recorded_at
            debt,
            "renewal" if rand > 0.95 else None,  # subject
            at + duration,  # outcome_at
        )


def load_sqlite(_url: str, engine: sa.Engine, rows: Iterator[tuple[Any, ...]]) -> float:
    """executemany through SQLAlchemy Core, ``LOAD_CHUNK`` rows per transaction.

    The three secondary indexes are dropped first and built again at the end (a sort
    instead of 10 million random B-tree inserts); the definitions are the schema's own.
    """
    start = time.perf_counter()
    with engine.begin() as conn:
        for index in attempts_table.indexes:
            index.drop(conn)
    insert = attempts_table.insert()
    chunk: list[dict[str, Any]] = []
    done = 0
    for row in rows:
        chunk.append(dict(zip(COLUMNS, row, strict=True)))
        if len(chunk) == LOAD_CHUNK:
            with engine.begin() as conn:
                conn.execute(insert, chunk)
            done += len(chunk)
            chunk = []
            if done % 1_000_000 == 0:
                print(f"[sqlite] {done:,} rows, {time.perf_counter() - start:.0f} s", flush=True)
    if chunk:
        with engine.begin() as conn:
            conn.execute(insert, chunk)
    with engine.begin() as conn:
        for index in attempts_table.indexes:
            index.create(conn)
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - start


def load_postgres(url: str, engine: sa.Engine, rows: Iterator[tuple[Any, ...]]) -> float:
    """COPY through psycopg; indexes dropped during the load and rebuilt, then ANALYZE."""
    start = time.perf_counter()
    with engine.begin() as conn:
        for index in attempts_table.indexes:
            index.drop(conn)
    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    sql = f"COPY attempts ({', '.join(COLUMNS)}) FROM STDIN"
    with psycopg.connect(conninfo) as raw:
        done = 0
        more = True
        while more:
            batch = 0
            with raw.cursor() as cur, cur.copy(sql) as copy:
                for row in itertools.islice(rows, 1_000_000):
                    copy.write_row(row)
                    batch += 1
            raw.commit()
            done += batch
            more = batch == 1_000_000
            print(f"[postgresql] {done:,} rows, {time.perf_counter() - start:.0f} s", flush=True)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET maintenance_work_mem = '1GB'")
        for index in attempts_table.indexes:
            index.create(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE attempts")
    return time.perf_counter() - start


# -- the calls ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    """One ``can_call()``: number, instant and the call's identity."""

    number: str
    at: dt.datetime
    purpose: str
    person: str | None
    debt: str | None
    campaign: str

    def kwargs(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "purpose": self.purpose,
            "person": self.person,
            "debt": self.debt,
            "campaign": self.campaign,
        }


def local_instant(
    rng: random.Random, day: dt.date, zone: zoneinfo.ZoneInfo, in_hours: bool
) -> dt.datetime:
    if in_hours:
        minute = rng.randrange(CALL_HOURS[0] * 60, CALL_HOURS[1] * 60)
    else:
        minute = rng.randrange(24 * 60)
    local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=zone)
    return local.astimezone(dt.UTC)


def make_queries(
    rng: random.Random, numbers: Sequence[str], count: int, exclude: set[int]
) -> list[Query]:
    """``count`` calls to distinct numbers (every number has history at full size)."""
    if count > len(numbers) - len(exclude):
        raise SystemExit(f"--numbers {len(numbers)} is too small for {count} distinct queries")
    picked = rng.sample([i for i in range(len(numbers)) if i not in exclude], count)
    out: list[Query] = []
    for index in picked:
        e164 = numbers[index]
        at = local_instant(rng, QUERY_DAY, zone_of(e164), rng.random() < IN_HOURS_SHARE)
        if is_debtor(index) and rng.random() < 0.8:
            purpose, person, debt = "debt_collection", person_of(index), debt_of(index, index % 2)
        else:
            purpose, person, debt = "marketing", None, None
        out.append(Query(e164, at, purpose, person, debt, campaign_of(index)))
    return out


# -- timing ---------------------------------------------------------------------------------


def percentile(ordered: Sequence[int], p: float) -> float:
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] / 1_000


def time_stage(
    call: Callable[[int], object], count: int
) -> tuple[Stats, list[object], dict[str, float]]:
    """Time ``call(i)`` for ``i`` in ``range(count)``; extra tail figures in µs."""
    clock = time.perf_counter_ns
    samples = [0] * count
    results: list[object] = [None] * count
    gc.collect()
    start = time.perf_counter()
    for i in range(count):
        t0 = clock()
        results[i] = call(i)
        samples[i] = clock() - t0
    wall = time.perf_counter() - start
    ordered = sorted(samples)
    tail = {"p99_9_us": percentile(ordered, 99.9), "max_us": ordered[-1] / 1_000}
    return Stats.of(samples, wall), results, tail


@dataclasses.dataclass(slots=True)
class Prepared:
    """Per-query inputs of the part stages, computed untimed by the stage before."""

    calls: list[RuleCall]
    facts: list[tuple[list[AttemptFact], list[tuple[int, int, int]]]]


def rule_call(client: optout.Compliance, query: Query) -> RuleCall:
    """The checked call ``can_call`` builds before any I/O (``Compliance._call``, private)."""
    call = client._call(query.number, **query.kwargs())
    assert isinstance(call, RuleCall), call
    return call


def stage_functions(
    client: optout.Compliance, queries: Sequence[Query], prepared: Prepared
) -> dict[str, Callable[[int], object]]:
    """The function each stage times, on query ``i``.

    ``facts`` repeats the reads of ``Compliance._decide`` (suppressions, attempt history,
    registrations, consents, cached abandonment counts) on a reading connection; ``rules``
    locates the callee and runs ``check_rules`` on facts read beforehand. Both use private
    functions of optout and must follow ``_decide`` if it changes.
    """
    book = client.rules
    engine = client.engine
    postgres = engine.dialect.name == "postgresql"
    abandonment_cache = client._abandonment

    def can_call(i: int) -> object:
        q = queries[i]
        return client.can_call(q.number, **q.kwargs())

    def normalize(i: int) -> object:
        return optout.normalize(queries[i].number)

    def facts(i: int) -> object:
        call = prepared.calls[i]
        _, needs = call_needs(book, call, call.location())
        conn = engine.connect()
        if postgres:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        with conn:
            client.suppressions.matching(conn, call.phone.e164)
            history = (
                []
                if needs.history is None
                else load_attempts(conn, call.phone.e164, call.person, call.at - needs.history)
            )
            if needs.registries:
                client.registrations.for_call(conn, call.phone.e164)
            if needs.consents:
                client.consents.for_call(conn, call.phone.e164, call.person)
            abandonment = [
                abandonment_cache.counts(conn, call.campaign, period, call.at)
                for period in needs.abandonment
            ]
        prepared.facts[i] = (history, abandonment)
        return len(history)

    def rules(i: int) -> object:
        call = prepared.calls[i]
        history, abandonment = prepared.facts[i]
        return check_rules(
            book, call, attempts=history, abandonment=abandonment, location=call.location()
        ).reasons

    return {"can_call": can_call, "normalize": normalize, "facts": facts, "rules": rules}


def tally(results: Sequence[object]) -> dict[str, Any]:
    """Allowed and denied decisions, and how often each reason code appeared."""
    codes: collections.Counter[str] = collections.Counter()
    allowed = 0
    for decision in results:
        assert isinstance(decision, optout.Decision)
        allowed += decision.allowed
        codes.update({r.code for r in decision.reasons})
    return {
        "allowed": allowed,
        "denied": len(results) - allowed,
        "codes": dict(codes.most_common()),
    }


def run_calls(
    name: str,
    client: optout.Compliance,
    queries: Sequence[Query],
    *,
    warmup: int,
    calls: int,
    rounds: int,
) -> dict[str, Any]:
    """Warm up, then time every stage in ``rounds`` rounds of ``calls`` fresh numbers."""
    per_stage: dict[str, list[Stats]] = {s: [] for s in STAGES}
    tails: dict[str, list[dict[str, float]]] = {s: [] for s in STAGES}
    decisions: list[object] = []
    history_sizes: list[int] = []
    print(f"\n[{name}] warm-up: {warmup} calls per stage", flush=True)
    for r in range(-1, rounds):
        window = (
            list(queries[:warmup])
            if r < 0
            else list(queries[warmup + r * calls : warmup + (r + 1) * calls])
        )
        prepared = Prepared(
            calls=[rule_call(client, q) for q in window],
            facts=[([], [])] * len(window),
        )
        stages = stage_functions(client, window, prepared)
        for stage in STAGES:
            forget_normalized_numbers()
            stats, results, tail = time_stage(stages[stage], len(window))
            if r < 0:
                continue
            per_stage[stage].append(stats)
            tails[stage].append(tail)
            if stage == "can_call":
                decisions.extend(results)
            elif stage == "facts":
                history_sizes.extend(int(x) for x in results)  # type: ignore[call-overload]
        if r >= 0:
            figures = ", ".join(f"{s} p50 {per_stage[s][-1].p50_us:.1f}" for s in STAGES)
            print(f"[{name}] round {r + 1}/{rounds} (µs): {figures}", flush=True)
    return {
        "rounds": {s: [dataclasses.asdict(x) for x in runs] for s, runs in per_stage.items()},
        "median": {s: dataclasses.asdict(Stats.median(runs)) for s, runs in per_stage.items()},
        "tail_median": {
            s: {k: statistics.median(t[k] for t in ts) for k in ("p99_9_us", "max_us")}
            for s, ts in tails.items()
        },
        "decisions": tally(decisions),
        "history_rows_per_call": {
            "mean": statistics.fmean(history_sizes),
            "max": max(history_sizes),
        },
    }


def rule_book(*, policies: Sequence[optout.Policy] = (), no_registries: bool) -> optout.RuleBook:
    """Every built-in pack; with ``no_registries``, minus the rules that need a registry."""
    disabled: frozenset[str] = frozenset()
    if no_registries:
        packs = optout.RuleBook().packs
        disabled = frozenset(
            f"{p.id}:{r.id}"
            for p in packs.values()
            for r in p.rules
            if getattr(r, "registry", None) is not None
        )
    return optout.RuleBook(policies=tuple(policies), disabled=disabled)


def abandonment_scans(client: optout.Compliance, queries: Sequence[Query]) -> dict[str, Any]:
    """Time the abandonment count ``can_call`` runs when its cache misses (TCPA: 30 days).

    Per campaign, and once for a call that names no campaign (the count then covers every
    campaign's attempts).
    """
    cache = AbandonmentCache(0)
    at = queries[0].at
    samples: list[float] = []
    for campaign in CAMPAIGNS[:SCANNED_CAMPAIGNS]:
        with client.engine.connect() as conn:
            t0 = time.perf_counter()
            cache.counts(conn, campaign, dt.timedelta(days=30), at)
            samples.append((time.perf_counter() - t0) * 1_000)
    with client.engine.connect() as conn:
        t0 = time.perf_counter()
        cache.counts(conn, None, dt.timedelta(days=30), at)
        every = (time.perf_counter() - t0) * 1_000
    return {
        "campaigns": len(samples),
        "median_ms": statistics.median(samples),
        "max_ms": max(samples),
        "all_campaigns_ms": every,
        "client_ttl_s": client._abandonment.ttl,
    }


# -- reservations ---------------------------------------------------------------------------


def reserve_worker(
    url: str,
    pool: Sequence[tuple[str, dt.datetime, str]],
    seconds: float,
    seed: int,
    ttl: float,
    no_registries: bool,
    barrier: multiprocessing.synchronize.Barrier,
    results: Any,
) -> None:
    """Reserve calls for ``seconds`` after every worker is ready; put the figures on ``results``."""
    policy = optout.Policy.from_dict(POLICY)
    client = optout.Compliance(
        url,
        rules=rule_book(policies=(policy,), no_registries=no_registries),
        migrate=False,
        abandonment_cache_seconds=ttl,
    )
    rng = random.Random(seed)
    # Warm the caches and the connection pool without writing: one call per campaign and
    # country (an abandonment count, when a rule needs one, covers 30 days of a campaign's
    # attempts; reserve() reads it before taking its locks, but it is still a scan).
    warm = {
        (campaign, phonenumbers.region_code_for_number(phonenumbers.parse(e164))): (e164, at)
        for e164, at, campaign in pool
    }
    for (campaign, _), (e164, at) in sorted(warm.items()):
        client.can_call(e164, at=at, campaign=campaign, technology="manual")
    for e164, at, campaign in pool[:20]:
        client.can_call(e164, at=at, campaign=campaign, technology="manual")
    samples: list[int] = []
    codes: collections.Counter[str] = collections.Counter()
    allowed = 0
    barrier.wait()
    clock = time.perf_counter_ns
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        e164, at, campaign = pool[
            rng.randrange(HOT) if rng.random() < 0.5 else rng.randrange(len(pool))
        ]
        t0 = clock()
        reservation = client.reserve(e164, at=at, campaign=campaign, technology="manual")
        samples.append(clock() - t0)
        allowed += reservation.allowed
        codes.update({r.code for r in reservation.decision.reasons})
    client.close()
    results.put({"samples": samples, "allowed": allowed, "codes": dict(codes)})


def run_reservations(
    name: str,
    url: str,
    numbers: Sequence[str],
    *,
    workers: int,
    seconds: float,
    seed: int,
    ttl: float,
    no_registries: bool,
) -> dict[str, Any]:
    """``workers`` processes reserving over a shared pool; then check the cap held."""
    rng = random.Random(seed)
    chosen = rng.sample(range(len(numbers)), min(RESERVE_POOL, len(numbers)))
    pool = [
        (numbers[i], local_instant(rng, RESERVE_DAY, zone_of(numbers[i]), True), RESERVE_CAMPAIGN)
        for i in chosen
    ]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=reserve_worker,
            args=(url, pool, seconds, seed + 1 + w, ttl, no_registries, barrier, queue),
        )
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)
    started = time.perf_counter()
    print(f"[{name}] {workers} workers reserving for {seconds:g} s", flush=True)
    outputs = [queue.get(timeout=seconds + 300) for _ in procs]
    wall = time.perf_counter() - started
    for p in procs:
        p.join()
    samples = [s for o in outputs for s in o["samples"]]
    ordered = sorted(samples)
    codes: collections.Counter[str] = collections.Counter()
    for o in outputs:
        codes.update(o["codes"])
    allowed = sum(int(o["allowed"]) for o in outputs)
    check = check_cap(url, pool)
    return {
        "workers": workers,
        "seconds": wall,
        "pool": len(pool),
        "hot": HOT,
        "calls": len(samples),
        "calls_per_s": len(samples) / wall,
        "allowed": allowed,
        "allowed_per_s": allowed / wall,
        "p50_us": percentile(ordered, 50),
        "p90_us": percentile(ordered, 90),
        "p99_us": percentile(ordered, 99),
        "max_us": ordered[-1] / 1_000,
        "codes": dict(codes.most_common()),
        "cap_check": check,
    }


def check_cap(url: str, pool: Sequence[tuple[str, dt.datetime, str]]) -> dict[str, Any]:
    """Count the stored attempts per pool number in its 24 h window: none may exceed 3."""
    engine = sa.create_engine(url)
    a = attempts_table
    per_number: dict[str, int] = {}
    try:
        with engine.connect() as conn:
            start = dt.datetime.combine(RESERVE_DAY, dt.time(0, 0), tzinfo=dt.UTC)
            lo, hi = start - dt.timedelta(days=1), start + dt.timedelta(days=2)
            stmt = (
                sa.select(a.c.number, sa.func.count())
                .where(a.c.at > lo, a.c.at < hi)
                .group_by(a.c.number)
            )
            per_number = {str(n): int(c) for n, c in conn.execute(stmt)}
    finally:
        engine.dispose()
    in_pool = {e164 for e164, _, _ in pool}
    counts = [per_number.get(e164, 0) for e164 in in_pool]
    stray = sorted(set(per_number) - in_pool)
    over = sum(1 for c in counts if c > RESERVE_CAP)
    return {
        "stored": sum(counts),
        "numbers_reserved": sum(1 for c in counts if c),
        "numbers_at_cap": sum(1 for c in counts if c == RESERVE_CAP),
        "max_per_number": max(counts, default=0),
        "numbers_over_cap": over,
        "stray_rows": len(stray),
        "ok": over == 0 and not stray,
    }


# -- backends -------------------------------------------------------------------------------


def bench_backend(
    name: str,
    url: str,
    numbers: Sequence[str],
    queries: Sequence[Query],
    args: argparse.Namespace,
) -> dict[str, Any]:
    client = optout.Compliance(
        url,
        migrate=True,
        rules=rule_book(no_registries=args.no_registry_rules),
        abandonment_cache_seconds=args.abandonment_cache_seconds,
    )
    try:
        seconds: float | None = None
        with client.engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(attempts_table))
            if stored.scalar_one():
                if not args.reuse:
                    raise SystemExit(f"{name}: the database already holds attempts (--reuse?)")
                print(f"[{name}] reusing the stored history", flush=True)
        if args.reuse:
            with client.engine.begin() as conn:  # reservations of an earlier run
                conn.execute(attempts_table.delete().where(attempts_table.c.at >= HISTORY_END))
        else:
            rows = attempt_rows(numbers, args.attempts, args.seed + 7)
            loader = load_sqlite if name == "sqlite" else load_postgres
            seconds = loader(url, client.engine, rows)
        if name == "sqlite":
            version = sqlite3.sqlite_version
        else:
            with client.engine.connect() as conn:
                version = conn.exec_driver_sql("SHOW server_version").scalar_one()
        size = database_size(client.engine)
        print(
            f"[{name}] {args.attempts:,} attempts loaded in {seconds or 0:.1f} s "
            f"({size / 2**20:,.0f} MiB)",
            flush=True,
        )
        result: dict[str, Any] = {}
        if not args.reservations_only:
            scans = abandonment_scans(client, queries)
            print(f"[{name}] abandonment count, cache miss: {scans}", flush=True)
            result = run_calls(
                name, client, queries, warmup=args.warmup, calls=args.calls, rounds=args.rounds
            )
            result["abandonment_miss"] = scans
    finally:
        client.close()
    result["load_seconds"] = seconds
    result["database_mib"] = size / 2**20
    result["server_version"] = version
    if args.workers > 0:
        result["reservations"] = run_reservations(
            name,
            url,
            numbers,
            workers=args.workers,
            seconds=args.seconds,
            seed=args.seed + 11,
            ttl=args.abandonment_cache_seconds,
            no_registries=args.no_registry_rules,
        )
    return result


def database_size(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            return int(pages) * int(size)
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())


# -- reporting ------------------------------------------------------------------------------


def print_summary(results: dict[str, Any]) -> None:
    config = results["config"]
    for backend, result in results["backends"].items():
        if "median" not in result:
            print(f"\n{backend}: reservations {result.get('reservations')}")
            continue
        medians = result["median"]
        print(
            f"\n{backend}: {config['attempts']:,} attempts, median of {config['rounds']} rounds "
            f"x {config['calls']:,} calls (load {result['load_seconds'] or 0:.0f} s)"
        )
        print(
            f"  {'stage':<11}{'p50 µs':>10}{'p90 µs':>10}{'p99 µs':>10}{'p99.9 µs':>10}"
            f"{'mean µs':>10}{'calls/s':>10}"
        )
        for stage in STAGES:
            m, t = medians[stage], result["tail_median"][stage]
            print(
                f"  {stage:<11}{m['p50_us']:>10.1f}{m['p90_us']:>10.1f}{m['p99_us']:>10.1f}"
                f"{t['p99_9_us']:>10.1f}{m['mean_us']:>10.1f}{m['calls_per_s']:>10,.0f}"
            )
        d = result["decisions"]
        print(f"  decisions: {d['allowed']:,} allowed, {d['denied']:,} denied; codes {d['codes']}")
        print(f"  history rows per call: {result['history_rows_per_call']}")
        res = result.get("reservations")
        if res:
            print(
                f"  reservations ({res['workers']} workers, {res['seconds']:.1f} s): "
                f"{res['calls_per_s']:,.0f} decisions/s, {res['allowed_per_s']:,.0f} allowed/s, "
                f"p50 {res['p50_us']:.0f} µs, p99 {res['p99_us']:.0f} µs; codes {res['codes']}"
            )
            print(f"  cap check: {res['cap_check']}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--attempts", type=int, default=10_000_000, help="history rows")
    parser.add_argument(
        "--numbers", type=int, help="distinct numbers (default: attempts / 10, at least 10x calls)"
    )
    parser.add_argument("--calls", type=int, default=20_000, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2_000, help="untimed calls first")
    parser.add_argument("--workers", type=int, default=8, help="reservation workers (0: skip)")
    parser.add_argument("--seconds", type=float, default=20.0, help="reservation run time")
    parser.add_argument("--seed", type=int, default=20261117, help="data seed")
    parser.add_argument("--json", type=pathlib.Path, metavar="PATH", help="write results here")
    parser.add_argument(
        "--workdir", type=pathlib.Path, metavar="DIR", help="SQLite file folder (kept)"
    )
    parser.add_argument(
        "--postgres-url", metavar="URL", help="an EMPTY throwaway PostgreSQL database to fill"
    )
    parser.add_argument("--skip-postgres", action="store_true", help="benchmark SQLite only")
    parser.add_argument(
        "--abandonment-cache-seconds",
        type=float,
        default=3600.0,
        help="the client's abandonment cache TTL (optout's default is 5; see the docs)",
    )
    parser.add_argument(
        "--no-registry-rules",
        action="store_true",
        help="switch off the pack rules that need a national registry (no data is imported)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="use the history already stored (--workdir / --postgres-url) instead of loading",
    )
    parser.add_argument(
        "--reservations-only", action="store_true", help="skip the can_call() timing"
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="benchmark PostgreSQL only")
    args = parser.parse_args(argv)
    if args.numbers is None:
        args.numbers = max(args.attempts // 10, 2 * (args.warmup + args.calls * args.rounds))
    if min(args.attempts, args.numbers, args.calls, args.rounds) < 1 or args.warmup < 0:
        parser.error("--attempts, --numbers, --calls and --rounds must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_details()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()), flush=True)
    start = time.perf_counter()
    rng = random.Random(args.seed)
    numbers = make_numbers(rng, args.numbers)
    queries = make_queries(rng, numbers, args.warmup + args.calls * args.rounds, set())
    print(
        f"data: {len(numbers):,} numbers, {len(queries):,} queries "
        f"(generated in {time.perf_counter() - start:.1f} s)",
        flush=True,
    )
    results: dict[str, Any] = {
        "machine": machine,
        "config": {
            key: getattr(args, key)
            for key in ("attempts", "numbers", "calls", "rounds", "warmup", "workers", "seconds")
        }
        | {
            "no_registry_rules": args.no_registry_rules,
            "abandonment_cache_seconds": args.abandonment_cache_seconds,
        }
        | {"seed": args.seed, "query_day": QUERY_DAY.isoformat(), "policy": POLICY},
        "backends": {},
    }
    if not args.skip_sqlite:
        workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="optout-bench-rules-"))
        workdir.mkdir(parents=True, exist_ok=True)
        if not args.reuse:
            for stale in workdir.glob("rules.sqlite3*"):
                stale.unlink()
        try:
            url = f"sqlite:///{workdir / 'rules.sqlite3'}"
            results["backends"]["sqlite"] = bench_backend("sqlite", url, numbers, queries, args)
        finally:
            if args.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)
    if not args.skip_postgres:
        with postgres_url(args.postgres_url) as url:
            results["backends"]["postgresql"] = bench_backend(
                "postgresql", url, numbers, queries, args
            )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"\nresults written to {args.json}")
    print_summary(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
