"""Rows written before the cost split keep what is known and gain the rest on reprice."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from flows.ledger import CallContext, build_record, record, select_rows
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


_L0003_ROW = (
    'INSERT INTO usage_records (call_key, created_at, org, "user", recipe, run_id, step, '
    "attempt, key_id, key_version, provider, model, input_tokens, cache_read_tokens, "
    "cache_write_tokens, output_tokens, reasoning_tokens, input_cost_usd, cache_read_cost_usd, "
    "cache_write_cost_usd, output_cost_usd, cost_usd, price_source, latency_ms, outcome) "
    "VALUES ('old', '2026-01-05 10:00:00+00', 'o', 'u', 'r', 'run', 's', 1, 'k', 1, "
    "'anthropic', 'claude-haiku-4-5', 5000, 0, 4000, 100, 0, '0.001', '0', '0.005', '0.0005', "
    "'0.0065', 'genai-prices 0.2.3', 5, 'ok')"
)


def _l0004_keeps_history_and_reprices_one_hour_writes(url: str) -> None:
    engine = create_engine(url)
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "l0003")
            # Written before l0004: 4000 cache writes, all priced at the 5-minute rate.
            connection.execute(text(_L0003_ROW))
        upgrade(engine)

        (old,) = select_rows(engine)
        assert old.cache_write_1h_tokens == 0
        assert old.cost_usd == Decimal("0.0065")
        assert reprice(engine, dry_run=True).changed == 0  # its price stands

        # A call with 1-hour writes, recorded unpriced (say the price file was broken).
        usage = Usage(
            input_tokens=5000,
            cache_write_tokens=4000,
            cache_write_1h_tokens=3000,
            output_tokens=100,
        )
        ctx = CallContext(org="o", user="u", recipe="r", run_id="run2", step="s", attempt=1)
        row = build_record(
            ctx,
            provider="anthropic",
            model="claude-haiku-4-5",
            usage=usage,
            key_id="k",
            key_version=1,
            latency_ms=5,
            cost=None,
        )
        record(engine, row)

        assert reprice(engine).changed == 1

        _, new = select_rows(engine)
        assert new.cache_write_1h_tokens == 3000
        # 1000 × $1.25/M (5-minute) + 3000 × $2/M (1-hour).
        assert new.cache_write_cost_usd == Decimal("0.00725")
        expected = price("anthropic", "claude-haiku-4-5", usage)
        assert expected is not None
        assert new.cost_usd == expected.total_usd
    finally:
        engine.dispose()


def test_l0004_on_sqlite(tmp_path: Path, byok_home: Path) -> None:
    _l0004_keeps_history_and_reprices_one_hour_writes(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_l0004_on_postgresql(postgres_url: str, byok_home: Path) -> None:
    _l0004_keeps_history_and_reprices_one_hour_writes(postgres_url)
