"""Table definitions (SQLAlchemy 2 Core).

The Alembic migrations in ``optout/_migrations`` create these tables; a test checks that
the migrated schema matches this metadata, so the two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["METADATA", "UTCDateTime", "attempts", "suppressions"]

METADATA = sa.MetaData()


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware datetime stored as UTC.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are stored as
    naive UTC text (which sorts correctly) and come back with ``tzinfo=UTC``.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

suppressions = sa.Table(
    "suppressions",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    # "number" (an E.164 number) or "prefix" (an E.164 prefix such as "+1212").
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("value", sa.String(128), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    # The brand, campaign or channel the entry is limited to; "" for global entries.
    sa.Column("scope_value", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("removed_at", UTCDateTime(), nullable=True),
    sa.Column("removed_by", sa.String(200), nullable=True),
    sa.Column("removed_reason", sa.String(500), nullable=True),
    sa.Index("ix_suppressions_value", "value"),
)

attempts = sa.Table(
    "attempts",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(128), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("raw_code", sa.String(64), nullable=True),
    sa.Column("campaign", sa.String(200), nullable=True),
    sa.Column("brand", sa.String(200), nullable=True),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("technology", sa.String(32), nullable=False),
    sa.Column("person", sa.String(200), nullable=True),
    sa.Column("actor", sa.String(200), nullable=True),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Index("ix_attempts_number_at", "number", "at"),
)
