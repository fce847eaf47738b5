"""A covering index for the abandonment count: attempts (campaign, at, outcome).

The count of a campaign's abandoned and live-answered attempts over a period reads only
``campaign``, ``at`` and ``outcome``; with all three in one index it never visits the
table rows (an index-only scan). The new index replaces ``ix_attempts_campaign_at``, of
which it is an extension: every query that used the old one can use it.

Building it reads the whole ``attempts`` table; on PostgreSQL writes to ``attempts`` wait
until it is built.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_attempts_campaign_at_outcome", "attempts", ["campaign", "at", "outcome"])
    op.drop_index("ix_attempts_campaign_at", table_name="attempts")


def downgrade() -> None:
    op.create_index("ix_attempts_campaign_at", "attempts", ["campaign", "at"])
    op.drop_index("ix_attempts_campaign_at_outcome", table_name="attempts")
