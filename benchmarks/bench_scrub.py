"""Benchmark ``optout scrub`` against the baselines a data engineer would write.

One job, three ways, on the same files: read a CSV lead list, look every number up in a
US-style do-not-call registry of ``--registry`` numbers, write a CSV with the answer.

``optout``
    ``python -m optout scrub leads.csv -o out.csv --country US`` on a SQLite database that
    holds the registry as a snapshot index and a company suppression list: it normalizes
    every number, applies the suppressions, the registry and every rule pack, and writes
    seven decision columns.
``duckdb``
    DuckDB reads the CSV, strips every non-digit, adds the US country code to 10-digit
    numbers, left-joins the registry (a table in a DuckDB database file) and writes the
    rows with a ``listed`` column.
``pandas``
    ``pandas.read_csv``, the same digit clean-up with ``str.replace``, ``Series.isin``
    against the registry keys (a memory-mapped ``.npy`` file), ``DataFrame.to_csv``.

Each run is a fresh process (``python -m optout`` for optout, this script with ``--child``
for the baselines); its wall time, CPU time and peak resident memory (``ru_maxrss``) are
measured from outside with ``os.wait4``. Rounds alternate the order of the tools; optout's
modules are byte-compiled first (see ``byte_compile``). The registry is prepared once for
each tool and not timed (optout: ``RegistryStore.activate``, as an import does; DuckDB: a
table in a database file; pandas: a ``.npy`` file). The lead lists are generated from a seed: one
clean (every number in E.164 form) and one with ``--messy`` of its rows formatted badly
(see ``_synth.MESSY_STYLES``).

Usage::

    python benchmarks/bench_scrub.py                                  # 10M rows, 250M registry
    python benchmarks/bench_scrub.py --rows 1000000 --registry 20000000 --rounds 2
    python benchmarks/bench_scrub.py --workdir DIR --reuse     # run again on the same data
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

import _synth
import numpy as np
from _synth import Plan

import optout

#: The registry's date and the instant decided: a Tuesday, 10:00 in New York.
TAKEN_AT = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
AT = "2026-12-01T15:00:00+00:00"
#: The company's own do-not-call list: this many numbers from the leads.
SUPPRESSED = 20_000
#: Share of the US leads that the registry lists.
LISTED_SHARE = 0.3
#: Targets from the issue (Batch list scrubbing).
TARGET_RATIO = 1.0
TARGET_RSS = 4 * 2**30
TARGET_MESSY = 3.0

DUCKDB_SQL = """
COPY (
  WITH leads AS (
    SELECT *, regexp_replace(phone, '[^0-9]', '', 'g') AS digits
    FROM read_csv($src, all_varchar = true, header = true)
  )
  SELECT leads.* EXCLUDE (digits), (dnc.k IS NOT NULL) AS listed
  FROM leads LEFT JOIN dnc ON dnc.k = TRY_CAST(
    CASE WHEN length(digits) = 10 THEN '1' || digits ELSE digits END AS UBIGINT)
) TO '{dst}' (HEADER, DELIMITER ',')
"""


# -- children -------------------------------------------------------------------------------


def child_duckdb(database: str, src: str, dst: str) -> None:
    import duckdb  # noqa: PLC0415

    con = duckdb.connect(database, read_only=True)
    con.execute(f"SET threads = {os.cpu_count() or 1}")
    con.execute(DUCKDB_SQL.format(dst=dst.replace("'", "''")), {"src": src})
    con.close()


def child_pandas(keys_path: str, src: str, dst: str) -> None:
    import pandas as pd  # noqa: PLC0415

    registry = np.load(keys_path, mmap_mode="r")
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    digits = df["phone"].str.replace(r"\D", "", regex=True)
    digits = digits.where(digits.str.len() != 10, "1" + digits)
    key = pd.to_numeric(digits, errors="coerce").astype("UInt64")
    df["listed"] = key.isin(registry).fillna(False)
    df.to_csv(dst, index=False)


# -- running --------------------------------------------------------------------------------


#: Run by a fresh interpreter: start the command, wait for it, print its resource usage.
#: A child's peak RSS (``ru_maxrss``) starts from its parent's RSS at fork time, so the
#: command must not be forked from this script once it holds gigabytes (the registry keys,
#: the outputs it counts): this small launcher forks it instead.
_LAUNCHER = """
import json, os, subprocess, sys, time
command = json.loads(sys.argv[1])
start = time.perf_counter()
proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps({
    "seconds": time.perf_counter() - start,
    "cpu_seconds": usage.ru_utime + usage.ru_stime,
    "peak_rss": usage.ru_maxrss * 1024,
    "exit": os.waitstatus_to_exitcode(status),
}))
"""


def run_measured(command: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``command``; return wall seconds, CPU seconds and peak RSS (bytes) of the run."""
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, json.dumps(command)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the launcher failed: {done.stderr.strip()[-500:]}")
    got: dict[str, float] = json.loads(done.stdout)
    if got.pop("exit") != 0:
        raise SystemExit(f"{command[:4]}... failed")
    return got


