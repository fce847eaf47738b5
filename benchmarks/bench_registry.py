"""Benchmark registry snapshots at the size of the US Do Not Call Registry.

The script writes a synthetic 250-million-number list in the FTC's flat format
(``NPA,NXXXXXX`` per line, about 3 GB of text), imports it with ``us_dnc().import_files``
and measures, in one run:

``import``
    wall time, CPU time and peak resident memory (``VmHWM``) of the import, run in a fresh
    process; the size of the index file it writes.
``query processes``
    two fresh processes open the index at the same time and look numbers up; the resident
    memory of each is split into the index file's pages (page cache, shared between the
    processes) and the process's own private memory, from ``/proc/self/smaps``.
``single lookups``
    p50/p99 of ``SnapshotRegistry.facts([number], at)`` (the path ``can_call`` takes) and
    of the bare ``SnapshotIndex.positions`` for one key.
``batch lookups``
    ``SnapshotIndex.contains`` on 10 million numbers, sorted and unsorted, against numpy on
    an in-memory array (``np.searchsorted``, ``np.isin``) and DuckDB (a semi-join against
    the list loaded into an in-memory table).

The data is deterministic (seeded): 359 US geographic area codes (those libphonenumber
accepts as US fixed-line or mobile), with a log-normal spread of numbers per area code, and
distinct valid NANP numbers (area code and exchange start with 2-9). Half of the queried
numbers are listed, half are valid numbers that are not; every answer is checked.

Usage::

    python benchmarks/bench_registry.py                                 # 250M numbers
    python benchmarks/bench_registry.py --numbers 10000000 --queries 1000000 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gc
import json
import multiprocessing as mp
import os
import pathlib
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import _synth
import numpy as np
import numpy.typing as npt
from _synth import LINE, LOCALS, NANP, Plan, proc_status, write_lists

import optout
from optout._registries import _snapshot, _store
from optout._registries._snapshot import SnapshotIndex
from optout._registries.us import us_dnc

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

#: The date of the synthetic list, and the instant lookups ask about.
TAKEN_AT = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
QUERY_AT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
#: Targets from the issue "Registry backends".
TARGET_IMPORT_S = 180.0
TARGET_INDEX_BYTES = 2_500_000_000
TARGET_SORTED_PER_S = 10_000_000


# -- synthetic data -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Queries:
    """Query numbers in random order, the same sorted, and whether each is listed."""

    keys: U64
    listed: Bools
    sorted_keys: U64
    sorted_listed: Bools


def make_queries(plan: Plan, count: int, seed: int) -> Queries:
    """Half listed numbers, half valid unlisted ones, area codes weighted like the list."""
    rng = np.random.default_rng(seed + 1)
    share = plan.counts / plan.counts.sum()
    area = rng.choice(len(plan.npas), size=count, p=share).astype(np.intp)
    listed = rng.random(count) < 0.5
    span = np.where(listed, plan.counts[area], LOCALS - plan.counts[area])
    k = np.floor(rng.random(count) * span).astype(np.int64)
    k += np.where(listed, 0, plan.counts[area])
    keys = plan.keys(area, k)
    # distinct numbers (np.isin may then be told both sides are unique), in random order
    order = np.argsort(keys, kind="stable")
    keys, listed = keys[order], listed[order]
    first = np.ones(count, dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    sorted_keys, sorted_listed = keys[first], listed[first]
    shuffle = rng.permutation(len(sorted_keys))
    return Queries(
        keys=sorted_keys[shuffle],
        listed=sorted_listed[shuffle],
        sorted_keys=sorted_keys,
        sorted_listed=sorted_listed,
    )


# -- measuring ------------------------------------------------------------------------------


def smaps_memory(index_path: str) -> dict[str, int]:
    """Resident memory of this process (bytes), whole and for the index file's mappings."""
    out: dict[str, int] = {}
    for line in pathlib.Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            out[name.strip()] = int(parts[0]) * 1024
    index = {"Rss": 0, "Pss": 0, "Shared_Clean": 0, "Private_Clean": 0}
    inside = False
    for line in pathlib.Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and ":" not in head[0]:  # a mapping's first line
            inside = head[-1] == index_path
        elif inside and head and head[0].rstrip(":") in index:
            index[head[0].rstrip(":")] += int(head[1]) * 1024
    return {
        "rss": out.get("Rss", 0),
        "pss": out.get("Pss", 0),
        "shared": out.get("Shared_Clean", 0) + out.get("Shared_Dirty", 0),
        "private": out.get("Private_Clean", 0) + out.get("Private_Dirty", 0),
        "anonymous": out.get("Anonymous", 0),
        "index_rss": index["Rss"],
        "index_pss": index["Pss"],
        "index_shared": index["Shared_Clean"],
        "index_private": index["Private_Clean"],
    }


