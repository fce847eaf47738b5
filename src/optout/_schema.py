"""Table definitions (SQLAlchemy 2 Core).

The Alembic migrations in ``optout/_migrations`` create these tables; a test checks that
the migrated schema matches this metadata, so the two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "METADATA",
    "UTCDateTime",
    "attempts",
    "blackouts",
    "consents",
    "registrations",
    "registry_answers",
    "registry_consultations",
    "registry_snapshots",
    "settings",
    "suppressions",
]

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
    # NULL while the attempt is reserved and its outcome not yet recorded.
    sa.Column("outcome", sa.String(32), nullable=True),
    sa.Column("raw_code", sa.String(64), nullable=True),
    sa.Column("campaign", sa.String(200), nullable=True),
    sa.Column("brand", sa.String(200), nullable=True),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("technology", sa.String(32), nullable=False),
    sa.Column("person", sa.String(200), nullable=True),
    sa.Column("actor", sa.String(200), nullable=True),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Column("debt", sa.String(200), nullable=True),
    sa.Column("subject", sa.String(200), nullable=True),
    sa.Column("outcome_at", UTCDateTime(), nullable=True),
    sa.Index("ix_attempts_number_at", "number", "at"),
    sa.Index("ix_attempts_person_at", "person", "at"),
    # Covers the abandonment count (campaign = ?, at in a period, outcome read): migration 0006.
    sa.Index("ix_attempts_campaign_at_outcome", "campaign", "at", "outcome"),
)

consents = sa.Table(
    "consents",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(128), nullable=False),
    sa.Column("person", sa.String(200), nullable=True),
    # express, express_written, contract, ebr_purchase, ebr_inquiry
    sa.Column("kind", sa.String(32), nullable=False),
    # Comma-separated purposes / channels; NULL means every one.
    sa.Column("purposes", sa.String(200), nullable=True),
    sa.Column("channels", sa.String(64), nullable=True),
    sa.Column("brand", sa.String(200), nullable=True),
    sa.Column("given_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("proof", sa.String(500), nullable=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_by", sa.String(200), nullable=True),
    sa.Column("revoke_reason", sa.String(500), nullable=True),
    # Comma-separated ConsentScope values (e.g. "outside_hours"); NULL: none. Migration 0007.
    sa.Column("scopes", sa.String(200), nullable=True),
    # Comma-separated Sector values the consent is specific to; NULL: not specific.
    sa.Column("sectors", sa.String(200), nullable=True),
    sa.Index("ix_consents_number", "number"),
    sa.Index("ix_consents_person", "person"),
)

registrations = sa.Table(
    "registrations",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    # A registry id such as "it_rpo", "us_dnc", "gb_tps".
    sa.Column("registry", sa.String(32), nullable=False),
    sa.Column("number", sa.String(128), nullable=False),
    sa.Column("registered_at", UTCDateTime(), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("reference", sa.String(200), nullable=True),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Index("ix_registrations_number", "number", "registry"),
)

# Declared no-call periods (states of emergency, ad-hoc no-call days): migration 0007.
blackouts = sa.Table(
    "blackouts",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    # A jurisdiction id: "US-NY", "US", "IT".
    sa.Column("area", sa.String(16), nullable=False),
    # emergency | no_call_day
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("first_day", sa.Date(), nullable=False),
    # NULL: until ended.
    sa.Column("last_day", sa.Date(), nullable=True),
    # Comma-separated purposes; NULL: every purpose.
    sa.Column("purposes", sa.String(200), nullable=True),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("reference", sa.String(200), nullable=True),
    sa.Column("actor", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_blackouts_area", "area"),
)

registry_snapshots = sa.Table(
    "registry_snapshots",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("registry", sa.String(32), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    # The date of the list itself (the registry's download or publication date).
    sa.Column("taken_at", UTCDateTime(), nullable=False),
    sa.Column("imported_at", UTCDateTime(), nullable=False),
    sa.Column("source", sa.String(1000), nullable=False),
    sa.Column("count", sa.BigInteger(), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("path", sa.String(1000), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("rejected", sa.BigInteger(), nullable=False),
    sa.Index("ix_registry_snapshots_registry", "registry", "active"),
)

registry_answers = sa.Table(
    "registry_answers",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("registry", sa.String(32), nullable=False),
    sa.Column("number", sa.String(128), nullable=False),
    # "listed" or "clear"
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("registered_at", UTCDateTime(), nullable=True),
    sa.Column("checked_at", UTCDateTime(), nullable=False),
    sa.Column("valid_until", UTCDateTime(), nullable=True),
    # Consultation id, snapshot version or signature: the proof of this answer.
    sa.Column("evidence", sa.String(2000), nullable=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Index("ix_registry_answers_lookup", "number", "registry", "checked_at"),
)

registry_consultations = sa.Table(
    "registry_consultations",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("registry", sa.String(32), nullable=False),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("submitted_at", UTCDateTime(), nullable=True),
    sa.Column("checked_at", UTCDateTime(), nullable=False),
    sa.Column("submitted", sa.BigInteger(), nullable=False),
    sa.Column("listed", sa.BigInteger(), nullable=False),
    sa.Column("clear", sa.BigInteger(), nullable=False),
    sa.Column("source", sa.String(1000), nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Index("ix_registry_consultations_registry", "registry", "checked_at"),
)

#: Database-wide settings, one row per key; ``value`` is canonical JSON. Every change is
#: also recorded in ``change_log`` (table ``settings``, action ``set``). Keys in use:
#: ``number_storage`` (clear or keyed hashes, and the key's fingerprint) and
#: ``erasure_key`` (the fingerprint of the key that hashed the opt-outs of erased numbers).
settings = sa.Table(
    "settings",
    METADATA,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=True),
)