def optout_command(url: str, src: pathlib.Path, dst: pathlib.Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "optout",
        "scrub",
        "--database",
        url,
        str(src),
        "-o",
        str(dst),
        "--country",
        "US",
        "--at",
        AT,
        "--quiet",
    ]


def byte_compile() -> None:
    """Byte-compile optout's modules, as pip does when it installs a package: an editable
    install run with PYTHONDONTWRITEBYTECODE set compiles every module at every start
    (about 0.1 s), which no installed copy does."""
    import compileall  # noqa: PLC0415

    compileall.compile_dir(pathlib.Path(optout.__file__).parent, quiet=1)


def child_command(kind: str, store: str, src: pathlib.Path, dst: pathlib.Path) -> list[str]:
    return [sys.executable, __file__, "--child", kind, store, str(src), str(dst)]


# -- preparing ------------------------------------------------------------------------------


def registry_keys(plan: Plan) -> _synth.U64:
    """Every number the plan lists, area code by area code (unsorted within each)."""
    parts = []
    for area, count in enumerate(plan.counts.tolist()):
        parts.append(
            plan.keys(np.full(count, area, dtype=np.intp), np.arange(count, dtype=np.int64))
        )
    return np.concatenate(parts)


def prepare(workdir: pathlib.Path, args: argparse.Namespace) -> dict[str, Any]:
    """Generate the registry and the lead lists; load the registry into each tool."""
    info: dict[str, Any] = {}
    started = time.perf_counter()
    plan = Plan.make(args.registry, args.seed)
    keys = registry_keys(plan)
    info["registry_numbers"] = len(keys)
    info["registry_generated_seconds"] = time.perf_counter() - started

    db = workdir / "optout.sqlite3"
    url = f"sqlite:///{db}"
    with optout.Compliance(url, snapshot_dir=workdir / "snapshots") as client:
        t0 = time.perf_counter()
        snap = client.registry_store.activate(
            "us_dnc", keys, None, taken_at=TAKEN_AT, source="bench_scrub synthetic list"
        )
        info["optout_index_seconds"] = time.perf_counter() - t0
        info["optout_index_bytes"] = pathlib.Path(snap.path).stat().st_size
    info["url"] = url

    import duckdb  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415

    t0 = time.perf_counter()
    duck = workdir / "registry.duckdb"
    con = duckdb.connect(str(duck))
    con.register("registry_keys", pa.table({"k": keys}))
    con.execute("CREATE TABLE dnc AS SELECT k FROM registry_keys")
    con.close()
    info["duckdb_load_seconds"] = time.perf_counter() - t0
    info["duckdb_bytes"] = duck.stat().st_size
    npy = workdir / "registry.npy"
    np.save(npy, keys)
    del keys

    for label, messy in (("clean", 0.0), ("messy", args.messy)):
        t0 = time.perf_counter()
        leads = _synth.make_leads(plan, args.rows, messy, args.seed + 1, LISTED_SHARE)
        path = workdir / f"leads-{label}.csv"
        size = _synth.write_leads(leads, path, args.seed)
        info[f"leads_{label}"] = {
            "path": str(path),
            "bytes": size,
            "messy_rows": len(leads.messy_rows),
            "listed_us_numbers": int(leads.listed.sum()),
            "generated_seconds": time.perf_counter() - t0,
        }
        if label == "clean":
            suppressed = workdir / "suppressions.csv"
            pick = np.random.default_rng(args.seed + 2).choice(
                len(leads.keys), size=min(SUPPRESSED, len(leads.keys)), replace=False
            )
            with suppressed.open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(["number", "reason"])
                for k in leads.keys[pick].tolist():
                    writer.writerow([f"+{k}", "customer_request"])
            with optout.Compliance(url, snapshot_dir=workdir / "snapshots") as client:
                report = client.suppressions.import_csv(
                    suppressed, reason="customer_request", source="import"
                )
            info["suppressions"] = report.added
    info["stores"] = {"duckdb": str(duck), "pandas": str(npy)}
    return info