def import_child(
    db_url: str, snapshot_dir: str, files: list[str], result: mp.queues.Queue[dict[str, Any]]
) -> None:
    """Import the list in this (fresh) process and report time and memory."""
    marks: dict[str, float] = {}
    write_index = _snapshot.write_index

    def timed_write(*args: Any, **kwargs: Any) -> tuple[int, str]:
        marks["write_start"] = time.perf_counter()
        try:
            return write_index(*args, **kwargs)
        finally:
            marks["write_end"] = time.perf_counter()

    # _store calls write_index by the name it imported: wrap that name (timing only)
    setattr(_store, "write_index", timed_write)  # noqa: B010
    registry = us_dnc()
    client = optout.Compliance(db_url, registries=[registry], snapshot_dir=snapshot_dir)
    base_rss = proc_status("VmRSS")
    cpu0 = os.times()
    start = time.perf_counter()
    info = registry.import_files(files, taken_at=TAKEN_AT)
    wall = time.perf_counter() - start
    cpu1 = os.times()
    client.close()
    result.put(
        {
            "seconds": wall,
            "parse_seconds": marks["write_start"] - start,
            "write_index_seconds": marks["write_end"] - marks["write_start"],
            "commit_seconds": start + wall - marks["write_end"],
            "cpu_seconds": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
            "peak_rss": proc_status("VmHWM"),
            "peak_rss_getrusage": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "rss_before": base_rss,
            "count": info.count,
            "rejected": info.rejected,
            "path": info.path,
            "checksum": info.checksum,
        }
    )


def query_child(
    index_path: str,
    queries: int,
    seed: int,
    barrier: Any,
    result: mp.queues.Queue[dict[str, Any]],
) -> None:
    """Open the index, look numbers up, and report memory at each stage (in step with the
    other query process, so that the pages both map show as shared)."""
    stages: dict[str, dict[str, int]] = {"started": smaps_memory(index_path)}
    index = SnapshotIndex(pathlib.Path(index_path))
    rng = np.random.default_rng(seed)
    barrier.wait()
    stages["opened"] = smaps_memory(index_path)
    for key in rng.integers(NANP + 2 * 10**9, 2 * NANP, 10_000, dtype=np.uint64):
        index.positions(np.array([key], dtype=np.uint64))
    barrier.wait()
    stages["10k single lookups"] = smaps_memory(index_path)
    batch = rng.integers(NANP + 2 * 10**9, 2 * NANP, queries, dtype=np.uint64)
    found = int(index.contains(batch).sum())
    del batch
    gc.collect()
    barrier.wait()
    stages[f"{queries:,} batch lookups"] = smaps_memory(index_path)
    barrier.wait()
    result.put({"pid": os.getpid(), "stages": stages, "found": found})


@dataclasses.dataclass(frozen=True, slots=True)
class Latency:
    p50_us: float
    p99_us: float
    mean_us: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Latency:
        arr = np.asarray(samples_ns, dtype=np.float64) / 1000
        return cls(
            p50_us=float(np.percentile(arr, 50)),
            p99_us=float(np.percentile(arr, 99)),
            mean_us=float(arr.mean()),
        )

    @classmethod
    def median(cls, runs: Sequence[Latency]) -> Latency:
        return cls(
            **{
                f.name: statistics.median(getattr(r, f.name) for r in runs)
                for f in dataclasses.fields(cls)
            }
        )


