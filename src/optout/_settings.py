"""Database-wide settings: the ``settings`` table, with every change kept in ``change_log``.

A setting is a key and a JSON value. Reading one is a primary-key lookup. Writing one
updates the row (or inserts it) and appends a ``change_log`` row in the same transaction
(``table_name='settings'``, ``row_id=0``, ``action='set'``, the payload
``{"key": ..., "value": ...}``), so the table says what holds now and the change log says
who set what, when and why.

Keys in use:

- ``number_storage``: how the database stores phone numbers (see :mod:`optout._privacy`).
- ``erasure_key``: the fingerprint of the key that hashed the opt-outs of erased numbers
  in a database that otherwise stores numbers in clear (see :mod:`optout._erasure`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from optout._errors import ConfigurationError
from optout._ledger_schema import change_log
from optout._schema import settings
from optout._timeutil import utcnow

__all__ = [
    "ERASURE_KEY",
    "NUMBER_STORAGE",
    "insert_setting",
    "read_setting",
    "write_setting",
]

NUMBER_STORAGE = "number_storage"
ERASURE_KEY = "erasure_key"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def read_setting(conn: sa.Connection, key: str) -> Any | None:
    """The value of ``key`` (parsed JSON), or ``None`` when it was never set.

    Raises:
        ConfigurationError: the stored value is not JSON (the row was damaged by hand).
    """
    text = conn.execute(sa.select(settings.c.value).where(settings.c.key == key)).scalar()
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise ConfigurationError(f"the database setting {key!r} is damaged (not JSON)") from None


def _history(
    conn: sa.Connection, key: str, text: str, actor: str | None, reason: str, at: dt.datetime
) -> None:
    conn.execute(
        change_log.insert().values(
            table_name="settings",
            row_id=0,
            action="set",
            actor=actor,
            reason=reason,
            at=at,
            payload=_json({"key": key, "value": json.loads(text)}),
        )
    )


def write_setting(
    conn: sa.Connection, key: str, value: Any, *, actor: str | None, reason: str
) -> None:
    """Set ``key`` to ``value`` inside the caller's write transaction, with its history."""
    text = _json(value)
    at = utcnow()
    done = conn.execute(
        sa.update(settings)
        .where(settings.c.key == key)
        .values(value=text, updated_at=at, updated_by=actor)
    )
    if done.rowcount == 0:
        conn.execute(settings.insert().values(key=key, value=text, updated_at=at, updated_by=actor))
    _history(conn, key, text, actor, reason, at)


def insert_setting(
    conn: sa.Connection, key: str, value: Any, *, actor: str | None, reason: str
) -> Any:
    """Set ``key`` only if it is not set yet; return the value it holds afterwards.

    Safe against a concurrent first writer on PostgreSQL (``ON CONFLICT DO NOTHING``):
    the loser gets the winner's value back and records no history.
    """
    text = _json(value)
    at = utcnow()
    row = {"key": key, "value": text, "updated_at": at, "updated_by": actor}
    dialect = conn.dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(settings).values(**row).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(settings).values(**row).on_conflict_do_nothing()
    else:  # pragma: no cover - optout supports these two only
        raise ConfigurationError(f"unsupported database {dialect!r}")
    if conn.execute(stmt.returning(settings.c.key)).first() is not None:
        _history(conn, key, text, actor, reason, at)
        return json.loads(text)
    return read_setting(conn, key)
