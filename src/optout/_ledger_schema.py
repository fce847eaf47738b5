"""Table definitions of the decision ledger and the change history (SQLAlchemy 2 Core).

They live on the same :data:`optout._schema.METADATA` as every other table, so the
migrated-schema test compares them too; migration ``0004`` creates them.
"""

from __future__ import annotations

import sqlalchemy as sa

from optout._schema import METADATA, UTCDateTime

__all__ = ["change_log", "ledger"]

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: One row per recorded decision, plus "checkpoint" rows written by a purge. Rows are
#: hash-chained in id order; see :mod:`optout._ledger` for the exact hash and checks.
ledger = sa.Table(
    "ledger",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    # "decision" or "checkpoint"; derived from the payload (verify checks it).
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    # The decision's checked_at (a checkpoint's recorded_at); derived from the payload.
    sa.Column("decided_at", UTCDateTime(), nullable=False),
    # The decision's E.164 number; NULL for an unparsable number and for checkpoints.
    sa.Column("number", sa.String(128), nullable=True),
    # NULL for checkpoints.
    sa.Column("allowed", sa.Boolean(), nullable=True),
    # The reason codes, comma-separated, in order ("" when allowed).
    sa.Column("codes", sa.Text(), nullable=False),
    # Canonical JSON (sorted keys, no spaces, ASCII): the decision and the call's inputs.
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_ledger_number_decided_at", "number", "decided_at"),
)

#: The history of the suppression and consent tables: every insert, removal and revocation.
change_log = sa.Table(
    "change_log",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(32), nullable=False),
    sa.Column("row_id", sa.BigInteger(), nullable=False),
    # "insert", "remove" or "revoke"
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(200), nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    # Canonical JSON of the row as it was after the change.
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Index("ix_change_log_row", "table_name", "row_id"),
)