def time_single(call: Callable[[int], bool], keys: Sequence[int], want: Sequence[bool]) -> Latency:
    clock = time.perf_counter_ns
    samples = [0] * len(keys)
    wrong = 0
    gc.collect()
    for i, key in enumerate(keys):
        t0 = clock()
        got = call(key)
        samples[i] = clock() - t0
        wrong += got is not want[i]
    if wrong:
        raise SystemExit(f"{wrong} of {len(keys)} single lookups answered wrongly")
    return Latency.of(samples)


LOAD: dict[str, tuple[float, float, float]] = {}


def note_load(stage: str) -> None:
    """Record the 1/5/15-minute load average (the machine may be shared)."""
    LOAD[stage] = os.getloadavg()
    print(f"[{stage}] load average {LOAD[stage][0]:.1f}")


def time_batch(run: Callable[[], Bools], want: Bools, rounds: int, name: str) -> dict[str, Any]:
    """Median seconds of ``rounds`` runs of a batch lookup (answers checked every time)."""
    seconds = []
    for r in range(rounds):
        gc.collect()
        start = time.perf_counter()
        got = run()
        seconds.append(time.perf_counter() - start)
        if not np.array_equal(got, want):
            raise SystemExit(f"{name}: {int((got != want).sum())} wrong answers")
        print(f"  {name}: round {r + 1}/{rounds}: {seconds[-1]:.3f} s")
        del got
    median = statistics.median(seconds)
    return {"rounds_s": seconds, "median_s": median, "per_s": len(want) / median}


# -- the stages -----------------------------------------------------------------------------


