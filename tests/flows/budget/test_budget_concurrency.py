"""Several processes spending against one budget on PostgreSQL never overspend it together."""

from __future__ import annotations

import multiprocessing
from decimal import Decimal

import pytest

from flows.budget.book import BudgetBook
from flows.budget.definitions import set_budget
from flows.budget.money import limit_pico
from flows.budget.periods import Period
from flows.ledger import CallContext
from tests.flows.budget.spender import spend
from vault.db import get_engine

PROCESSES = 4
CALLS_EACH = 40
LIMIT = Decimal("1.00")


@pytest.mark.postgres
def test_concurrent_processes_cannot_overspend_a_budget(postgres_url: str) -> None:
    engine = get_engine(postgres_url)
    set_budget(engine, org="acme", period=Period.DAY, limit_usd=LIMIT)
    # Real processes with their own connections; the fork server imports the
    # spender once and forks each worker from that clean, single-threaded process.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.flows.budget.spender"])
    start, results = context.Barrier(PROCESSES), context.Queue()
    workers = [
        context.Process(target=spend, args=(postgres_url, seed, CALLS_EACH, start, results))
        for seed in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    charged = [pico for charges, _, _ in outcomes for pico in charges]
    refusals = sum(refused for _, refused, _ in outcomes)
    book = BudgetBook(engine)
    ctx = CallContext(org="acme", user="x", recipe="r", run_id="x", step="s", attempt=1)
    counter = book.find(book.windows_for(ctx)[0].key)
    assert counter is not None
    assert counter.reserved_pico == 0  # every hold was settled
    assert counter.spent_pico == sum(charged)  # no settlement lost or doubled
    assert counter.spent_pico <= limit_pico(LIMIT)
    assert sum(breaches for _, _, breaches in outcomes) == 0
    # The demand was several times the limit, so the budget really was contended.
    assert refusals > 0
    assert len(charged) > PROCESSES
