"""Budgets in real runs: a call that could exceed is never sent, runs together never overspend.

Runs go through Prefect and the simulator over loopback; what the simulator
received is the proof that a refused call was not made.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prefect.events import Event
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from sqlmodel import Session, select

from flows.budget.book import BudgetBook
from flows.budget.definitions import set_budget
from flows.budget.estimate import prompt_token_bound, worst_case
from flows.budget.events import CALL_REFUSED, THRESHOLD_CROSSED
from flows.budget.models import BudgetReservation, BudgetWindow
from flows.budget.money import charge_pico, usd
from flows.budget.periods import Period
from flows.engine import run_recipe
from flows.ledger import CallContext, select_rows, total_cost
from flows.recipe import Recipe
from providers.simulator import SimulatorServer
from providers.types import ModelRequest, Protocol
from tests.conftest import NO_WAIT
from vault import KeyStore
from vault.db import get_engine, reset_engines

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

CANARY = "canary-b4d9e2-ticket-text"
TICKET = f"I was charged twice {CANARY}"


def _recipe(budget_usd: str | None = None, **second: Any) -> Recipe:
    steps: list[dict[str, Any]] = [
        {
            "id": "extract",
            "model": "anthropic:claude-haiku-4-5",
            "prompt": "Ticket: {{ inputs.ticket }}",
            "max_tokens": 200,
            "fallbacks": ["google:gemini-2.5-flash"],
        }
    ]
    if second:
        steps.append({"id": "reply", "prompt": "Reply to {{ steps.extract.output }}", **second})
    return Recipe.model_validate(
        {
            "name": "budget-test",
            "inputs": {"ticket": {"type": "string"}},
            "steps": steps,
            "budget_usd": budget_usd,
        }
    )


Emitted = Callable[[str], list[Event]]


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emitted]:
    """`emitted(name)`: the events of that name sent so far (none reach the server)."""
    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)

    def named(name: str) -> list[Event]:
        worker.drain()
        client = AssertingEventsClient.last
        assert client is not None
        return [event for event in client.events if name in {event.event, "*"}]

    yield named
    worker.drain()


async def test_a_call_over_the_run_budget_is_never_sent(
    sim: SimulatorServer, keys: dict[Protocol, str], emitted: Emitted
) -> None:
    result = await run_recipe(_recipe("0.000001"), {"ticket": TICKET}, policy=NO_WAIT)

    assert result.state == "FAILED"
    assert sim.requests == ()  # no HTTP call at all: not the primary, not its fallback
    assert result.error is not None
    assert result.error.startswith(
        "step 'extract' (anthropic:claude-haiku-4-5) failed: the run budget of recipe "
        "'budget-test' would be exceeded: limit $0.000001, spent $0.00, this call could cost "
        "up to $"
    )
    assert result.usage == []
    refused = emitted(CALL_REFUSED)
    assert len(refused) == 1
    assert refused[0].resource.id == f"byok.run-budget.{result.run_id}"
    assert refused[0].payload["limit_usd"] == "0.000001"
    assert CANARY not in json.dumps([e.model_dump(mode="json") for e in emitted("*")])


async def test_the_run_budget_counts_what_earlier_steps_spent(
    sim: SimulatorServer, keys: dict[Protocol, str], byok_home: Path
) -> None:
    # The reply may write 100k tokens: up to $0.20 on gpt-5-mini, more than the cap.
    recipe = _recipe("0.01", model="openai:gpt-5-mini", max_tokens=100_000)

    result = await run_recipe(recipe, {"ticket": TICKET}, policy=NO_WAIT)

    assert result.state == "FAILED"
    assert [call.protocol for call in sim.requests] == [Protocol.ANTHROPIC]
    assert [row.step for row in result.usage] == ["extract"]
    spent = result.usage[0].cost_usd
    assert spent is not None
    assert result.error is not None
    assert f"spent ${format(spent, 'f')}" in result.error
    with Session(get_engine()) as session:
        window = session.exec(select(BudgetWindow)).one()
        assert session.exec(select(BudgetReservation)).all() == []
    assert (window.spent_pico, window.reserved_pico) == (charge_pico(spent), 0)
    for part in byok_home.glob("byok.db*"):  # budgets hold numbers and ids, never the ticket
        assert CANARY.encode() not in part.read_bytes(), part.name


async def test_org_budget_thresholds_become_prefect_events(
    sim: SimulatorServer, keys: dict[Protocol, str], emitted: Emitted
) -> None:
    limit = Decimal("0.002")
    set_budget(
        get_engine(), org="default", period=Period.MONTH, limit_usd=limit, thresholds="1,5,50"
    )

    result = await run_recipe(_recipe(), {"ticket": TICKET}, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    cost = result.cost_usd
    assert cost is not None
    expected = max(p for p in (1, 5, 50) if cost * 100 >= p * limit)
    crossed = emitted(THRESHOLD_CROSSED)
    assert [e.payload["threshold_pct"] for e in crossed] == [expected]
    event = crossed[0]
    assert event.resource["byok.org"] == "default"
    assert event.resource.id.startswith("byok.budget.bud_")
    assert Decimal(event.payload["spent_usd"]) == cost
    assert Decimal(event.payload["limit_usd"]) == limit
    assert any(r.id == f"prefect.flow-run.{result.run_id}" for r in event.related)
    assert CANARY not in json.dumps([e.model_dump(mode="json") for e in emitted("*")])


@pytest.fixture
def pg_keys(
    postgres_url: str, byok_home: Path, sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The vault and the ledger on a throwaway PostgreSQL database, keys at the simulator."""
    monkeypatch.setenv("BYOK_DATABASE_URL", postgres_url)
    reset_engines()
    store = KeyStore.open()
    for protocol in Protocol:
        store.add_key(
            org="default",
            provider=protocol.value,
            secret=f"sk-pg-{protocol.value}-0123456789abcdef",
            base_url=sim.base_url(protocol),
        )
    return postgres_url


