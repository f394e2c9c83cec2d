"""Ledger rows record Anthropic's 1-hour cache writes apart from the 5-minute ones.

A 1-hour cache write costs 2x the base input price, a 5-minute one 1.25x, so
`byok usage reprice` needs the split to recompute a row. The new column is a
subset of `cache_write_tokens`. Rows written before this revision were priced
as if every write were a 5-minute one, and the split was not kept: they get 0,
which matches how they were priced.

Revision ID: l0004
Revises: l0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "l0004"
down_revision: str | Sequence[str] | None = "l0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cache_write_1h_tokens", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_column("cache_write_1h_tokens")
