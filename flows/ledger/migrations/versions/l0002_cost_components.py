"""Ledger rows gain the deployment, cost by component and a reprice mark.

`input_cost_usd` now means the uncached prompt only, with cache reads and
writes in their own columns. Rows written before this revision priced all
input together: where they had no cache tokens that is already the uncached
prompt, so their cache costs are set to 0; rows with cache tokens keep null
cache costs (the split is unknown) until `byok usage reprice` recomputes them.

Revision ID: l0002
Revises: l0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "l0002"
down_revision: str | Sequence[str] | None = "l0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deployment_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("deployment", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("cache_read_cost_usd", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("cache_write_cost_usd", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("repriced_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE usage_records SET cache_read_cost_usd = '0', cache_write_cost_usd = '0' "
        "WHERE cost_usd IS NOT NULL AND cache_read_tokens = 0 AND cache_write_tokens = 0"
    )


def downgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_column("repriced_at")
        batch_op.drop_column("cache_write_cost_usd")
        batch_op.drop_column("cache_read_cost_usd")
        batch_op.drop_column("deployment")
        batch_op.drop_column("deployment_id")
