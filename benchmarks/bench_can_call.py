"""Benchmark ``Compliance.can_call()`` latency on SQLite and PostgreSQL.

The script fills a fresh database with synthetic suppression entries (1,000,000 numbers and
1,000 prefixes by default), then times ``can_call()`` one call at a time: half of the queried
numbers are on the list, half are not. Every query uses a number not queried before, so the
normalization cache (an LRU in ``optout._numbers``) is cleared before each timed stage and
never helps, as for a dialer working through a call list.

Each round times, on the same inputs:

``can_call``
    the public API, end to end.
``normalize``
    ``optout.normalize()`` alone (libphonenumber parsing and validation).
``lookup``
    what ``can_call`` does with the database: check out a connection and run
    ``SuppressionList.matching()`` on the already normalized number.
``raw_same_query``
    the SQL that ``matching()`` sends, run through the bare driver (stdlib ``sqlite3`` or
    psycopg) with no SQLAlchemy, no connection pool and no transaction.
``baseline``
    the simplest possible point lookup through the bare driver:
    ``SELECT 1 FROM suppressions WHERE value = ?``.

Percentiles are computed per round; the summary is the median of each figure across rounds.

Usage::

    python benchmarks/bench_can_call.py                      # SQLite and PostgreSQL, 1M entries
    python benchmarks/bench_can_call.py --skip-postgres --entries 100000 --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gc
import importlib
import json
import math
import pathlib
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import _synth
import phonenumbers
import psycopg
import sqlalchemy as sa

import optout
from optout._numbers import _normalize_cached
from optout._schema import suppressions

TESTS_DIR = pathlib.Path(__file__).resolve().parent.parent / "tests"

#: Regions the synthetic numbers come from.
REGIONS = ("IT", "US", "GB", "FR", "DE", "ES", "AU", "BR", "CA")
#: Line types whose example numbers seed the synthetic numbers.
LINE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
#: How many trailing digits of an example number are replaced with random digits.
RANDOM_DIGITS = 6
#: The instant every ``can_call()`` is asked about (after every entry was created).
QUERY_AT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
#: Entries are created during the three years before this instant.
CREATED_BEFORE = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
#: Rows per INSERT transaction during the bulk load.
LOAD_CHUNK = 50_000
#: Values cycled through for the stored reason and source (sources the library accepts).
REASONS = ("customer asked not to be called", "dnc_request", "complaint", "imported list")
SOURCES = ("import", "agent", "web_form", "outcome", "api")
#: Stage names, in the order they are timed within a round.
STAGES = ("can_call", "normalize", "lookup", "raw_same_query", "baseline")

_SELECT_COLUMNS = ", ".join(c.name for c in suppressions.columns)


# -- synthetic data -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Pattern:
    """A numbering-plan pattern: ``+<country_code><head>`` followed by random digits."""

    country_code: int
    head: str
    random_digits: int


def number_patterns() -> list[Pattern]:
    """One pattern per region and line type, from libphonenumber's example numbers."""
    patterns: list[Pattern] = []
    for region in REGIONS:
        for line_type in LINE_TYPES:
            example = phonenumbers.example_number_for_type(region, line_type)
            if example is None:
                continue
            nsn: str = phonenumbers.national_significant_number(example)
            tail = min(RANDOM_DIGITS, len(nsn) - 2)
            country_code = phonenumbers.country_code_for_region(region)
            patterns.append(Pattern(country_code, nsn[:-tail], tail))
    return patterns


class NumberFactory:
    """Distinct, valid E.164 numbers drawn from a seeded generator."""

    def __init__(self, rng: Any, patterns: Sequence[Pattern]) -> None:
        self._rng = rng
        self._patterns = list(patterns)
        self._seen: set[str] = set()

    def fresh(self) -> str:
        """A valid number this factory has not returned before."""
        while True:
            pattern = self._rng.choice(self._patterns)
            tail = self._rng.randrange(10**pattern.random_digits)
            e164 = f"+{pattern.country_code}{pattern.head}{tail:0{pattern.random_digits}d}"
            if e164 in self._seen:
                continue
            if phonenumbers.is_valid_number(phonenumbers.parse(e164)):
                self._seen.add(e164)
                return e164

    def many(self, count: int) -> list[str]:
        return [self.fresh() for _ in range(count)]


