"""Settings: a key/value table; the number storage marker moves there from change_log.

Before this revision the storage mode (clear or keyed hashes, and the key's fingerprint)
was one ``change_log`` row (``table_name='settings'``, ``row_id=0``, ``action='privacy'``).
The upgrade copies the newest such row into ``settings`` under the key
``number_storage``; the old row stays in ``change_log`` as history.

The downgrade writes the marker back into ``change_log`` if it is not there (a database
hashed after this revision would otherwise lose it, and a clear client would read it as
empty), and refuses outright when ``settings`` records an ``erasure_key``: optout before
this revision cannot match the hashed opt-outs of erased numbers, so those people would be
called again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)

_MARKER = {"table_name": "settings", "row_id": 0, "action": "privacy"}

# Lightweight table constructs: the migration must not depend on today's table definitions.
_change_log = sa.table(
    "change_log",
    sa.column("id", sa.BigInteger()),
    sa.column("table_name", sa.String(32)),
    sa.column("row_id", sa.BigInteger()),
    sa.column("action", sa.String(16)),
    sa.column("actor", sa.String(200)),
    sa.column("reason", sa.String(500)),
    sa.column("at", _TS),
    sa.column("payload", sa.Text()),
)
_settings = sa.table(
    "settings",
    sa.column("key", sa.String(64)),
    sa.column("value", sa.Text()),
    sa.column("updated_at", _TS),
    sa.column("updated_by", sa.String(200)),
)


def _is_marker() -> sa.ColumnElement[bool]:
    return sa.and_(*(getattr(_change_log.c, name) == value for name, value in _MARKER.items()))


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=True),
    )
    newest = sa.select(sa.func.max(_change_log.c.id)).where(_is_marker()).scalar_subquery()
    op.get_bind().execute(
        _settings.insert().from_select(
            ["key", "value", "updated_at", "updated_by"],
            sa.select(
                sa.literal("number_storage", sa.String(64)),
                _change_log.c.payload,
                _change_log.c.at,
                _change_log.c.actor,
            ).where(_change_log.c.id == newest),
        )
    )


def downgrade() -> None:
    conn = op.get_bind()
    erased = conn.execute(
        sa.select(_settings.c.key).where(_settings.c.key == "erasure_key")
    ).first()
    if erased is not None:
        raise RuntimeError(
            "this database keeps the opt-outs of erased numbers as keyed hashes; optout "
            "before schema revision 0005 cannot match them, so the downgrade is refused"
        )
    stored = conn.execute(
        sa.select(_settings.c.value, _settings.c.updated_at, _settings.c.updated_by).where(
            _settings.c.key == "number_storage"
        )
    ).first()
    has_marker = conn.execute(sa.select(_change_log.c.id).where(_is_marker()).limit(1)).first()
    if stored is not None and has_marker is None:
        conn.execute(
            _change_log.insert().values(
                **_MARKER,
                actor=stored.updated_by,
                reason="number storage mode",
                at=stored.updated_at,
                payload=stored.value,
            )
        )
    op.drop_table("settings")
