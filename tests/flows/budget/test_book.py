"""Reserving, settling and releasing against budgets: the rules a user relies on, on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from flows.budget.book import BudgetBook, Hold
from flows.budget.definitions import list_budgets, set_budget
from flows.budget.errors import BudgetExceededError
from flows.budget.money import charge_pico, usd
from flows.budget.periods import Period
from flows.ledger import CallContext, build_record, record
from providers.types import Usage
from vault.db import get_engine

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ZERO = Decimal(0)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _ctx(user: str = "ana", run: str = "run-1", cap: str | None = None) -> CallContext:
    return CallContext(
        org="acme",
        user=user,
        recipe="triage",
        run_id=run,
        step="s",
        attempt=1,
        run_budget_usd=None if cap is None else Decimal(cap),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def book(byok_home: Path, clock: Clock) -> BudgetBook:
    return BudgetBook(get_engine(), clock=clock, ttl=timedelta(minutes=10))


def _org_budget(limit: str, thresholds: str = "80,100", user: str = "") -> None:
    set_budget(
        get_engine(),
        org="acme",
        user=user,
        period=Period.MONTH,
        limit_usd=Decimal(limit),
        thresholds=thresholds,
    )


def _reserve(book: BudgetBook, amount: str, ctx: CallContext | None = None) -> Hold:
    return book.reserve(book.windows_for(ctx or _ctx()), Decimal(amount))


def _numbers(book: BudgetBook, hold: Hold) -> list[tuple[Decimal, Decimal]]:
    return [(usd(w.spent_pico), usd(w.reserved_pico)) for w in map(book.window, hold.windows)]


def test_a_hold_becomes_the_actual_cost(book: BudgetBook) -> None:
    _org_budget("1.00")
    hold = _reserve(book, "0.30")
    assert _numbers(book, hold) == [(ZERO, Decimal("0.3"))]

    book.settle(hold, Decimal("0.0123"))

    assert _numbers(book, hold) == [(Decimal("0.0123"), ZERO)]


def test_a_release_gives_everything_back(book: BudgetBook) -> None:
    _org_budget("1.00")
    hold = _reserve(book, "0.30")
    book.release(hold)
    assert _numbers(book, hold) == [(ZERO, ZERO)]


def test_a_call_that_could_exceed_is_refused_with_limit_and_spend(book: BudgetBook) -> None:
    _org_budget("1.00")
    book.settle(_reserve(book, "0.70"), Decimal("0.65"))
    _reserve(book, "0.20")  # in flight

    with pytest.raises(BudgetExceededError) as refused:
        _reserve(book, "0.16")

    message = str(refused.value)
    assert message.startswith("the monthly budget of org 'acme' would be exceeded")
    assert "limit $1.00" in message
    assert "spent $0.65" in message
    assert "+$0.20 held by calls in flight" in message
    assert "up to $0.16" in message
    assert "byok budgets set --org acme --period month" in message
    assert _reserve(book, "0.15") is not None  # exactly up to the limit is allowed


def test_a_refusal_by_one_budget_holds_nothing_in_the_others(book: BudgetBook) -> None:
    _org_budget("10.00")
    _org_budget("0.50", user="ana")
    org_window = _reserve(book, "0.01", _ctx(user="bo")).windows[0]  # bo: the org budget only

    with pytest.raises(BudgetExceededError, match="user 'ana' of org 'acme'"):
        _reserve(book, "0.60", _ctx(user="ana"))

    assert book.window(org_window).reserved_pico == charge_pico(Decimal("0.01"))


def test_the_run_cap_applies_to_its_run_only(book: BudgetBook) -> None:
    _reserve(book, "0.09", _ctx(run="a", cap="0.10"))
    with pytest.raises(BudgetExceededError, match="the run budget of recipe 'triage'"):
        _reserve(book, "0.02", _ctx(run="a", cap="0.10"))
    assert _reserve(book, "0.02", _ctx(run="b", cap="0.10")) is not None


def test_thresholds_are_announced_once_each(book: BudgetBook) -> None:
    _org_budget("1.00", thresholds="50,80,100")

    crossed = [
        [c.threshold_pct for c in book.settle(_reserve(book, spend), Decimal(spend))]
        for spend in ("0.3", "0.25", "0.1", "0.2", "0.15")
    ]

    assert crossed == [[], [50], [], [80], [100]]


def test_a_reservation_of_a_dead_process_expires(book: BudgetBook, clock: Clock) -> None:
    _org_budget("1.00")
    _reserve(book, "0.90")  # its process dies: never settled
    with pytest.raises(BudgetExceededError):
        _reserve(book, "0.20")

    clock.now += timedelta(minutes=11)
    hold = _reserve(book, "0.20")

    assert _numbers(book, hold) == [(ZERO, Decimal("0.2"))]


def test_a_new_month_starts_from_zero(book: BudgetBook, clock: Clock) -> None:
    _org_budget("1.00")
    book.settle(_reserve(book, "0.9"), Decimal("0.9"))

    clock.now = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    hold = _reserve(book, "0.9")

    assert _numbers(book, hold) == [(ZERO, Decimal("0.9"))]


def test_a_budget_set_mid_month_counts_the_months_ledger(book: BudgetBook) -> None:
    engine = get_engine()
    costs = []
    for n, (user, at) in enumerate(
        [("ana", START - timedelta(days=1)), ("bo", START), ("ana", START - timedelta(days=40))]
    ):
        ctx = CallContext(org="acme", user=user, recipe="r", run_id=f"r{n}", step="s", attempt=1)
        row = build_record(
            ctx,
            provider="openai",
            model="gpt-5-mini",
            usage=Usage(input_tokens=10_000 * (n + 1), output_tokens=999),
            key_id="k",
            key_version=1,
            latency_ms=1,
            at=at,
        )
        record(engine, row)
        costs.append(row.cost_usd or Decimal(0))
    _org_budget("5.00")
    _org_budget("5.00", user="ana")

    hold = _reserve(book, "0.01")
    windows = {w.user: w for w in map(book.window, hold.windows)}
    statuses = {s.budget.user: s for s in list_budgets(engine, clock=lambda: START)}

    # This month: ana's first call and bo's; last month's call does not count.
    assert windows[""].spent_pico == charge_pico(costs[0] + costs[1])
    assert windows["ana"].spent_pico == charge_pico(costs[0])
    assert statuses[""].spent_usd == usd(charge_pico(costs[0] + costs[1]))
    assert statuses["ana"].spent_usd == usd(charge_pico(costs[0]))


def test_changing_a_limit_applies_to_the_period_in_progress(book: BudgetBook) -> None:
    _org_budget("1.00")
    book.settle(_reserve(book, "0.5"), Decimal("0.5"))
    with pytest.raises(BudgetExceededError):
        _reserve(book, "0.6")

    _org_budget("2.00")

    assert _reserve(book, "0.6") is not None
