"""Decision ledger (hash-chained) and the change history of suppressions and consents.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.Column("number", sa.String(128), nullable=True),
        sa.Column("allowed", sa.Boolean(), nullable=True),
        sa.Column("codes", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_ledger_number_decided_at", "ledger", ["number", "decided_at"])
    op.create_table(
        "change_log",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(32), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_index("ix_change_log_row", "change_log", ["table_name", "row_id"])


def downgrade() -> None:
    op.drop_index("ix_change_log_row", table_name="change_log")
    op.drop_table("change_log")
    op.drop_index("ix_ledger_number_decided_at", table_name="ledger")
    op.drop_table("ledger")
