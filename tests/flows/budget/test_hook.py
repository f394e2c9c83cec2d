"""The budget hook around single calls: holds released when nothing was billed; errors travel."""

from __future__ import annotations

import pickle
from decimal import Decimal
from pathlib import Path

import pytest

from flows.budget.book import BudgetBook
from flows.budget.definitions import list_budgets, set_budget
from flows.budget.errors import BudgetError, BudgetExceededError, BudgetUnpricedError
from flows.budget.hook import BudgetHook
from flows.budget.periods import Period
from flows.engine.hooks import CallInfo, call_with_hooks
from flows.ledger import CallContext
from flows.recipe import ModelRef
from providers.endpoint import Endpoint
from providers.errors import ProviderConnectionError, ResponseError
from providers.pricing import price
from providers.secret import SecretKey
from providers.types import FinishReason, ModelRequest, ModelResponse, Protocol, Usage
from vault.db import get_engine

USAGE = Usage(input_tokens=120, output_tokens=40)
ZERO = Decimal(0)


def _call(model: str = "openai:gpt-5-mini", provider: str | None = None) -> CallInfo:
    ref = ModelRef.parse(model)
    return CallInfo(
        context=CallContext(org="acme", user="ana", recipe="r", run_id="run", step="s", attempt=1),
        model=ref,
        endpoint=Endpoint.for_protocol(
            Protocol.OPENAI, SecretKey("k"), key_id="key_1", provider=provider or ref.prefix
        ),
        request=ModelRequest(model=ref.model, prompt="hello", max_tokens=100),
    )


def _spent() -> tuple[Decimal, Decimal]:
    (status,) = list_budgets(get_engine(), org="acme")
    return status.spent_usd, status.reserved_usd


@pytest.fixture
def budget(byok_home: Path) -> None:
    set_budget(get_engine(), org="acme", period=Period.MONTH, limit_usd=Decimal(1))


@pytest.mark.usefixtures("budget")
async def test_a_reply_settles_to_its_price() -> None:
    async def send() -> ModelResponse:
        return ModelResponse("t", USAGE, FinishReason.STOP, "gpt-5-mini")

    await call_with_hooks([BudgetHook()], _call(), send)

    cost = price("openai", "gpt-5-mini", USAGE)
    assert cost is not None
    assert _spent() == (cost.total_usd, ZERO)


@pytest.mark.usefixtures("budget")
async def test_an_unusable_reply_is_still_charged() -> None:
    async def send() -> ModelResponse:
        raise ResponseError("bad", provider="openai", error_type="invalid_json", usage=USAGE)

    with pytest.raises(ResponseError):
        await call_with_hooks([BudgetHook()], _call(), send)

    cost = price("openai", "gpt-5-mini", USAGE)
    assert cost is not None
    assert _spent() == (cost.total_usd, ZERO)


@pytest.mark.usefixtures("budget")
async def test_a_failure_without_usage_releases_the_hold() -> None:
    async def send() -> ModelResponse:
        raise ProviderConnectionError("dropped", provider="openai")

    with pytest.raises(ProviderConnectionError):
        await call_with_hooks([BudgetHook()], _call(), send)

    assert _spent() == (ZERO, ZERO)


class _Refuses:
    async def before_call(self, call: CallInfo) -> None:
        raise RuntimeError("breaker open")

    async def after_call(self, call: CallInfo, outcome: object) -> None:
        pass

    async def after_run(self, run: object) -> None:
        pass


@pytest.mark.usefixtures("budget")
async def test_a_call_another_hook_refused_releases_the_hold() -> None:
    async def send() -> ModelResponse:  # pragma: no cover - never sent
        raise AssertionError

    with pytest.raises(RuntimeError):
        await call_with_hooks([BudgetHook(), _Refuses()], _call(), send)

    assert _spent() == (ZERO, ZERO)


@pytest.mark.usefixtures("budget")
async def test_a_model_without_price_cannot_run_under_a_budget() -> None:
    with pytest.raises(BudgetUnpricedError, match=r"add 'ollama:llama3\.2' to your price file"):
        await BudgetHook().before_call(_call("ollama:llama3.2"))


@pytest.mark.usefixtures("budget")
async def test_a_broken_price_file_stops_the_call_with_its_reason(byok_home: Path) -> None:
    (byok_home / "prices.yaml").write_text("openai:gpt-5-mini: {input_mtok: free}\n")

    with pytest.raises(BudgetError, match=r"prices\.yaml"):
        await BudgetHook().before_call(_call())


async def test_without_budgets_nothing_is_written(byok_home: Path) -> None:
    await BudgetHook().before_call(_call("ollama:llama3.2"))  # no budget: no price needed
    book = BudgetBook(get_engine())
    assert book.windows_for(_call().context) == []


def test_budget_errors_survive_pickling() -> None:
    exceeded = BudgetExceededError(
        "the monthly budget of org 'acme'",
        limit_usd=Decimal(1),
        spent_usd=Decimal("0.9"),
        reserved_usd=Decimal(0),
        needed_usd=Decimal("0.2"),
        hint="raise it",
        budget_id="bud_1",
    )
    unpriced = BudgetUnpricedError("b", provider="ollama", model="x")
    for error in (exceeded, unpriced):
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        assert vars(copy) == vars(error)