def candidate_prefixes(e164: str) -> Iterator[str]:
    """Every proper prefix of ``e164``, ``+d`` upwards."""
    return (e164[:k] for k in range(2, len(e164)))


@dataclasses.dataclass(frozen=True, slots=True)
class Dataset:
    """What is stored, and what is queried (with the expected answer)."""

    numbers: list[str]
    prefixes: list[str]
    queries: list[str]
    listed: list[bool]


def make_dataset(*, entries: int, prefixes: int, queries: int, seed: int) -> Dataset:
    """Build the stored entries and a shuffled 50/50 mix of listed and unlisted queries.

    No query falls under a prefix entry, so a listed query matches exactly one entry and an
    unlisted one matches none.
    """
    import random  # noqa: PLC0415 - only the data generator needs it

    rng = random.Random(seed)
    factory = NumberFactory(rng, number_patterns())
    numbers = factory.many(entries)
    prefix_set: set[str] = set()
    while len(prefix_set) < prefixes:
        prefix_set.add(factory.fresh()[: -rng.choice((2, 3))])

    def uncovered(e164: str) -> bool:
        return not any(p in prefix_set for p in candidate_prefixes(e164))

    on_list = queries // 2
    off_list = queries - on_list
    if on_list > entries:
        raise SystemExit(f"--entries {entries} is too small for {queries} distinct queries")
    listed = [n for n in rng.sample(numbers, min(entries, on_list * 2)) if uncovered(n)]
    if len(listed) < on_list:
        raise SystemExit("too many listed numbers fall under prefix entries; raise --entries")
    unlisted: list[str] = []
    while len(unlisted) < off_list:
        candidate = factory.fresh()
        if uncovered(candidate):
            unlisted.append(candidate)
    mix = [(n, True) for n in listed[:on_list]] + [(n, False) for n in unlisted]
    rng.shuffle(mix)
    return Dataset(
        numbers=numbers,
        prefixes=sorted(prefix_set),
        queries=[n for n, _ in mix],
        listed=[flag for _, flag in mix],
    )


def entry_rows(dataset: Dataset) -> Iterator[dict[str, Any]]:
    """Rows shaped as ``SuppressionList.add()`` stores them: global, active, no expiry."""
    span = 3 * 365 * 86_400

    def row(index: int, kind: str, value: str) -> dict[str, Any]:
        return {
            "kind": kind,
            "value": value,
            "scope": "global",
            "scope_value": "",
            "reason": REASONS[index % len(REASONS)],
            "source": SOURCES[index % len(SOURCES)],
            "actor": None if index % 3 else "bench",
            "created_at": CREATED_BEFORE - dt.timedelta(seconds=(index * 7_919) % span),
            "expires_at": None,
        }

    for index, value in enumerate(dataset.numbers):
        yield row(index, "number", value)
    for index, value in enumerate(dataset.prefixes, start=len(dataset.numbers)):
        yield row(index, "prefix", value)


def load(engine: sa.Engine, dataset: Dataset) -> float:
    """Bulk-insert the dataset in transactions of ``LOAD_CHUNK`` rows; return seconds taken."""
    start = time.perf_counter()
    with engine.connect() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(suppressions)).scalar_one():
            raise SystemExit(f"{engine.url!r} already holds suppressions; use an empty database")
    chunk: list[dict[str, Any]] = []
    for values in entry_rows(dataset):
        chunk.append(values)
        if len(chunk) == LOAD_CHUNK:
            with engine.begin() as conn:
                conn.execute(suppressions.insert(), chunk)
            chunk = []
    if chunk:
        with engine.begin() as conn:
            conn.execute(suppressions.insert(), chunk)
    return time.perf_counter() - start