def bench_import(workdir: pathlib.Path, files: list[pathlib.Path]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue: mp.queues.Queue[dict[str, Any]] = ctx.Queue()
    db_url = f"sqlite:///{workdir / 'optout.sqlite3'}"
    child = ctx.Process(
        target=import_child,
        args=(db_url, str(workdir / "snapshots"), [str(f) for f in files], queue),
    )
    child.start()
    result = queue.get()
    child.join()
    result["db_url"] = db_url
    result["index_bytes"] = pathlib.Path(result["path"]).stat().st_size
    return result


def bench_query_processes(index_path: str, queries: int, seed: int) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    queue: mp.queues.Queue[dict[str, Any]] = ctx.Queue()
    barrier = ctx.Barrier(2, timeout=600)
    children = [
        ctx.Process(target=query_child, args=(index_path, queries, seed + i, barrier, queue))
        for i in range(2)
    ]
    for child in children:
        child.start()
    results = [queue.get() for _ in children]
    for child in children:
        child.join()
    return sorted(results, key=lambda r: int(r["pid"]))


def bench_single(
    db_url: str,
    workdir: pathlib.Path,
    index: SnapshotIndex,
    queries: Queries,
    calls: int,
    rounds: int,
) -> dict[str, Any]:
    registry = us_dnc()
    client = optout.Compliance(
        db_url, registries=[registry], snapshot_dir=str(workdir / "snapshots")
    )
    try:

        def facts(key: int) -> bool:
            status: str = registry.facts([f"+{key}"], QUERY_AT)[0].status
            return status == "listed"

        def positions(key: int) -> bool:
            return bool(index.positions(np.array([key], dtype=np.uint64))[1][0])

        stages: dict[str, Callable[[int], bool]] = {"facts": facts, "positions": positions}
        runs: dict[str, list[Latency]] = {name: [] for name in stages}
        warm = queries.keys[:1000].tolist(), queries.listed[:1000].tolist()
        for call in stages.values():
            time_single(call, *warm)
        for r in range(rounds):
            window = slice(1000 + r * calls, 1000 + (r + 1) * calls)
            keys, want = queries.keys[window].tolist(), queries.listed[window].tolist()
            for name, call in stages.items():
                runs[name].append(time_single(call, keys, want))
            print(
                f"  single lookups round {r + 1}/{rounds}: "
                + ", ".join(f"{n} p50 {runs[n][-1].p50_us:.1f} µs" for n in stages)
            )
    finally:
        client.close()
    return {
        "calls": calls,
        "rounds": {n: [dataclasses.asdict(x) for x in v] for n, v in runs.items()},
        "median": {n: dataclasses.asdict(Latency.median(v)) for n, v in runs.items()},
    }


def in_memory_lookup(keys: U64, queries: U64) -> Bools:
    pos = np.searchsorted(keys, queries)
    np.minimum(pos, len(keys) - 1, out=pos)
    return np.asarray(keys[pos] == queries)


def blocked_positions(keys: U64, queries: U64, block: int = 2048) -> npt.NDArray[np.intp]:
    """The proposed ``SnapshotIndex.positions`` (see docs/benchmarks.md): sort the batch
    unless it is sorted, find where each block of ``block`` queries starts with one
    ``searchsorted``, then search each block within its small, cache-resident slice."""
    if len(queries) > 1 and not bool((queries[1:] >= queries[:-1]).all()):
        order = np.argsort(queries)
        out = np.empty(len(queries), dtype=np.intp)
        out[order] = blocked_positions(keys, queries[order], block)
        return out
    starts = np.searchsorted(keys, queries[::block])
    ends = np.append(starts[1:], len(keys))
    out = np.empty(len(queries), dtype=np.intp)
    for i, (lo, hi) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        at = slice(i * block, (i + 1) * block)
        out[at] = np.searchsorted(keys[lo:hi], queries[at])
        out[at] += lo
    np.minimum(out, len(keys) - 1, out=out)
    return out


def blocked_contains(keys: U64, queries: U64) -> Bools:
    return np.asarray(keys[blocked_positions(keys, queries)] == queries)


def bench_batches(
    index: SnapshotIndex,
    files: list[pathlib.Path],
    queries: Queries,
    rounds: int,
    slow_rounds: int,
) -> dict[str, Any]:
    import duckdb  # noqa: PLC0415  # the bench extra
    import pyarrow as pa  # noqa: PLC0415

    out: dict[str, Any] = {}
    q, want = queries.keys, queries.listed
    qs, want_s = queries.sorted_keys, queries.sorted_listed
    out["contains sorted"] = time_batch(
        lambda: index.contains(qs), want_s, rounds, "contains sorted"
    )
    out["contains unsorted"] = time_batch(
        lambda: index.contains(q), want, slow_rounds, "contains unsorted"
    )
    keys = index.keys
    out["proposed contains sorted"] = time_batch(
        lambda: blocked_contains(keys, qs), want_s, rounds, "proposed contains sorted"
    )
    out["proposed contains unsorted"] = time_batch(
        lambda: blocked_contains(keys, q), want, rounds, "proposed contains unsorted"
    )
    memory = np.array(index.keys, dtype=np.uint64)
    out["np.searchsorted sorted"] = time_batch(
        lambda: in_memory_lookup(memory, qs), want_s, rounds, "np.searchsorted sorted"
    )
    out["np.searchsorted unsorted"] = time_batch(
        lambda: in_memory_lookup(memory, q), want, slow_rounds, "np.searchsorted unsorted"
    )
    out["np.isin unsorted"] = time_batch(
        lambda: np.isin(q, memory, assume_unique=True), want, slow_rounds, "np.isin unsorted"
    )

    con = duckdb.connect()
    out["duckdb_threads"] = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    start = time.perf_counter()
    listed_table = pa.table({"k": pa.array(memory)})
    con.register("listed_arrow", listed_table)
    con.execute("CREATE TABLE listed AS SELECT k FROM listed_arrow")
    con.unregister("listed_arrow")
    out["duckdb_load_arrow_s"] = time.perf_counter() - start
    del listed_table
    memory = np.empty(0, dtype=np.uint64)  # free the copy (the lambdas above are done)
    gc.collect()
    print(f"  duckdb: loaded from numpy via arrow in {out['duckdb_load_arrow_s']:.1f} s")

    start = time.perf_counter()
    con.execute(
        "CREATE TABLE listed_csv AS SELECT (10000000000 + npa * 10000000 + local)::UBIGINT AS k "
        "FROM read_csv($files, header = false, delim = ',', "
        "columns = {'npa': 'UBIGINT', 'local': 'UBIGINT'})",
        {"files": [str(f) for f in files]},
    )
    out["duckdb_load_csv_s"] = time.perf_counter() - start
    loaded = con.execute("SELECT count(*) FROM listed_csv").fetchall()[0][0]
    con.execute("DROP TABLE listed_csv")
    print(f"  duckdb: loaded {loaded} rows from the flat files in {out['duckdb_load_csv_s']:.1f} s")

    for label, keys, expected in (("sorted", qs, want_s), ("unsorted", q, want)):
        table = pa.table({"i": pa.array(np.arange(len(keys), dtype=np.int64)), "k": keys})
        con.register("queries", table)

        def semi_join(n: int = len(keys)) -> Bools:
            rows = con.execute(
                "SELECT i FROM queries SEMI JOIN listed ON queries.k = listed.k"
            ).fetchnumpy()
            mask = np.zeros(n, dtype=bool)
            mask[rows["i"]] = True
            return mask

        out[f"duckdb semi-join {label}"] = time_batch(
            semi_join, expected, rounds, f"duckdb semi-join {label}"
        )
        con.unregister("queries")
    con.close()
    return out


# -- reporting ------------------------------------------------------------------------------


def machine_details() -> dict[str, Any]:
    import duckdb  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415

    return _synth.machine_details(pyarrow=pa.__version__, duckdb=duckdb.__version__)


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def print_summary(results: dict[str, Any]) -> None:
    imp = results["import"]
    print(f"\nimport of {imp['count']:,} numbers ({results['config']['text_bytes'] / 1e9:.2f} GB)")
    print(
        f"  {imp['seconds']:.1f} s (parse {imp['parse_seconds']:.1f}, write index "
        f"{imp['write_index_seconds']:.1f}, commit {imp['commit_seconds']:.2f}); "
        f"CPU {imp['cpu_seconds']:.1f} s; peak RSS {gib(imp['peak_rss'])}; "
        f"index {imp['index_bytes'] / 1e9:.3f} GB"
    )
    print("\nquery processes (two at once):")
    for child in results["query_processes"]:
        for stage, m in child["stages"].items():
            print(
                f"  pid {child['pid']} {stage:<24} RSS {m['rss'] / 2**20:8.1f} MiB "
                f"(index {m['index_rss'] / 2**20:7.1f}, shared {m['shared'] / 2**20:7.1f}, "
                f"private {m['private'] / 2**20:6.1f}, anonymous {m['anonymous'] / 2**20:6.1f}) "
                f"PSS {m['pss'] / 2**20:7.1f}"
            )
    print("\nsingle lookups (median of rounds):")
    for name, m in results["single"]["median"].items():
        print(f"  {name:<10} p50 {m['p50_us']:7.2f} µs  p99 {m['p99_us']:7.2f} µs")
    print(f"\nbatch lookups of {results['config']['queries']:,} numbers (median of rounds):")
    batches = results["batch"]
    base = batches["contains sorted"]["median_s"]
    for name, b in batches.items():
        if isinstance(b, dict):
            print(
                f"  {name:<26}{b['median_s']:9.3f} s {b['per_s'] / 1e6:9.2f} M/s "
                f"{b['median_s'] / base:8.1f}x"
            )
    print("\ntargets:")
    for name, t in results["targets"].items():
        print(f"  {name:<30} {t['value']:>14,.1f}  target {t['target']:>14,.1f}  met={t['met']}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--numbers", type=int, default=250_000_000, help="listed numbers (default %(default)s)"
    )
    parser.add_argument(
        "--queries", type=int, default=10_000_000, help="batch size (default %(default)s)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default %(default)s)")
    parser.add_argument(
        "--slow-rounds",
        type=int,
        default=1,
        help="rounds of the slow batch lookups: unsorted searchsorted, np.isin "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--calls",
        type=int,
        default=20_000,
        help="single lookups per stage and round (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=20261101, help="data seed")
    parser.add_argument(
        "--workdir",
        type=pathlib.Path,
        metavar="DIR",
        help="where the files go (default: a new folder in the temp dir or the current "
        "directory, whichever has more free space)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated lists, index and database"
    )
    parser.add_argument("--json", type=pathlib.Path, metavar="PATH", help="write results here")
    args = parser.parse_args(argv)
    if min(args.numbers, args.queries, args.rounds, args.slow_rounds, args.calls) < 1:
        parser.error("--numbers, --queries, --rounds and --calls must be positive")
    if args.queries < 1000 + args.calls * args.rounds:
        parser.error("--queries must cover 1000 + --calls x --rounds single lookups")
    return args


@contextlib.contextmanager
def work_folder(given: pathlib.Path | None, keep: bool, needed: int) -> Iterator[pathlib.Path]:
    if given is None:
        parent = max(
            (pathlib.Path(tempfile.gettempdir()), pathlib.Path.cwd()),
            key=lambda p: shutil.disk_usage(p).free,
        )
        folder = pathlib.Path(tempfile.mkdtemp(prefix="optout-bench-registry-", dir=parent))
    else:
        folder = given
        folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    print(f"workdir: {folder} ({free / 1e9:.0f} GB free, about {needed / 1e9:.1f} GB needed)")
    if free < needed:
        raise SystemExit(f"not enough free disk space in {folder}")
    try:
        yield folder
    finally:
        if keep:
            print(f"kept {folder}")
        elif given is None:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            for name in ("lists", "snapshots"):
                shutil.rmtree(folder / name, ignore_errors=True)
            for stale in folder.glob("optout.sqlite3*"):
                stale.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_details()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()))
    text_bytes = args.numbers * LINE
    results: dict[str, Any] = {
        "machine": machine,
        "config": {
            "numbers": args.numbers,
            "queries": args.queries,
            "rounds": args.rounds,
            "slow_rounds": args.slow_rounds,
            "calls": args.calls,
            "seed": args.seed,
            "text_bytes": text_bytes,
            "query_mix": "50% listed, 50% valid unlisted",
        },
    }
    with work_folder(args.workdir, args.keep, text_bytes + args.numbers * 8 * 2) as workdir:
        if any(workdir.glob("optout.sqlite3*")) or (workdir / "snapshots").exists():
            raise SystemExit(f"{workdir} holds an earlier run; remove it or pick another")
        start = time.perf_counter()
        plan = Plan.make(args.numbers, args.seed)
        files = write_lists(plan, workdir / "lists")
        results["generate_s"] = time.perf_counter() - start
        size = sum(f.stat().st_size for f in files)
        print(
            f"generated {args.numbers:,} numbers in {len(files)} files ({size / 1e9:.2f} GB) "
            f"in {results['generate_s']:.1f} s"
        )
        queries = make_queries(plan, args.queries, args.seed)

        note_load("import")
        print("importing with us_dnc().import_files in a fresh process ...")
        imp = bench_import(workdir, files)
        results["import"] = imp
        if imp["count"] != args.numbers or imp["rejected"]:
            raise SystemExit(f"imported {imp['count']:,} numbers, {imp['rejected']} rejected")
        print(f"  {imp['seconds']:.1f} s, peak RSS {gib(imp['peak_rss'])}")

        note_load("query processes")
        print("query processes ...")
        results["query_processes"] = bench_query_processes(imp["path"], args.queries, args.seed)

        index = SnapshotIndex(pathlib.Path(imp["path"]))
        note_load("single lookups")
        print("single lookups ...")
        results["single"] = bench_single(
            imp["db_url"], workdir, index, queries, args.calls, args.rounds
        )
        note_load("batch lookups")
        print("batch lookups ...")
        results["batch"] = bench_batches(index, files, queries, args.rounds, args.slow_rounds)
        del index
        note_load("end")
    results["load_average"] = LOAD

    sorted_rate = results["batch"]["contains sorted"]["per_s"]
    results["targets"] = {
        "import seconds": {
            "value": imp["seconds"],
            "target": TARGET_IMPORT_S,
            "met": imp["seconds"] <= TARGET_IMPORT_S,
        },
        "index bytes": {
            "value": imp["index_bytes"],
            "target": TARGET_INDEX_BYTES,
            "met": imp["index_bytes"] <= TARGET_INDEX_BYTES,
        },
        "sorted batch lookups/s": {
            "value": sorted_rate,
            "target": TARGET_SORTED_PER_S,
            "met": sorted_rate >= TARGET_SORTED_PER_S,
        },
    }
    print_summary(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
