"""Migration 0006: the abandonment count reads one covering index, not the attempts rows."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest
import sqlalchemy as sa
from alembic import command

from optout import _db
from optout._facts import AbandonmentCache

AT = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def _count_statement(engine: sa.Engine) -> tuple[str, object]:
    """The SQL (and parameters) of one uncached campaign count, as the client runs it."""
    seen: list[tuple[str, object]] = []

    def capture(_c: object, _cur: object, statement: str, parameters: object, *_a: object) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            AbandonmentCache(0).counts(conn, "c1", dt.timedelta(days=30), AT)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    (found,) = [s for s in seen if "FROM attempts" in s[0]]
    return found


def test_the_campaign_count_is_an_index_only_scan(backend_url: str) -> None:
    engine = _db.create_engine(backend_url)
    try:
        _db.upgrade(engine)
        statement, parameters = _count_statement(engine)
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                plan = " ".join(
                    row[-1]
                    for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)  # type: ignore[arg-type]
                )
                assert "COVERING INDEX ix_attempts_campaign_at_outcome" in plan
            else:
                # An empty table would be scanned whatever the indexes: forbid that.
                conn.exec_driver_sql("SET enable_seqscan = off")
                conn.exec_driver_sql("SET enable_bitmapscan = off")
                plan = " ".join(
                    row[0]
                    for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)  # type: ignore[arg-type]
                )
                assert "Index Only Scan using ix_attempts_campaign_at_outcome" in plan
    finally:
        engine.dispose()


def _indexes(engine: sa.Engine) -> set[str]:
    return {str(i["name"]) for i in sa.inspect(engine).get_indexes("attempts")}


@pytest.mark.parametrize("rows", [0, 3])
def test_0006_replaces_the_campaign_index_and_downgrades(tmp_path: pathlib.Path, rows: int) -> None:
    engine = _db.create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    config = _db._alembic_config()
    try:
        _db.upgrade(engine, "0005")
        assert "ix_attempts_campaign_at" in _indexes(engine)
        with engine.begin() as conn:
            for i in range(rows):
                conn.exec_driver_sql(
                    "INSERT INTO attempts (number, at, outcome, campaign, purpose, channel, "
                    "technology, recorded_at) VALUES ('+390612345678', '2026-11-24 09:00:00', "
                    f"'abandoned', 'c{i}', 'marketing', 'voice', 'autodialed', "
                    "'2026-11-24 09:00:00')"
                )
        _db.upgrade(engine)
        names = _indexes(engine)
        assert "ix_attempts_campaign_at_outcome" in names
        assert "ix_attempts_campaign_at" not in names
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM attempts").scalar_one() == rows
        with _db.writing(engine) as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0005")
        names = _indexes(engine)
        assert "ix_attempts_campaign_at" in names
        assert "ix_attempts_campaign_at_outcome" not in names
    finally:
        engine.dispose()