# -- timing ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Stats:
    """Latency figures of one timed run, in microseconds (and calls per second)."""

    p50_us: float
    p90_us: float
    p99_us: float
    mean_us: float
    calls_per_s: float

    @classmethod
    def of(cls, samples_ns: Sequence[int], wall_s: float) -> Stats:
        ordered = sorted(samples_ns)

        def pct(p: float) -> float:
            return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] / 1_000

        return cls(
            p50_us=pct(50),
            p90_us=pct(90),
            p99_us=pct(99),
            mean_us=statistics.fmean(ordered) / 1_000,
            calls_per_s=len(ordered) / wall_s,
        )

    @classmethod
    def median(cls, runs: Sequence[Stats]) -> Stats:
        return cls(
            **{
                f.name: statistics.median(getattr(r, f.name) for r in runs)
                for f in dataclasses.fields(cls)
            }
        )


def time_calls(call: Callable[[str], object], inputs: Sequence[str]) -> tuple[Stats, list[object]]:
    """Time ``call`` on every input, one ``perf_counter_ns`` pair per call."""
    clock = time.perf_counter_ns
    samples = [0] * len(inputs)
    results: list[object] = [None] * len(inputs)
    gc.collect()
    start = time.perf_counter()
    for i, value in enumerate(inputs):
        t0 = clock()
        results[i] = call(value)
        samples[i] = clock() - t0
    wall = time.perf_counter() - start
    return Stats.of(samples, wall), results


def forget_normalized_numbers() -> None:
    """Empty optout's normalization cache so that no stage profits from an earlier one."""
    _normalize_cached.cache_clear()


# -- the stages -----------------------------------------------------------------------------


def lookup_sql(candidates: int, style: str) -> str:
    """The statement ``SuppressionList.matching()`` sends, for a bare DB-API driver."""
    mark = "?" if style == "qmark" else "%s"
    in_list = ", ".join([mark] * candidates)
    return (
        f"SELECT {_SELECT_COLUMNS} FROM suppressions WHERE value IN ({in_list}) "
        f"AND removed_at IS NULL AND (kind = 'prefix' OR value = {mark}) ORDER BY id"
    )


class RawDriver:
    """Lookups through a bare DB-API connection (stdlib ``sqlite3`` or psycopg)."""

    def __init__(self, connection: Any, style: str) -> None:
        self._conn = connection
        self._style = style
        self._point = (
            "SELECT 1 FROM suppressions WHERE value = ?"
            if style == "qmark"
            else "SELECT 1 FROM suppressions WHERE value = %s"
        )
        self._lookups: dict[int, str] = {}

    def point(self, e164: str) -> bool:
        return self._conn.execute(self._point, (e164,)).fetchone() is not None

    def same_query(self, e164: str) -> bool:
        candidates = [e164[:k] for k in range(2, len(e164) + 1)]
        sql = self._lookups.get(len(candidates))
        if sql is None:
            sql = self._lookups[len(candidates)] = lookup_sql(len(candidates), self._style)
        return bool(self._conn.execute(sql, (*candidates, e164)).fetchall())


def stage_calls(client: optout.Compliance, raw: RawDriver) -> dict[str, Callable[[str], object]]:
    """The function each stage times; each returns whether the number is suppressed."""
    engine = client.engine
    matching = client.suppressions.matching

    def can_call(e164: str) -> bool:
        return not client.can_call(e164, at=QUERY_AT).allowed

    def normalize(e164: str) -> bool:
        return optout.normalize(e164).e164 == ""  # always False: only the work matters

    def lookup(e164: str) -> bool:
        with engine.connect() as conn:
            return bool(matching(conn, e164))

    return {
        "can_call": can_call,
        "normalize": normalize,
        "lookup": lookup,
        "raw_same_query": raw.same_query,
        "baseline": raw.point,
    }


