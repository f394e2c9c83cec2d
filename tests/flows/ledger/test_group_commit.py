"""Calls finishing together share a ledger transaction; each row is still committed once.

Real SQLite files; the rows are what the ledger hook writes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from flows.ledger import CallContext, UsageRecord, build_record
from flows.ledger.group_commit import write_row
from flows.ledger.recorder import row_values
from providers.types import Usage
from vault.db import get_engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return get_engine(f"sqlite:///{tmp_path / 'ledger.db'}")


def row(step: str) -> dict[str, object]:
    return row_values(
        build_record(
            CallContext("acme", "ann", "triage", "run-1", step, 1),
            provider="openai",
            model="gpt-5-mini",
            usage=Usage(input_tokens=10, output_tokens=5),
            key_id="key_1",
            key_version=1,
            latency_ms=3,
        )
    )


def rows_in(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(UsageRecord)).scalar_one())


async def test_parallel_calls_are_each_recorded_exactly_once(engine: Engine) -> None:
    steps = [f"s{i}" for i in range(40)]

    await asyncio.gather(*(write_row(engine, row(step)) for step in steps))
    await asyncio.gather(*(write_row(engine, row(step)) for step in steps[:10]))  # written again

    assert rows_in(engine) == 40


async def test_a_row_is_committed_when_its_write_returns(engine: Engine) -> None:
    async def call(step: str) -> int:
        await write_row(engine, row(step))
        with engine.connect() as conn:  # another connection sees it: committed
            statement = select(func.count()).where(UsageRecord.step == step)  # type: ignore[arg-type]
            return int(conn.execute(statement).scalar_one())

    assert await asyncio.gather(*(call(f"s{i}") for i in range(10))) == [1] * 10


async def test_a_row_that_cannot_be_written_fails_only_its_own_call(engine: Engine) -> None:
    bad = row("bad") | {"provider": None}  # NOT NULL: the database refuses it

    results = await asyncio.gather(
        write_row(engine, row("a")),
        write_row(engine, bad),
        write_row(engine, row("b")),
        return_exceptions=True,
    )

    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], Exception)
    assert rows_in(engine) == 2


@pytest.mark.postgres
async def test_on_postgresql_lone_rows_batches_and_a_bad_row(postgres_url: str) -> None:
    engine = get_engine(postgres_url)
    for step in ("a", "b", "a"):  # one at a time: each its own one-statement transaction
        await write_row(engine, row(step))
    results = await asyncio.gather(
        *(write_row(engine, row(step)) for step in ("c", "d", "b")),
        write_row(engine, row("bad") | {"provider": None}),
        return_exceptions=True,
    )

    assert results[:3] == [None, None, None]
    assert isinstance(results[3], Exception)
    assert rows_in(engine) == 4
    with engine.connect() as conn:  # a pooled connection is handed out transactional again
        conn.execute(select(1))
        assert conn.in_transaction()
        assert conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
