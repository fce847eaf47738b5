"""Engines, SQLite settings, schema migration and error translation."""

from __future__ import annotations

import contextlib
import os
import pathlib
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import platformdirs
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

from optout._errors import ConfigurationError, DatabaseError, SchemaError

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration of this version (a test checks it against the migration scripts).
#: Opening a database at this revision reads its version row and imports no Alembic.
HEAD_REVISION = "0007"

__all__ = [
    "ENV_DATABASE_URL",
    "create_engine",
    "current_revision",
    "default_database_url",
    "head_revision",
    "redact_url",
    "translate_errors",
    "upgrade",
    "writing",
]

#: The environment variable that chooses the database when no URL is passed.
ENV_DATABASE_URL = "OPTOUT_DATABASE_URL"

#: How long a SQLite connection waits for a lock before giving up, in seconds.
SQLITE_BUSY_TIMEOUT_S = 30.0


def default_database_url() -> str:
    """``$OPTOUT_DATABASE_URL``, else a SQLite file in the user's data directory.

    On Linux the file is ``~/.local/share/optout/optout.sqlite3`` (``$XDG_DATA_HOME`` is
    honoured); on macOS ``~/Library/Application Support/optout/optout.sqlite3``.
    """
    url = os.environ.get(ENV_DATABASE_URL, "").strip()
    if url:
        return url
    path = platformdirs.user_data_path("optout") / "optout.sqlite3"
    return f"sqlite:///{path}"


def redact_url(url: str | URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "<unparsable URL>"


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise ConfigurationError(f"not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in {"sqlite", "postgresql"}:
        raise ConfigurationError(
            f"unsupported database {backend!r} in {redact_url(parsed)}: use sqlite:// or postgresql://"
        )
    return parsed


def create_engine(url: str) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL, with optout's settings."""
    parsed = _parse(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in {"", ":memory:"} or database.startswith("file::memory:"):
            raise ConfigurationError(
                "an in-memory SQLite database is private to one connection; use a file path"
            )
        path = pathlib.Path(database).expanduser()
        parsed = parsed.set(database=str(path))
        folder = path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the folder {folder} for the SQLite file: {exc.strerror}"
            ) from None
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigurationError(f"cannot use {redact_url(parsed)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        configure_sqlite(engine)
    return engine


_CONFIGURED: weakref.WeakSet[Engine] = weakref.WeakSet()


def configure_sqlite(engine: Engine) -> None:
    """WAL journal, full fsync on commit, a busy timeout, and real BEGIN statements.

    ``synchronous=FULL`` makes every commit durable before it returns, which the
    write-first opt-out promise needs. The pysqlite driver's own transaction handling is
    switched off so that SQLAlchemy emits ``BEGIN`` (or ``BEGIN IMMEDIATE`` when a
    connection asks for it with the ``optout_immediate`` execution option).
    """

    if engine in _CONFIGURED:
        return
    _CONFIGURED.add(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("optout_immediate", False)
        # Straight to the driver: a full SQLAlchemy execution here costs ~25 us per call.
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[sa.Connection]:
    """A connection in a write transaction, committed on success.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock up
    front (waiting up to the busy timeout), so a writer never fails half-way with
    "database is locked" because another connection wrote after it began reading.
    """
    with (
        translate_errors(engine),
        engine.connect().execution_options(optout_immediate=True) as conn,
        conn.begin(),
    ):
        yield conn


@contextlib.contextmanager
def translate_errors(engine: Engine) -> Iterator[None]:
    """Turn driver and SQLAlchemy errors into :class:`optout.DatabaseError`."""
    try:
        yield
    except sa_exc.DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise DatabaseError(f"database error on {redact_url(engine.url)}: {detail}") from exc
    except sa_exc.SQLAlchemyError as exc:
        raise DatabaseError(f"database error on {redact_url(engine.url)}: {exc}") from exc


def _alembic_config() -> Config:
    from alembic.config import Config  # noqa: PLC0415 - only migrations need Alembic

    config = Config()
    config.set_main_option("script_location", "optout:_migrations")
    return config


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def head_revision() -> str:
    """The newest migration this version of optout knows."""
    return HEAD_REVISION


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or ``None`` for an empty database (Alembic's
    version table, read as Alembic reads it)."""
    with translate_errors(engine), engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(found) > 1:
        raise SchemaError(
            f"{redact_url(engine.url)} has several schema revisions ({', '.join(found)}); "
            "optout keeps one line of migrations"
        )
    return found[0] if found else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision``, safely against concurrent upgraders.

    SQLite takes the write lock (``BEGIN IMMEDIATE``) and PostgreSQL an advisory lock
    before the current revision is read, so two processes that start at once on a fresh
    database migrate it exactly once.
    """
    from alembic import command  # noqa: PLC0415 - only migrations need Alembic

    config = _alembic_config()
    with writing(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7301880231)")
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def ensure_schema(engine: Engine, *, migrate: bool) -> None:
    """Check the schema is current; migrate it when ``migrate`` is true."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is not None and current not in _known_revisions():
        raise SchemaError(
            f"{redact_url(engine.url)} is at schema revision {current}, which is newer than "
            f"this version of optout knows ({head}): upgrade the optout package"
        )
    if migrate:
        upgrade(engine)
        return
    found = "has no optout schema" if current is None else f"is at schema revision {current}"
    raise SchemaError(
        f"{redact_url(engine.url)} {found}; optout needs {head}: run 'optout db upgrade'"
    )