def run_backend(
    name: str,
    client: optout.Compliance,
    raw: RawDriver,
    dataset: Dataset,
    *,
    warmup: int,
    calls: int,
    rounds: int,
) -> dict[str, Any]:
    """Warm up, then time every stage in ``rounds`` rounds of ``calls`` fresh numbers."""
    stages = stage_calls(client, raw)
    checked = {"can_call", "lookup", "raw_same_query", "baseline"}
    per_stage: dict[str, list[Stats]] = {stage: [] for stage in STAGES}
    print(f"\n[{name}] warm-up: {warmup} calls per stage")
    for stage in STAGES:
        _, results = time_calls(stages[stage], dataset.queries[:warmup])
        if stage in checked:
            verify(name, stage, results, dataset.listed[:warmup])
    for r in range(rounds):
        window = slice(warmup + r * calls, warmup + (r + 1) * calls)
        inputs, expected = dataset.queries[window], dataset.listed[window]
        for stage in STAGES:
            forget_normalized_numbers()
            stats, results = time_calls(stages[stage], inputs)
            if stage in checked:
                verify(name, stage, results, expected)
            per_stage[stage].append(stats)
        figures = ", ".join(f"{s} p50 {per_stage[s][-1].p50_us:.1f}" for s in STAGES)
        print(f"[{name}] round {r + 1}/{rounds} (µs): {figures}")
    return {
        "rounds": {
            stage: [dataclasses.asdict(s) for s in runs] for stage, runs in per_stage.items()
        },
        "median": {
            stage: dataclasses.asdict(Stats.median(runs)) for stage, runs in per_stage.items()
        },
    }


def verify(backend: str, stage: str, results: Sequence[object], expected: Sequence[bool]) -> None:
    """Stop if a stage answered differently from what the data says (a broken benchmark)."""
    wrong = sum(1 for got, want in zip(results, expected, strict=True) if got is not want)
    if wrong:
        raise SystemExit(f"[{backend}] {stage}: {wrong} of {len(expected)} answers are wrong")


#: This benchmark measures the suppression-list path: no rule packs, no registries (the
#: rules and registries have benchmarks of their own, bench_rules.py and bench_registry.py).
SUPPRESSIONS_ONLY: dict[str, Any] = {
    "rules": optout.RuleBook(packs={}, unsupported="allow"),
    "registries": [],
}


# -- backends -------------------------------------------------------------------------------


def bench_sqlite(workdir: pathlib.Path, dataset: Dataset, **timing: int) -> dict[str, Any]:
    path = workdir / "bench.sqlite3"
    for stale in workdir.glob("bench.sqlite3*"):
        stale.unlink()
    client = optout.Compliance(f"sqlite:///{path}", **SUPPRESSIONS_ONLY)
    try:
        seconds = load(client.engine, dataset)
        print(
            f"[sqlite] loaded {len(dataset.numbers) + len(dataset.prefixes):,} rows "
            f"in {seconds:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)"
        )
        raw = sqlite3.connect(path, isolation_level=None)
        try:
            result = run_backend(
                "sqlite", client, raw=RawDriver(raw, "qmark"), dataset=dataset, **timing
            )
        finally:
            raw.close()
    finally:
        client.close()
    result["load_seconds"] = seconds
    return result


@contextlib.contextmanager
def postgres_url(given: str | None) -> Iterator[str]:
    """The URL given on the command line, or a throwaway cluster's for the duration."""
    if given is not None:
        yield given
        return
    sys.path.insert(0, str(TESTS_DIR))
    # tests/_postgres.py is a test helper, not an installed module: import it by name.
    harness = importlib.import_module("_postgres")
    throwaway_cluster: Callable[[], contextlib.AbstractContextManager[str]]
    throwaway_cluster = harness.throwaway_cluster
    with throwaway_cluster() as url:
        yield url


def bench_postgres(url: str, dataset: Dataset, **timing: int) -> dict[str, Any]:
    client = optout.Compliance(url, migrate=True, **SUPPRESSIONS_ONLY)
    try:
        seconds = load(client.engine, dataset)
        with client.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE suppressions")
            version = conn.exec_driver_sql("SHOW server_version").scalar_one()
        print(
            f"[postgresql] loaded {len(dataset.numbers) + len(dataset.prefixes):,} rows "
            f"in {seconds:.1f} s (server {version})"
        )
        conninfo = client.engine.url.set(drivername="postgresql")
        conninfo_text = conninfo.render_as_string(hide_password=False)
        with psycopg.connect(conninfo_text, autocommit=True) as raw:
            result = run_backend(
                "postgresql", client, raw=RawDriver(raw, "format"), dataset=dataset, **timing
            )
    finally:
        client.close()
    result["load_seconds"] = seconds
    result["server_version"] = version
    return result


