"""The ``settings`` table (migration 0005) and the number storage marker that moved there."""

from __future__ import annotations

import datetime as dt
import json
import pathlib

import pytest
import sqlalchemy as sa
from alembic import command

import optout
from optout import _db
from optout._ledger_schema import change_log
from optout._privacy import NumberHasher
from optout._schema import settings, suppressions
from optout._settings import (
    ERASURE_KEY,
    NUMBER_STORAGE,
    insert_setting,
    read_setting,
    write_setting,
)

T0 = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
NUMBER = "+390612345678"
HASHER = NumberHasher(bytes(range(32)))
OTHER_KEY = NumberHasher(b"k" * 32)


def _legacy_marker(hasher: NumberHasher) -> str:
    """The payload optout before revision 0005 wrote into change_log (same bytes)."""
    return json.dumps(
        {"numbers": "hmac-sha256", "scheme": "h1", "key_fingerprint": hasher.fingerprint},
        sort_keys=True,
        separators=(",", ":"),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def url_at_0004(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> str:
    """A database migrated only up to revision 0004, as the previous release left it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        server: str = request.getfixturevalue("postgres_server")
        admin = _db.create_engine(server)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("DROP DATABASE IF EXISTS optout_at_0004")
            conn.exec_driver_sql("CREATE DATABASE optout_at_0004")
        admin.dispose()
        url = (
            sa.make_url(server).set(database="optout_at_0004").render_as_string(hide_password=False)
        )
    engine = _db.create_engine(url)
    try:
        _db.upgrade(engine, "0004")
        assert _db.current_revision(engine) == "0004"
    finally:
        engine.dispose()
    return url


def _as_old_hashed_client(url: str, hasher: NumberHasher) -> None:
    """What a hashed client of the previous release stored: the marker row and an entry."""
    engine = _db.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                change_log.insert().values(
                    table_name="settings",
                    row_id=0,
                    action="privacy",
                    actor=None,
                    reason="number storage mode",
                    at=T0,
                    payload=_legacy_marker(hasher),
                )
            )
            conn.execute(
                suppressions.insert().values(
                    kind="number",
                    value=hasher.hash(NUMBER),
                    scope="global",
                    scope_value="",
                    reason="customer_request",
                    source="api",
                    created_at=T0,
                )
            )
    finally:
        engine.dispose()


def _open(url: str, hash_numbers: bool | NumberHasher = False) -> optout.Compliance:
    return optout.Compliance(
        url,
        migrate=True,
        registries=(),
        rules=optout.RuleBook(packs={}, unsupported="allow"),
        hash_numbers=hash_numbers,
    )


def _settings_rows(url: str) -> dict[str, str]:
    engine = _db.create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.select(settings.c.key, settings.c.value)).all())
    finally:
        engine.dispose()


def test_a_hashed_0004_database_keeps_working_after_the_upgrade(url_at_0004: str) -> None:
    _as_old_hashed_client(url_at_0004, HASHER)
    with _open(url_at_0004, hash_numbers=HASHER) as client:
        assert _db.current_revision(client.engine) == _db.head_revision()
        denied = client.can_call(NUMBER, at=T0 + dt.timedelta(hours=1))
        assert denied.codes == ("suppression.number",)
    # The marker was copied as it was, byte for byte.
    assert _settings_rows(url_at_0004) == {NUMBER_STORAGE: _legacy_marker(HASHER)}
    # The same refusals as before the move.
    with pytest.raises(optout.ConfigurationError, match="keyed hashes"):
        _open(url_at_0004)
    with pytest.raises(optout.ConfigurationError, match="another key"):
        _open(url_at_0004, hash_numbers=OTHER_KEY)


def test_a_clear_0004_database_with_numbers_still_refuses_hashing(url_at_0004: str) -> None:
    with _open(url_at_0004) as client:  # migrates to the newest revision
        client.suppressions.add(NUMBER, reason="customer_request", at=T0)
    assert _settings_rows(url_at_0004) == {}  # a clear client records nothing
    with pytest.raises(optout.ConfigurationError, match="already holds phone numbers in clear"):
        _open(url_at_0004, hash_numbers=HASHER)
    with _open(url_at_0004) as client:
        assert not client.can_call(NUMBER, at=T0 + dt.timedelta(hours=1)).allowed


def test_a_new_hashed_database_records_its_mode_in_settings_with_history(
    backend_url: str,
) -> None:
    with _open(backend_url, hash_numbers=HASHER):
        pass
    with _open(backend_url, hash_numbers=HASHER):  # the second opening writes nothing
        pass
    rows = _settings_rows(backend_url)
    assert json.loads(rows[NUMBER_STORAGE]) == {
        "numbers": "hmac-sha256",
        "scheme": "h1",
        "key_fingerprint": HASHER.fingerprint,
    }
    engine = _db.create_engine(backend_url)
    try:
        with engine.connect() as conn:
            history = conn.execute(
                sa.select(change_log).where(change_log.c.table_name == "settings")
            ).all()
    finally:
        engine.dispose()
    assert len(history) == 1
    assert history[0].action == "set"
    assert json.loads(history[0].payload) == {
        "key": NUMBER_STORAGE,
        "value": json.loads(rows[NUMBER_STORAGE]),
    }
    with pytest.raises(optout.ConfigurationError, match="keyed hashes"):
        _open(backend_url)


def test_settings_read_write_and_first_writer_wins(backend_url: str) -> None:
    engine = _db.create_engine(backend_url)
    try:
        _db.upgrade(engine)
        with _db.writing(engine) as conn:
            assert read_setting(conn, "example") is None
            write_setting(conn, "example", {"a": 1}, actor="ann", reason="first")
            write_setting(conn, "example", {"a": 2}, actor="bob", reason="second")
            assert read_setting(conn, "example") == {"a": 2}
            assert insert_setting(conn, "example", {"a": 3}, actor="eve", reason="late") == {"a": 2}
            assert insert_setting(conn, "fresh", [1, 2], actor=None, reason="new") == [1, 2]
        with engine.connect() as conn:
            row = conn.execute(sa.select(settings).where(settings.c.key == "example")).one()
            assert row.updated_by == "bob"
            assert row.updated_at.tzinfo is not None
            history = [
                (r.actor, r.reason, json.loads(r.payload))
                for r in conn.execute(
                    sa.select(change_log)
                    .where(change_log.c.table_name == "settings")
                    .order_by(change_log.c.id)
                )
            ]
        assert history == [
            ("ann", "first", {"key": "example", "value": {"a": 1}}),
            ("bob", "second", {"key": "example", "value": {"a": 2}}),
            (None, "new", {"key": "fresh", "value": [1, 2]}),
        ]
        with engine.begin() as conn:
            conn.execute(
                sa.update(settings).where(settings.c.key == "example").values(value="{broken")
            )
        with engine.connect() as conn, pytest.raises(optout.ConfigurationError, match="damaged"):
            read_setting(conn, "example")
    finally:
        engine.dispose()


def _downgrade(url: str, revision: str) -> None:
    engine = _db.create_engine(url)
    try:
        config = _db._alembic_config()
        with _db.writing(engine) as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def test_downgrade_puts_the_marker_back_and_refuses_after_an_erasure(
    tmp_path: pathlib.Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    with _open(url, hash_numbers=HASHER) as client:  # marker written at revision 0005
        client.suppressions.add(NUMBER, reason="customer_request", at=T0)
    _downgrade(url, "0004")
    engine = _db.create_engine(url)
    try:
        assert "settings" not in sa.inspect(engine).get_table_names()
        with engine.connect() as conn:
            markers = conn.execute(
                sa.select(change_log.c.payload).where(
                    change_log.c.table_name == "settings", change_log.c.action == "privacy"
                )
            ).all()
        assert [json.loads(m.payload)["key_fingerprint"] for m in markers] == [HASHER.fingerprint]
    finally:
        engine.dispose()
    with _open(url, hash_numbers=HASHER) as client:  # up again: the marker comes back
        assert not client.can_call(NUMBER, at=T0 + dt.timedelta(hours=1)).allowed
    with pytest.raises(optout.ConfigurationError, match="keyed hashes"):
        _open(url)
    engine = _db.create_engine(url)
    try:
        with _db.writing(engine) as conn:
            write_setting(
                conn,
                ERASURE_KEY,
                {"scheme": "h1", "key_fingerprint": HASHER.fingerprint},
                actor="test",
                reason="an erasure happened",
            )
    finally:
        engine.dispose()
    with pytest.raises(RuntimeError, match="downgrade is refused"):
        _downgrade(url, "0004")
