"""Breaker baseline: one row of shared state per provider, model and key.

Revision ID: b0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("breaker",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "circuit_breakers",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("circuit", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.Float(), nullable=False),
        sa.Column("window_calls", sa.Integer(), nullable=False),
        sa.Column("window_failures", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.Float(), nullable=True),
        sa.Column("retry_at", sa.Float(), nullable=True),
        sa.Column("probes_in_flight", sa.Integer(), nullable=False),
        sa.Column("probe_successes", sa.Integer(), nullable=False),
        sa.Column("probe_deadline", sa.Float(), nullable=True),
        sa.Column("times_opened", sa.Integer(), nullable=False),
        sa.Column("last_failure", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "model", "key_id"),
    )


def downgrade() -> None:
    op.drop_table("circuit_breakers")
