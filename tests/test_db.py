"""Databases: URLs, migrations, the default file, engines handed in, clear errors."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import optout
from optout import _db
from optout._schema import METADATA


def test_default_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTOUT_DATABASE_URL", "postgresql://u@db.example/optout")
    assert optout.default_database_url() == "postgresql://u@db.example/optout"


def test_default_url_is_a_file_in_the_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.delenv("OPTOUT_DATABASE_URL")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    url = optout.default_database_url()
    assert url == f"sqlite:///{tmp_path / 'optout' / 'optout.sqlite3'}"
    with optout.Compliance() as client:
        assert client.can_call("+39 06 1234 5678").number == "+390612345678"
    assert (tmp_path / "optout" / "optout.sqlite3").exists()


def test_fresh_sqlite_file_is_created_and_migrated(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "deep" / "er" / "optout.sqlite3"
    with optout.Compliance(f"sqlite:///{path}") as client:
        assert _db.current_revision(client.engine) == _db.head_revision()
        with client.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_migrated_schema_matches_the_table_definitions(backend_url: str) -> None:
    engine = _db.create_engine(backend_url)
    try:
        _db.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    finally:
        engine.dispose()
    assert diff == []


def test_postgresql_is_not_migrated_implicitly(postgres_server: str) -> None:
    admin = _db.create_engine(postgres_server)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS optout_fresh")
        conn.exec_driver_sql("CREATE DATABASE optout_fresh")
    admin.dispose()
    fresh = (
        sa.make_url(postgres_server)
        .set(database="optout_fresh")
        .render_as_string(hide_password=False)
    )
    with pytest.raises(optout.SchemaError, match="optout db upgrade"):
        optout.Compliance(fresh)
    with optout.Compliance(fresh, migrate=True) as client:
        assert client.can_call("+39 06 1234 5678").number == "+390612345678"
    with optout.Compliance(fresh) as client:  # now current: no error
        assert client.can_call("+39 06 1234 5678").number == "+390612345678"


def test_an_engine_handed_in_is_never_disposed(backend_url: str) -> None:
    engine = _db.create_engine(backend_url)
    disposed: list[bool] = []
    sa.event.listen(engine.pool, "close", lambda *_: disposed.append(True))
    try:
        with optout.Compliance(engine=engine) as client:
            client.can_call("+39 06 1234 5678")
        assert client.engine is engine
        assert disposed == []
        with engine.connect() as conn:  # still usable
            assert conn.execute(sa.text("select 1")).scalar() == 1
    finally:
        engine.dispose()


def test_url_and_engine_together_are_refused(backend_url: str) -> None:
    engine = _db.create_engine(backend_url)
    try:
        with pytest.raises(optout.ConfigurationError, match="either"):
            optout.Compliance(backend_url, engine=engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "error", "match"),
    [
        ("not a url", optout.ConfigurationError, "not a database URL"),
        ("mysql://u@h/db", optout.ConfigurationError, "unsupported database"),
        ("sqlite://", optout.ConfigurationError, "in-memory"),
        ("sqlite:///:memory:", optout.ConfigurationError, "in-memory"),
        ("postgresql://nobody@127.0.0.1:1/none", optout.DatabaseError, "database error"),
    ],
)
def test_bad_urls_give_clear_errors(url: str, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        optout.Compliance(url)


def test_passwords_are_hidden_in_errors() -> None:
    with pytest.raises(optout.DatabaseError) as info:
        optout.Compliance("postgresql://u:s3cret@127.0.0.1:1/none")
    assert "s3cret" not in str(info.value)


def test_sqlite_file_in_an_unwritable_place_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(optout.OptoutError):
        optout.Compliance(f"sqlite:///{blocker / 'sub' / 'x.sqlite3'}")


def test_a_newer_schema_is_refused_clearly(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    optout.Compliance(url).close()
    engine = _db.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(optout.SchemaError, match="newer than this version"):
        optout.Compliance(url)


def test_tilde_in_a_sqlite_path_means_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with optout.Compliance("sqlite:///~/data/optout.sqlite3") as client:
        assert client.can_call("+39 06 1234 5678").number == "+390612345678"
    assert (tmp_path / "data" / "optout.sqlite3").exists()


def test_upgrade_is_idempotent_and_concurrent_safe(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    engines = [_db.create_engine(url) for _ in range(3)]
    try:
        for engine in engines:
            _db.upgrade(engine)
        assert {_db.current_revision(e) for e in engines} == {_db.head_revision()}
    finally:
        for engine in engines:
            engine.dispose()


def test_head_revision_is_the_newest_migration_script() -> None:
    """The constant a database's revision is compared with, at every open, is the head of
    the migration scripts."""
    script = ScriptDirectory.from_config(_db._alembic_config())
    assert script.get_current_head() == _db.HEAD_REVISION == _db.head_revision()


def test_opening_a_current_database_imports_no_alembic(tmp_path: pathlib.Path) -> None:
    """A database at the head revision is checked from its version row alone."""
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    optout.Compliance(url).close()
    code = (
        "import sys, optout\n"
        f"optout.Compliance({url!r}).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
