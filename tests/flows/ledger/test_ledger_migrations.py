"""Rows written before the cost split keep what is known and gain the rest on reprice."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from flows.ledger import select_rows
from flows.ledger.reprice import reprice
from providers.pricing import price
from providers.types import Usage
from vault.migrate import alembic_config, upgrade

_OLD_ROW = (
    'INSERT INTO usage_records (call_key, created_at, org, "user", recipe, run_id, step, '
    "attempt, key_id, key_version, provider, model, input_tokens, cache_read_tokens, "
    "cache_write_tokens, output_tokens, reasoning_tokens, input_cost_usd, output_cost_usd, "
    "cost_usd, price_source, latency_ms, outcome) VALUES (:key, '2026-01-05 10:00:00', 'o', "
    "'u', 'r', 'run', 's', 1, 'k', 1, 'anthropic', 'claude-haiku-4-5', 1000, :cached, 0, 100, "
    "0, :input_cost, '0.0005', :total, 'genai-prices 0.2.3', 5, 'ok')"
)


def test_l0002_splits_what_it_can_and_reprice_fills_the_rest(
    tmp_path: Path, byok_home: Path
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "l0001")
        # Before l0002, input cost included cache reads: 800 × $1/M + 200 × $0.1/M.
        connection.execute(
            text(_OLD_ROW),
            [
                {"key": "plain", "cached": 0, "input_cost": "0.001", "total": "0.0015"},
                {"key": "cached", "cached": 200, "input_cost": "0.00082", "total": "0.00132"},
            ],
        )
    upgrade(engine)

    plain, cached = select_rows(engine)
    assert (plain.input_cost_usd, plain.cache_read_cost_usd, plain.cache_write_cost_usd) == (
        Decimal("0.001"),
        Decimal(0),
        Decimal(0),
    )
    assert cached.cache_read_cost_usd is None  # unknown until repriced
    assert cached.cost_usd == Decimal("0.00132")

    result = reprice(engine)

    cost = price("anthropic", "claude-haiku-4-5", Usage(1000, 200, output_tokens=100))
    assert cost is not None
    _, cached = select_rows(engine)
    assert result.changed == 1
    assert (cached.input_cost_usd, cached.cache_read_cost_usd) == (
        cost.input_usd,
        cost.cache_read_usd,
    )
    assert cached.cost_usd == cost.total_usd == Decimal("0.00132")
    assert cached.repriced_at is not None