@pytest.mark.postgres
async def test_concurrent_runs_never_overspend_an_org_budget(pg_keys: str) -> None:
    recipe = Recipe.model_validate(
        {
            "name": "budget-race",
            "inputs": {"ticket": {"type": "string"}},
            "steps": [
                {
                    "id": "only",
                    "model": "anthropic:claude-haiku-4-5",
                    "prompt": "Ticket: {{ inputs.ticket }}",
                    "max_tokens": 50,
                }
            ],
        }
    )
    request = ModelRequest(model="claude-haiku-4-5", prompt=f"Ticket: {TICKET}", max_tokens=50)
    worst = worst_case("anthropic", "claude-haiku-4-5", prompt_token_bound(request), 50)
    assert worst.cost_usd is not None
    # Room for one call in flight plus half of one: whatever the timing, at most a
    # few of the eight runs can be paid for.
    limit = worst.cost_usd * Decimal("1.5")
    engine = get_engine()
    set_budget(engine, org="default", period=Period.DAY, limit_usd=limit)

    results = await asyncio.gather(
        *(run_recipe(recipe, {"ticket": TICKET}, policy=NO_WAIT) for _ in range(8))
    )

    rows = select_rows(engine)
    spent = total_cost(rows) or Decimal(0)
    refused = [r for r in results if r.state == "FAILED"]
    assert spent <= limit
    assert len(rows) == 8 - len(refused)
    assert refused  # the budget really was contended
    for run in refused:
        assert run.error is not None
        assert "the daily budget of org 'default' would be exceeded" in run.error
    book = BudgetBook(engine)
    window = book.find(book.windows_for(_ctx())[0].key)
    assert window is not None
    assert window.reserved_pico == 0
    assert usd(window.spent_pico) == usd(sum(charge_pico(r.cost_usd or Decimal(0)) for r in rows))


def _ctx() -> CallContext:
    return CallContext(org="default", user="local", recipe="r", run_id="x", step="s", attempt=1)
