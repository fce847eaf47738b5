"""Faults: the database going away or locked, a registry backend blowing up.

Whatever fails, a call is never allowed because of it: the database errors surface as
:class:`optout.DatabaseError`, a broken registry backend as a ``registry.unavailable``
denial. The PostgreSQL tests run on a cluster of their own (stopped and restarted with
``pg_ctl``), so the suite's shared server is never disturbed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import pathlib
import subprocess
import sys
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator, Sequence

import pytest
import sqlalchemy as sa

import optout
from _fakes import NO_RULES, StaticRegistry, all_clear
from _postgres import _run, _server_user_prefix, find_pg_bindir, throwaway_cluster
from optout import _db
from optout.registries import RegistryFact

ROME = zoneinfo.ZoneInfo("Europe/Rome")
TUESDAY_10 = dt.datetime(2026, 11, 24, 10, tzinfo=ROME)
NUMBER = "+390612345678"
WAIT_S = 60.0


# -- PostgreSQL going away --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OwnServer:
    url: str
    stop: Callable[[], None]
    start: Callable[[], None]


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnServer]:
    """A dedicated throwaway cluster this module may stop and start at will."""
    bindir = find_pg_bindir()
    try:
        cluster = throwaway_cluster()
        url = cluster.__enter__()
    except RuntimeError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL server could be started: {exc}")
    assert bindir is not None
    try:
        engine = _db.create_engine(url)
        try:
            with engine.connect() as conn:
                datadir = pathlib.Path(conn.exec_driver_sql("SHOW data_directory").scalar_one())
            _db.upgrade(engine)
        finally:
            engine.dispose()
        prefix = _server_user_prefix()
        folder = datadir.parent

        def pg_ctl(*args: str) -> None:
            done = _run([*prefix, bindir / "pg_ctl", *args], cwd=folder, timeout=WAIT_S)
            assert done.returncode == 0, done.stdout + done.stderr

        # postgresql.conf names the port, so a restart listens where the clients look.
        yield OwnServer(
            url=url,
            stop=lambda: pg_ctl("stop", "-D", str(datadir), "-m", "fast", "-w"),
            start=lambda: pg_ctl(
                "start", "-D", str(datadir), "-l", str(folder / "server.log"), "-w"
            ),
        )
    finally:
        cluster.__exit__(None, None, None)


@dataclasses.dataclass(frozen=True)
class Call:
    began: float
    ended: float
    result: optout.Decision | BaseException


def _caller(client: optout.Compliance, stop: threading.Event, calls: list[Call]) -> None:
    while not stop.is_set():
        began = time.monotonic()
        try:
            result: optout.Decision | BaseException = client.can_call(NUMBER)
        except BaseException as exc:  # anything at all is recorded and judged
            result = exc
        calls.append(Call(began, time.monotonic(), result))
        time.sleep(0.005)


@pytest.mark.postgresql
def test_postgres_stopping_mid_run_raises_then_the_client_recovers(
    own_postgres: OwnServer,
) -> None:
    with optout.Compliance(own_postgres.url, rules=NO_RULES, registries=(), ledger="all") as client:
        assert client.can_call(NUMBER).allowed
        calls: list[Call] = []
        halt = threading.Event()
        caller = threading.Thread(target=_caller, args=(client, halt, calls), daemon=True)
        caller.start()
        try:
            _wait(lambda: len(calls) >= 3, "calls before the stop")
            own_postgres.stop()
            down_since = time.monotonic()
            _wait(lambda: any(c.began > down_since for c in calls[-1:]), "a call while down")
            # The same client, directly: reads and writes all fail loudly.
            for _ in range(3):
                with pytest.raises(optout.DatabaseError):
                    client.can_call(NUMBER)
            with pytest.raises(optout.DatabaseError):
                client.reserve(NUMBER)
            with pytest.raises(optout.DatabaseError):
                client.record_outcome(NUMBER, "no_answer")
            with pytest.raises(optout.DatabaseError):
                client.suppressions.add(NUMBER, reason="while down")
            up_from = time.monotonic()
            own_postgres.start()
            _wait(
                lambda: any(
                    isinstance(c.result, optout.Decision) and c.began > up_from for c in calls
                ),
                "a decision after the restart",
            )
        finally:
            halt.set()
            caller.join(WAIT_S)
        for call in calls:
            assert isinstance(call.result, optout.Decision | optout.DatabaseError), call.result
            if isinstance(call.result, optout.Decision):
                assert call.result.allowed
                assert not (down_since < call.began and call.ended < up_from), call
        assert any(isinstance(c.result, optout.DatabaseError) for c in calls)

        # Recovered: stale pooled connections are replaced, reads and writes work.
        assert client.can_call(NUMBER).allowed
        client.suppressions.add(NUMBER, reason="after the restart")
        assert client.can_call(NUMBER).codes == ("suppression.number",)
        report = client.ledger.verify()
        assert report.ok, report


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {WAIT_S:.0f} s"
        time.sleep(0.01)


# -- SQLite locked by another process -----------------------------------------------------------

_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA locking_mode=EXCLUSIVE")
db.execute("BEGIN EXCLUSIVE")
db.execute("SELECT count(*) FROM sqlite_master").fetchall()
print("locked", flush=True)
sys.stdin.read()  # hold the lock until the parent closes our stdin
"""