# -- checking -------------------------------------------------------------------------------


def count_listed(path: pathlib.Path, column: str, value: str) -> int:
    """Rows of a CSV output whose ``column`` contains ``value`` (read with pyarrow)."""
    import pyarrow.compute as pc  # noqa: PLC0415
    import pyarrow.csv as pacsv  # noqa: PLC0415

    table = pacsv.read_csv(
        str(path),
        convert_options=pacsv.ConvertOptions(include_columns=[column]),
    )
    col = pc.cast(table.column(column), "string")
    return int(pc.sum(pc.match_substring(pc.fill_null(col, ""), value)).as_py() or 0)


# -- the run --------------------------------------------------------------------------------


def bench(workdir: pathlib.Path, info: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    env = {**os.environ, "OPTOUT_SNAPSHOT_DIR": str(workdir / "snapshots")}
    tools = ["optout", "duckdb"] + ([] if args.skip_pandas else ["pandas"])
    for label in ("clean", "messy"):
        src = pathlib.Path(info[f"leads_{label}"]["path"])
        runs: dict[str, list[dict[str, float]]] = {t: [] for t in tools}
        for round_ in range(args.rounds):
            # Odd rounds run the tools in reverse order: no tool always follows another
            # (the one that runs first after the caches were dropped reads cold files).
            for tool in tools if round_ % 2 == 0 else tools[::-1]:
                if tool == "pandas" and round_ >= args.pandas_rounds:
                    continue
                dst = workdir / f"out-{tool}-{label}.csv"
                if tool == "optout":
                    command = optout_command(info["url"], src, dst)
                else:
                    command = child_command(tool, info["stores"][tool], src, dst)
                dst.unlink(missing_ok=True)
                os.sync()  # no write-back of an earlier run's output during this one
                got = run_measured(command, env)
                got["output_bytes"] = dst.stat().st_size
                runs[tool].append(got)
                print(
                    f"[{label}] round {round_ + 1} {tool:7} {got['seconds']:7.2f} s "
                    f"cpu {got['cpu_seconds']:6.1f} s  peak RSS "
                    f"{got['peak_rss'] / 2**30:5.2f} GiB",
                    flush=True,
                )
        summary: dict[str, Any] = {}
        for tool, items in runs.items():
            seconds = statistics.median(r["seconds"] for r in items)
            summary[tool] = {
                "runs": items,
                "median_seconds": seconds,
                "rows_per_second": args.rows / seconds,
                "median_cpu_seconds": statistics.median(r["cpu_seconds"] for r in items),
                "max_peak_rss": max(r["peak_rss"] for r in items),
            }
        summary["ratio_optout_duckdb"] = (
            summary["optout"]["median_seconds"] / summary["duckdb"]["median_seconds"]
        )
        if "pandas" in summary:
            summary["ratio_optout_pandas"] = (
                summary["optout"]["median_seconds"] / summary["pandas"]["median_seconds"]
            )
        summary["listed_rows"] = {
            "optout": count_listed(
                workdir / f"out-optout-{label}.csv", "optout_registry", "us_dnc:listed"
            ),
            "duckdb": count_listed(workdir / f"out-duckdb-{label}.csv", "listed", "true"),
        }
        results[label] = summary
    results["messy_over_clean"] = (
        results["messy"]["optout"]["median_seconds"] / results["clean"]["optout"]["median_seconds"]
    )
    return results


def print_summary(results: dict[str, Any], rows: int) -> None:
    print()
    for label in ("clean", "messy"):
        part = results[label]
        print(f"{label}: median of rounds, {rows:,} rows")
        for tool in ("optout", "duckdb", "pandas"):
            if tool not in part:
                continue
            t = part[tool]
            rss = t["max_peak_rss"] / 2**30
            print(
                f"  {tool:7} {t['median_seconds']:8.2f} s {t['rows_per_second']:12,.0f} rows/s "
                f"cpu {t['median_cpu_seconds']:7.1f} s  peak RSS {rss:5.2f} GiB"
            )
        print(f"  optout / duckdb: {part['ratio_optout_duckdb']:.2f}")
        if "ratio_optout_pandas" in part:
            print(f"  optout / pandas: {part['ratio_optout_pandas']:.2f}")
        print(f"  rows with a listed number: {part['listed_rows']}")
    print(f"optout messy / clean: {results['messy_over_clean']:.2f}")
    rss = max(results[k]["optout"]["max_peak_rss"] for k in ("clean", "messy"))
    print()
    print("targets:")
    for name, value, target, ok in (
        (
            "optout / duckdb (clean)",
            results["clean"]["ratio_optout_duckdb"],
            TARGET_RATIO,
            results["clean"]["ratio_optout_duckdb"] <= TARGET_RATIO,
        ),
        (
            "optout / duckdb (messy)",
            results["messy"]["ratio_optout_duckdb"],
            TARGET_RATIO,
            results["messy"]["ratio_optout_duckdb"] <= TARGET_RATIO,
        ),
        ("optout peak RSS GiB", rss / 2**30, TARGET_RSS / 2**30, rss <= TARGET_RSS),
        (
            "optout messy / clean",
            results["messy_over_clean"],
            TARGET_MESSY,
            results["messy_over_clean"] <= TARGET_MESSY,
        ),
    ):
        print(f"  {name:26} {value:8.2f}  target {target:6.2f}  met={ok}")


@contextlib.contextmanager
def work_folder(given: pathlib.Path | None, keep: bool) -> Iterator[pathlib.Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    folder = pathlib.Path(tempfile.mkdtemp(prefix="optout-bench-scrub-"))
    try:
        yield folder
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="lead rows (10,000,000)")
    parser.add_argument(
        "--registry", type=int, default=250_000_000, help="registry numbers (250,000,000)"
    )
    parser.add_argument("--messy", type=float, default=0.2, help="share of messy rows (0.2)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of each tool (3; 0: only prepare the data)"
    )
    parser.add_argument("--pandas-rounds", type=int, default=1, help="runs of pandas (1)")
    parser.add_argument("--skip-pandas", action="store_true", help="no pandas baseline")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--workdir", type=pathlib.Path, default=None, help="keep data here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --workdir: reuse the data a previous run prepared there (same options)",
    )
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write results here")
    parser.add_argument("--child", nargs=4, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        kind, store, src, dst = args.child
        (child_duckdb if kind == "duckdb" else child_pandas)(store, src, dst)
        return 0
    import duckdb  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415

    machine = _synth.machine_details(pyarrow=pa.__version__, duckdb=duckdb.__version__)
    if not args.skip_pandas:
        import pandas as pd  # noqa: PLC0415

        machine["pandas"] = pd.__version__
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()))
    with work_folder(args.workdir, args.keep) as workdir:
        started = time.perf_counter()
        saved = workdir / "prepared.json"
        if args.reuse and saved.is_file():
            info = json.loads(saved.read_text())
            if (info["rows"], info["registry"], info["messy"], info["seed"]) != (
                args.rows,
                args.registry,
                args.messy,
                args.seed,
            ):
                raise SystemExit(f"{saved} was prepared with other options")
            print(f"reusing the data prepared in {workdir}")
        else:
            info = prepare(workdir, args)
            info |= {"rows": args.rows, "registry": args.registry}
            info |= {"messy": args.messy, "seed": args.seed}
            saved.write_text(json.dumps(info, indent=2) + "\n")
        print(f"prepared in {time.perf_counter() - started:.0f} s: " + json.dumps(info))
        if args.rounds < 1:
            print("--rounds 0: data prepared, nothing timed")
            return 0
        byte_compile()
        load = os.getloadavg()
        results = bench(workdir, info, args)
        results["load_average_before"] = load
        results["load_average_after"] = os.getloadavg()
    print_summary(results, args.rows)
    if args.json is not None:
        payload = {"machine": machine, "args": vars(args) | {"workdir": str(args.workdir)}}
        payload |= {"prepared": info, "results": results}
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
