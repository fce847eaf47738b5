"""Run the fuzz targets of ``fuzz/targets.py``.

Usage::

    python fuzz/run.py TARGET [--seconds N] [--runs N]     # one target
    python fuzz/run.py --all --seconds-each N               # every target (CI)
    python fuzz/run.py --list                               # the target names
    python fuzz/run.py --replay                             # corpora and crashes, no fuzzing
    python fuzz/run.py --minimize fuzz/crashes/us-crash-... # shrink a finding

The engine is atheris (coverage-guided libFuzzer) when it is importable, otherwise a
hypothesis-based driver over the same targets and corpora (``--engine`` forces one). Each
target reads its seed corpus ``fuzz/corpus/TARGET/``; inputs the fuzzer finds interesting
go to the scratch folder ``fuzz/.work/TARGET/`` (not checked in; ``--merge`` folds them,
minimized, into the seed corpus). Findings are written to ``fuzz/crashes/TARGET-*``.

One summary line per target: ``TARGET: engine=atheris execs=N cov=N ft=N corpus=N
seconds=N findings=N``. The exit status is 1 when anything was found.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import os
import pathlib
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
CRASHES = HERE / "crashes"
WORK = HERE / ".work"
MAX_LEN = 4096

sys.path.insert(0, str(HERE))


def target_names() -> list[str]:
    import targets  # noqa: PLC0415

    return list(targets.TARGETS)


def have_atheris() -> bool:
    try:
        import atheris  # type: ignore[import-untyped]  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


@dataclasses.dataclass
class Result:
    target: str
    engine: str
    execs: int = 0
    cov: int | None = None
    ft: int | None = None
    corpus: int = 0
    seconds: float = 0.0
    findings: list[str] = dataclasses.field(default_factory=list)

    def line(self) -> str:
        cov = "-" if self.cov is None else str(self.cov)
        ft = "-" if self.ft is None else str(self.ft)
        return (
            f"{self.target}: engine={self.engine} execs={self.execs} cov={cov} ft={ft} "
            f"corpus={self.corpus} seconds={self.seconds:.1f} findings={len(self.findings)}"
            + "".join(f"\n  finding: {f}" for f in self.findings)
        )


# -- replay and minimization (no engine needed) ---------------------------------------------


def files_of(target: str) -> list[pathlib.Path]:
    """The seed corpus and the crash files of ``target``."""
    seeds = sorted((CORPUS / target).glob("*")) if (CORPUS / target).is_dir() else []
    crashes = sorted(CRASHES.glob(f"{target}-*")) if CRASHES.is_dir() else []
    return [p for p in [*seeds, *crashes] if p.is_file()]


def target_of(path: pathlib.Path) -> str:
    names = target_names()
    if path.parent.name in names:
        return path.parent.name
    head = path.name.split("-", 1)[0]
    if head in names:
        return head
    raise SystemExit(f"cannot tell the target of {path}; pass --target")


def outcome(target: str, data: bytes) -> str | None:
    """The finding's signature when ``data`` breaks ``target``'s contract, else None."""
    import targets  # noqa: PLC0415

    try:
        targets.TARGETS[target](data)
    except Exception as exc:
        return targets.signature(exc)
    return None


def minimize(target: str, data: bytes, budget: float = 60.0) -> bytes:
    """Delta debugging: the smallest input found that keeps the same signature."""
    wanted = outcome(target, data)
    if wanted is None:
        return data
    deadline = time.monotonic() + budget
    best = data
    chunk = max(1, len(best) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        start, shrunk = 0, False
        while start < len(best) and time.monotonic() < deadline:
            candidate = best[:start] + best[start + chunk :]
            if candidate != best and outcome(target, candidate) == wanted:
                best, shrunk = candidate, True
            else:
                start += chunk
        if not shrunk:
            chunk //= 2
    # Then simplify bytes one at a time (towards "0", then "a").
    for i in range(len(best)):
        for repl in (b"0", b"a"):
            if time.monotonic() > deadline or best[i : i + 1] == repl:
                continue
            candidate = best[:i] + repl + best[i + 1 :]
            if outcome(target, candidate) == wanted:
                best = candidate
                break
    return best


def save_finding(target: str, data: bytes, kind: str = "crash") -> pathlib.Path:
    CRASHES.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    path = CRASHES / f"{target}-{kind}-{digest}"
    path.write_bytes(data)
    return path


def replay(selected: Sequence[str]) -> int:
    failures = 0
    for target in selected:
        for path in files_of(target):
            found = outcome(target, path.read_bytes())
            if found is not None:
                failures += 1
                print(f"{target}: {path.relative_to(HERE)}: {found}")
        print(f"{target}: replayed {len(files_of(target))} files")
    return 1 if failures else 0


# -- atheris ---------------------------------------------------------------------------------

_DONE = re.compile(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)")
_STAT = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)")
_EXECS = re.compile(r"stat::number_of_executed_units: (\d+)")
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


def worker(target: str, argv: list[str]) -> None:
    """Inside the atheris child: instrument optout, then fuzz one target."""
    import atheris  # noqa: PLC0415

    with atheris.instrument_imports(include=["optout"]):
        import targets  # noqa: PLC0415

    if target not in targets.TARGETS:
        raise SystemExit(f"no target {target!r}")
    # Warm-up outside the loop: the shared clients and their databases.
    targets.state().client()
    targets.state().client("US")
    run = targets.run_target

    def one(data: bytes) -> None:
        run(target, data)

    atheris.Setup([sys.argv[0], *argv], one)
    atheris.Fuzz()


def fuzz_atheris(
    target: str, seconds: float, runs: int | None, tolerate: list[str], keep_going: bool
) -> Result:
    result = Result(target, "atheris")
    work = WORK / target
    work.mkdir(parents=True, exist_ok=True)
    CRASHES.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tolerated = list(tolerate)
    while True:
        left = seconds - (time.monotonic() - started)
        if left < 1 and result.execs:
            break
        args = [
            str(work),
            str(CORPUS / target),
            f"-max_total_time={max(1, int(left))}",
            f"-artifact_prefix={CRASHES / target}-",
            f"-max_len={MAX_LEN}",
            "-timeout=30",
            "-rss_limit_mb=4096",
            "-print_final_stats=1",
        ]
        if runs is not None:
            args.append(f"-runs={max(0, runs - result.execs)}")
        env = dict(os.environ, OPTOUT_FUZZ_TOLERATE=",".join(tolerated))
        proc = subprocess.run(
            [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", target, *args],
            capture_output=True,
            text=True,
            errors="replace",
            env=env,
            check=False,
        )
        log = proc.stdout + proc.stderr
        execs = [int(m) for m in _EXECS.findall(log)]
        stats = _DONE.findall(log) or _STAT.findall(log)
        if execs:
            result.execs += execs[-1]
        elif stats:
            result.execs += int(stats[-1][0])
        if stats:
            result.cov = max(result.cov or 0, int(stats[-1][1]))
            result.ft = max(result.ft or 0, int(stats[-1][2]))
            result.corpus = int(stats[-1][3])
        artifacts = [pathlib.Path(a) for a in _ARTIFACT.findall(log)]
        if proc.returncode == 0 and not artifacts:
            break
        if not artifacts:
            tail = "\n".join(log.splitlines()[-30:])
            result.findings.append(f"worker exited {proc.returncode} without an artifact:\n{tail}")
            break
        for artifact in artifacts:
            data = artifact.read_bytes() if artifact.is_file() else b""
            signature = outcome(target, data) or "did not reproduce in-process"
            result.findings.append(f"{signature} ({artifact.name})")
            tolerated.append(signature)
        if not keep_going:
            break
        if runs is not None and result.execs >= runs:
            break
    result.seconds = time.monotonic() - started
    return result


# -- hypothesis fallback -------------------------------------------------------------------


def fuzz_hypothesis(
    target: str, seconds: float, runs: int | None, tolerate: list[str], keep_going: bool
) -> Result:
    """Random and corpus-mutated inputs through hypothesis (no coverage feedback)."""
    import targets  # noqa: PLC0415
    from hypothesis import HealthCheck, Phase, given, settings  # noqa: PLC0415
    from hypothesis import strategies as st  # noqa: PLC0415

    os.environ["OPTOUT_FUZZ_TOLERATE"] = ",".join(tolerate)
    result = Result(target, "hypothesis")
    corpus = [p.read_bytes() for p in files_of(target)] or [b""]
    result.corpus = len(corpus)

    @st.composite
    def mutated(draw: Callable[..., object]) -> bytes:
        data = bytearray(draw(st.sampled_from(corpus)))  # type: ignore[call-overload]
        edits = draw(st.integers(1, 8))
        assert isinstance(edits, int)
        for _ in range(edits):
            at = draw(st.integers(0, len(data)))
            cut = draw(st.integers(0, 8))
            insert = draw(st.binary(max_size=8))
            assert isinstance(at, int)
            assert isinstance(cut, int)
            assert isinstance(insert, bytes)
            data[at : at + cut] = insert
        return bytes(data[:MAX_LEN])

    inputs = st.one_of(st.sampled_from(corpus), mutated(), st.binary(max_size=512))
    failing: list[bytes] = []
    known = set(tolerate)

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
    )
    @given(inputs)
    def check(data: bytes) -> None:
        result.execs += 1
        try:
            targets.TARGETS[target](data)
        except Exception as exc:
            if targets.signature(exc) in known:
                return
            failing.append(data)
            raise

    started = time.monotonic()
    while time.monotonic() - started < seconds and (runs is None or result.execs < runs):
        try:
            check()
        except Exception as exc:  # the shrunk example was run last
            data = failing[-1] if failing else b""
            signature = outcome(target, data) or type(exc).__name__
            path = save_finding(target, data)
            result.findings.append(f"{signature} ({path.name})")
            known.add(signature)
            failing.clear()
            if not keep_going:
                break
    result.seconds = time.monotonic() - started
    return result


# -- command line ------------------------------------------------------------------------------


def merge(target: str) -> None:
    """Fold the scratch corpus into the seed corpus, minimized (atheris ``-merge=1``)."""
    work = WORK / target
    subprocess.run(
        [
            sys.executable,
            str(pathlib.Path(__file__).resolve()),
            "--worker",
            target,
            "-merge=1",
            f"-max_len={MAX_LEN}",
            str(CORPUS / target),
            str(work),
        ],
        check=False,
        capture_output=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["--worker"]:
        worker(args_in[1], args_in[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("target", nargs="?", help="a target name (see --list)")
    parser.add_argument("--all", action="store_true", help="fuzz every target in turn")
    parser.add_argument("--list", action="store_true", help="print the target names")
    parser.add_argument("--replay", action="store_true", help="replay corpora and crashes")
    parser.add_argument("--minimize", type=pathlib.Path, help="shrink a finding file")
    parser.add_argument("--seconds", type=float, default=60.0, help="time for one target")
    parser.add_argument("--seconds-each", type=float, default=5.0, help="time per target (--all)")
    parser.add_argument("--runs", type=int, default=None, help="stop after this many inputs")
    parser.add_argument("--engine", choices=("auto", "atheris", "hypothesis"), default="auto")
    parser.add_argument(
        "--tolerate",
        action="append",
        default=[],
        help="a finding signature to step over (Type@file.py:function); repeatable",
    )
    parser.add_argument(
        "--keep-going", action="store_true", help="after a finding, tolerate it and go on"
    )
    parser.add_argument("--merge", action="store_true", help="merge new inputs into the corpus")
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="targets fuzzed at the same time with --all (default: up to 4)",
    )
    args = parser.parse_args(args_in)

    names = target_names()
    if args.list:
        print("\n".join(names))
        return 0
    if args.minimize is not None:
        target = args.target or target_of(args.minimize)
        data = args.minimize.read_bytes()
        small = minimize(target, data)
        signature = outcome(target, small)
        path = save_finding(target, small, "min")
        print(f"{target}: {len(data)} -> {len(small)} bytes, {signature}, {path}")
        print(repr(small))
        import targets  # noqa: PLC0415

        try:
            targets.TARGETS[target](small)
        except Exception:
            traceback.print_exc()
        return 0
    if args.all:
        selected, seconds = names, args.seconds_each
    elif args.target in names:
        selected, seconds = [args.target], args.seconds
    elif args.replay:
        selected, seconds = names, 0.0
    else:
        parser.error(f"pass a target ({', '.join(names)}), --all, --list or --replay")
    if args.replay:
        return replay(selected)

    engine = args.engine
    if engine == "auto":
        engine = "atheris" if have_atheris() else "hypothesis"
    elif engine == "atheris" and not have_atheris():
        parser.error("atheris is not installed (pip install atheris)")
    fuzz = fuzz_atheris if engine == "atheris" else fuzz_hypothesis
    found = 0
    total = Result("total", engine)
    started = time.monotonic()

    def one(target: str) -> Result:
        return fuzz(target, seconds, args.runs, args.tolerate, args.keep_going)

    if engine == "atheris" and args.jobs > 1 and len(selected) > 1:
        # Each atheris target runs in its own process: run several at once.
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(one, selected))
    else:
        results = [one(target) for target in selected]
    for result in results:
        target = result.target
        print(result.line(), flush=True)
        if args.merge and engine == "atheris":
            merge(target)
        found += len(result.findings)
        total.execs += result.execs
        total.seconds += result.seconds
        total.findings += result.findings
    if len(selected) > 1:
        print(
            f"total: engine={engine} targets={len(selected)} execs={total.execs} "
            f"seconds={total.seconds:.1f} wall={time.monotonic() - started:.1f} findings={found}"
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
