"""Budgets: limits users set, per-period counters, reservations of calls in flight.

On the ledger branch because budgets account for the same spend the ledger
records (see flows/budget/models.py).

Revision ID: l0003
Revises: l0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "l0003"
down_revision: str | Sequence[str] | None = "l0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("limit_usd", sa.String(length=40), nullable=False),
        sa.Column("thresholds", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org", "user", "period"),
    )
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budgets_org"), ["org"], unique=False)

    op.create_table(
        "budget_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("budget_id", sa.String(length=40), nullable=True),
        sa.Column("label", sa.String(length=400), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("limit_pico", sa.BigInteger(), nullable=False),
        sa.Column("spent_pico", sa.BigInteger(), nullable=False),
        sa.Column("reserved_pico", sa.BigInteger(), nullable=False),
        sa.Column("thresholds", sa.String(length=100), nullable=False),
        sa.Column("alerted_pct", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("budget_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_budget_windows_budget_id"), ["budget_id"], unique=False
        )

    op.create_table(
        "budget_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("amount_pico", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["window_id"], ["budget_windows.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("budget_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_budget_reservations_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_budget_reservations_window_id"), ["window_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("budget_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_reservations_window_id"))
        batch_op.drop_index(batch_op.f("ix_budget_reservations_expires_at"))
    op.drop_table("budget_reservations")
    with op.batch_alter_table("budget_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_windows_budget_id"))
    op.drop_table("budget_windows")
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budgets_org"))
    op.drop_table("budgets")