def test_sqlite_locked_by_another_process_is_a_clear_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_db, "SQLITE_BUSY_TIMEOUT_S", 0.3)
    path = tmp_path / "optout.sqlite3"
    with optout.Compliance(f"sqlite:///{path}", rules=NO_RULES, registries=()) as client:
        assert client.can_call(NUMBER).allowed
        client.engine.dispose()  # every connection from now on waits 0.3 s at most
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            calls: list[Callable[[], object]] = [
                lambda: client.can_call(NUMBER),
                lambda: client.reserve(NUMBER),
                lambda: client.record_outcome(NUMBER, "no_answer"),
                lambda: client.suppressions.add(NUMBER, reason="while locked"),
            ]
            for call in calls:
                began = time.monotonic()
                with pytest.raises(optout.DatabaseError, match="locked"):
                    call()
                assert time.monotonic() - began < 10
        finally:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(WAIT_S)
            assert holder.stdout is not None
            holder.stdout.close()
        # The lock is gone: the same client works again.
        assert client.can_call(NUMBER).allowed
        client.suppressions.add(NUMBER, reason="after the lock")
        assert client.can_call(NUMBER).codes == ("suppression.number",)


def test_sqlite_file_that_is_not_a_database_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "optout.sqlite3"
    path.write_bytes(b"this is not a SQLite database, " * 200)
    with pytest.raises(optout.DatabaseError, match="not a database"):
        optout.Compliance(f"sqlite:///{path}", rules=NO_RULES, registries=())


# -- a registry backend that raises -------------------------------------------------------------


class ExplodingRegistry(StaticRegistry):
    """A backend with a bug: every lookup raises an exception optout does not know."""

    def facts(self, numbers: Sequence[str], at: dt.datetime) -> list[RegistryFact]:
        raise ZeroDivisionError(f"bug while looking up {len(numbers)} numbers")


def test_a_registry_backend_that_raises_denies_as_unavailable(backend_url: str) -> None:
    backends = [b for b in all_clear() if b.id != "it_rpo"] + [ExplodingRegistry("it_rpo")]
    with optout.Compliance(backend_url, migrate=True, registries=backends) as client:
        decision = client.can_call(NUMBER, at=TUESDAY_10)
        assert not decision.allowed
        assert decision.codes == ("registry.unavailable",)
        assert "ZeroDivisionError" in decision.reasons[0].message
        reservation = client.reserve(NUMBER, at=TUESDAY_10)
        assert not reservation.allowed
        assert reservation.attempt_id is None
        batch = optout.decide_many(client, [NUMBER, "+39 06 1234 5679"], at=TUESDAY_10)
        for i in range(len(batch)):
            assert batch.decision(i).codes == ("registry.unavailable",)
        # The control: with a working backend the same call is allowed.
    with optout.Compliance(backend_url, registries=all_clear()) as client:
        assert client.can_call(NUMBER, at=TUESDAY_10).allowed
        with client.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM attempts")).scalar_one() == 0