# -- reporting ------------------------------------------------------------------------------


def machine_details() -> dict[str, Any]:
    return _synth.machine_details(
        sqlite=sqlite3.sqlite_version, sqlalchemy=sa.__version__, psycopg=psycopg.__version__
    )


def print_summary(results: dict[str, Any]) -> None:
    for backend, result in results["backends"].items():
        medians = result["median"]
        base = medians["baseline"]["p50_us"]
        print(
            f"\n{backend}: median of {results['config']['rounds']} rounds "
            f"x {results['config']['calls']:,} calls"
        )
        print(
            f"  {'stage':<15}{'p50 µs':>10}{'p90 µs':>10}{'p99 µs':>10}{'mean µs':>10}"
            f"{'calls/s':>10}{'p50/base':>10}"
        )
        for stage in STAGES:
            m = medians[stage]
            print(
                f"  {stage:<15}{m['p50_us']:>10.1f}{m['p90_us']:>10.1f}{m['p99_us']:>10.1f}"
                f"{m['mean_us']:>10.1f}{m['calls_per_s']:>10,.0f}{m['p50_us'] / base:>10.1f}"
            )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--entries",
        type=int,
        default=1_000_000,
        help="suppressed numbers to store (default: %(default)s)",
    )
    parser.add_argument(
        "--prefixes",
        type=int,
        default=1_000,
        help="suppressed prefixes to store (default: %(default)s)",
    )
    parser.add_argument(
        "--calls",
        type=int,
        default=20_000,
        help="timed calls per stage and round (default: %(default)s)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default: %(default)s)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=2_000,
        help="untimed calls per stage first (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=20261201, help="data seed")
    parser.add_argument("--json", type=pathlib.Path, metavar="PATH", help="write results here")
    parser.add_argument(
        "--workdir",
        type=pathlib.Path,
        metavar="DIR",
        help="where the SQLite file goes (kept); default: a temp dir, removed",
    )
    parser.add_argument(
        "--postgres-url",
        metavar="URL",
        help="an EMPTY throwaway PostgreSQL database to use instead of "
        "starting a cluster (tables are created and filled)",
    )
    parser.add_argument("--skip-postgres", action="store_true", help="benchmark SQLite only")
    args = parser.parse_args(argv)
    if min(args.entries, args.calls, args.rounds) < 1 or args.warmup < 0 or args.prefixes < 0:
        parser.error("--entries, --calls and --rounds must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_details()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()))
    timing = {"warmup": args.warmup, "calls": args.calls, "rounds": args.rounds}
    queries = args.warmup + args.calls * args.rounds
    start = time.perf_counter()
    dataset = make_dataset(
        entries=args.entries, prefixes=args.prefixes, queries=queries, seed=args.seed
    )
    print(
        f"data: {args.entries:,} numbers, {args.prefixes:,} prefixes, {queries:,} queries "
        f"(generated in {time.perf_counter() - start:.1f} s)"
    )
    results: dict[str, Any] = {
        "machine": machine,
        "config": {
            **timing,
            "entries": args.entries,
            "prefixes": args.prefixes,
            "seed": args.seed,
            "query_mix": "50% listed, 50% not listed",
        },
        "backends": {},
    }
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="optout-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        results["backends"]["sqlite"] = bench_sqlite(workdir, dataset, **timing)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if not args.skip_postgres:
        with postgres_url(args.postgres_url) as url:
            pg = bench_postgres(url, dataset, **timing)
        results["backends"]["postgresql"] = pg
        machine["postgresql"] = pg["server_version"]
    print_summary(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
