"""``kill -9`` in the middle of writes: what was acknowledged survives, nothing half-done shows.

Each test starts a child process, waits (bounded polling, no fixed sleeps) until the child
is demonstrably in the middle of its work, kills it with SIGKILL, and then checks the
database and the files with a fresh client: acknowledged writes are there, the snapshot in
force is intact, no partial output exists, the ledger verifies, and SQLite's own
``PRAGMA integrity_check`` says ``ok``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pathlib
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import sqlalchemy as sa

import optout
from _fakes import NO_RULES
from optout._cli import main
from optout._registries.us import us_dnc
from optout._schema import attempts, registry_snapshots, suppressions

WORKERS = pathlib.Path(__file__).with_name("_workers.py")
#: A bound against hangs, far above what an idle machine needs.
WAIT_S = 60.0
POLL_S = 0.002
TAKEN_AT = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


class Child:
    """A child process whose stdout lines are read by a thread into a queue."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self, deadline: float) -> str:
        """The next line, waiting at most until ``deadline`` (monotonic)."""
        try:
            got = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no output from the child within {WAIT_S:.0f} s") from None
        if got is None:
            raise AssertionError(f"the child exited early: {self.stderr()}")
        return got

    def kill(self) -> None:
        """SIGKILL, then collect every line it wrote before dying."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=WAIT_S)
        self._reader.join(timeout=WAIT_S)

    def rest(self) -> list[str]:
        out: list[str] = []
        while True:
            try:
                got = self.lines.get_nowait()
            except queue.Empty:
                return out
            if got is not None:
                out.append(got)

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()[-2000:]


@contextlib.contextmanager
def child(argv: Sequence[str], env: dict[str, str] | None = None) -> Iterator[Child]:
    c = Child(argv, env)
    try:
        yield c
    finally:
        c.kill()
        for stream in (c.proc.stdout, c.proc.stderr):
            if stream is not None:
                stream.close()


def _wait_for(condition: Callable[[], bool], c: Child, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if c.proc.poll() is not None:
            raise AssertionError(f"the child ended before {what}: {c.stderr()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {WAIT_S:.0f} s")
        time.sleep(POLL_S)


def _acks_then_kill(c: Child, wanted: int) -> list[list[str]]:
    """Wait for ``ready`` and ``wanted`` acknowledgements, kill, return every ack seen."""
    deadline = time.monotonic() + WAIT_S
    assert c.line(deadline) == "ready"
    acks = [c.line(deadline).split() for _ in range(wanted)]
    c.kill()
    assert c.proc.returncode == -signal.SIGKILL, "the child was not killed mid-loop"
    acks += [line.split() for line in c.rest()]
    assert all(a[0] == "ack" for a in acks), acks
    return acks


def _healthy(url: str) -> None:
    """A fresh client reads and writes, ``optout audit verify`` passes, SQLite checks out."""
    with optout.Compliance(url, rules=NO_RULES, registries=(), ledger="all") as client:
        fresh = "+390699999999"
        assert client.can_call(fresh).allowed
        client.suppressions.add(fresh, reason="after the crash")
        assert client.can_call(fresh).codes == ("suppression.number",)
        report = client.ledger.verify()
        assert report.ok, report
        # What an operator runs after the restart.
        assert main(["audit", "verify", "--database", url]) == 0
        if client.engine.dialect.name == "sqlite":
            path = client.engine.url.database
            assert path is not None
            db = sqlite3.connect(path)
            try:
                assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            finally:
                db.close()


def test_kill_during_suppression_adds_keeps_every_acknowledged_one(backend_url: str) -> None:
    with child([sys.executable, str(WORKERS), "suppress", backend_url]) as c:
        acks = _acks_then_kill(c, wanted=25)
    with optout.Compliance(backend_url, rules=NO_RULES, registries=()) as client:
        with client.engine.connect() as conn:
            stored = {int(r.id): r.value for r in conn.execute(sa.select(suppressions))}
        for _, entry_id, number in acks:
            assert stored.get(int(entry_id)) == number, f"acknowledged entry {entry_id} lost"
        # At most the one add in flight committed without its acknowledgement.
        assert len(stored) - len(acks) in (0, 1)
        for _, _, number in acks:
            assert client.can_call(number).codes == ("suppression.number",)
    _healthy(backend_url)


def test_kill_during_outcomes_keeps_every_acknowledged_one(backend_url: str) -> None:
    with child([sys.executable, str(WORKERS), "outcome", backend_url]) as c:
        acks = _acks_then_kill(c, wanted=25)
    with optout.Compliance(backend_url, rules=NO_RULES, registries=()) as client:
        with client.engine.connect() as conn:
            stored = {int(r.id): r for r in conn.execute(sa.select(attempts))}
            entries = {int(r.id): r.value for r in conn.execute(sa.select(suppressions))}
        for _, attempt_id, number, suppression_id in acks:
            row = stored.get(int(attempt_id))
            assert row is not None, f"acknowledged attempt {attempt_id} lost"
            assert row.number == number
            assert row.outcome is not None
            if suppression_id != "-":
                assert entries.get(int(suppression_id)) == number
                assert client.can_call(number).codes == ("suppression.number",)
        assert len(stored) - len(acks) in (0, 1)
        # The child decided with the ledger on: the chain survived the kill.
        report = client.ledger.verify()
        assert report.ok, report
        assert report.checked >= len(acks)
    _healthy(backend_url)


def _write_us_list(path: pathlib.Path, count: int) -> None:
    keys = 2122000000 + np.arange(count, dtype=np.int64)
    np.random.default_rng(7).shuffle(keys)
    path.write_text("\n".join(map(str, keys.tolist())) + "\n")


def test_kill_during_a_snapshot_import_keeps_the_previous_snapshot(
    backend_url: str, tmp_path: pathlib.Path
) -> None:
    snapshots = tmp_path / "snapshots"
    old_listed, new_only = "+12025550123", "+12122000001"
    small = tmp_path / "small.txt"
    small.write_text("2025550123\n2025550124\n")
    big = tmp_path / "big.txt"
    _write_us_list(big, 2_000_000)
    backend = us_dnc()
    with optout.Compliance(
        backend_url, rules=NO_RULES, registries=[backend], snapshot_dir=snapshots
    ) as client:
        before = backend.import_files([small], taken_at=TAKEN_AT, full_list=True)

    env = {**os.environ, "OPTOUT_SNAPSHOT_DIR": str(snapshots)}
    argv = [sys.executable, "-m", "optout", "registry", "import", "us_dnc", str(big)]
    argv += ["--taken-at", "2026-11-20T00:00:00+00:00", "--database", backend_url]
    folder = snapshots / "us_dnc"
    with child(argv, env) as c:
        # The new index is being written (a hidden temporary file): kill now.
        _wait_for(lambda: any(folder.glob(".us_dnc-*.tmp")), c, "index being written")
        c.kill()
        assert c.proc.returncode == -signal.SIGKILL, "the import finished before the kill"

    at = dt.datetime.now(dt.UTC)
    backend = us_dnc()
    with optout.Compliance(
        backend_url, rules=NO_RULES, registries=[backend], snapshot_dir=snapshots
    ) as client:
        with client.engine.connect() as conn:
            rows = conn.execute(sa.select(registry_snapshots)).all()
        assert [(r.id, r.active) for r in rows] == [(before.id, True)]
        active = client.registry_store.active_snapshot("us_dnc")
        assert active is not None
        assert active.checksum == before.checksum
        listed, clear = backend.facts([old_listed, new_only], at)
        assert (listed.status, clear.status) == ("listed", "clear")
        assert before.version in (listed.evidence or "")
        # Only the killed writer's hidden temporary file may be left beside the index.
        leftovers = {p.name for p in folder.iterdir()} - {pathlib.Path(before.path).name}
        assert all(name.startswith(".") and name.endswith(".tmp") for name in leftovers)
        # A new import works after the crash.
        after = backend.import_files(
            [small], taken_at=TAKEN_AT + dt.timedelta(days=1), full_list=True
        )
        assert client.registry_store.active_snapshot("us_dnc") == after
    _healthy(backend_url)


def test_kill_during_scrub_leaves_no_partial_output(
    backend_url: str, tmp_path: pathlib.Path
) -> None:
    leads = tmp_path / "leads.csv"
    rows = ["id,phone", *(f"{i},+3906{20_000_000 + i}" for i in range(100_000))]
    leads.write_text("\n".join(rows) + "\n")
    work = tmp_path / "out"
    work.mkdir()
    output = work / "scrubbed.csv"
    argv = [sys.executable, "-m", "optout", "scrub", str(leads), "-o", str(output)]
    argv += ["--chunk-rows", "2000", "--quiet", "--database", backend_url]

    def writing() -> bool:
        return any(p.stat().st_size > 0 for p in work.glob(".scrubbed.csv.*.tmp"))

    with child(argv) as c:
        _wait_for(writing, c, "output being written")
        c.kill()
        assert c.proc.returncode == -signal.SIGKILL, "the scrub finished before the kill"
    assert not output.exists(), "a partial output file is visible"
    assert all(p.name.startswith(".") and p.name.endswith(".tmp") for p in work.iterdir())
    _healthy(backend_url)
