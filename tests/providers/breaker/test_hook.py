"""The breaker hook around real call sequences: failures open it, it refuses without sending.

The clock is a number the test moves; the database is a real SQLite file;
events go to a list (and, in one test, through Prefect's own events worker).
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prefect.events import Event
from sqlalchemy import text

from flows.engine.hooks import CallHook, CallInfo, CallOutcome, RunInfo, call_with_hooks
from flows.engine.retry import should_fall_back
from flows.ledger import CallContext
from flows.recipe import ModelRef
from providers.breaker import (
    Breaker,
    BreakerKey,
    BreakerPolicy,
    BreakerStore,
    CallResult,
    Circuit,
    CircuitOpenError,
    ConsecutiveFailures,
)
from providers.breaker import events as events_module
from providers.breaker.events import transition_event
from providers.breaker.hook import BreakerHook, classify_outcome
from providers.endpoint import Endpoint
from providers.errors import (
    AuthenticationError,
    InvalidRequestError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ResponseError,
    ServerError,
)
from providers.secret import SecretKey
from providers.types import FinishReason, ModelRequest, ModelResponse, Protocol, Usage
from vault.db import get_engine

SECRET = "sk-canary-breaker-5f3a9c0d7e1b2468"
PROMPT = "canary prompt: the customer's card number is 4111 1111 1111 1111"
KEY_ID = "key_feedc0ffee000001"
POLICY_THRESHOLD = 3
POLICY = BreakerPolicy(trip=ConsecutiveFailures(POLICY_THRESHOLD), cool_down_s=30.0, probes=1)
KEY = BreakerKey("openai", "gpt-5-mini", KEY_ID)
RESPONSE = ModelResponse(
    text="fine",
    usage=Usage(input_tokens=3, output_tokens=1),
    finish_reason=FinishReason.STOP,
    model="gpt-5-mini",
)


def call_info(attempt: int = 1) -> CallInfo:
    return CallInfo(
        context=CallContext("acme", "ann", "triage", "run-1", "reply", attempt),
        model=ModelRef.parse("openai:gpt-5-mini"),
        endpoint=Endpoint.for_protocol(Protocol.OPENAI, SecretKey(SECRET), key_id=KEY_ID),
        request=ModelRequest(model="gpt-5-mini", prompt=PROMPT),
    )


@dataclass
class Clock:
    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Events:
    seen: list[tuple[BreakerKey, Breaker, Breaker]] = field(default_factory=list)

    def __call__(self, key: BreakerKey, before: Breaker, after: Breaker) -> None:
        self.seen.append((key, before, after))

    @property
    def names(self) -> list[str]:
        return [str(transition_event(*seen)["event"]) for seen in self.seen]


@dataclass
class Provider:
    """Stands in for the network: counts sends, fails with the error it is given."""

    error: BaseException | None = None
    sent: int = 0

    async def __call__(self) -> ModelResponse:
        self.sent += 1
        if self.error is not None:
            raise self.error
        return RESPONSE


@pytest.fixture
def store(tmp_path: Path) -> BreakerStore:
    return BreakerStore(get_engine(f"sqlite:///{tmp_path / 'breakers.db'}"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def hook(store: BreakerStore, clock: Clock, events: Events) -> BreakerHook:
    return BreakerHook(policy=POLICY, store=store, clock=clock, emit=events)


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Everything the breaker logs outside a Prefect run, formatted."""
    lines: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("byok.breaker")
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.DEBUG
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def overloaded() -> OverloadedError:
    return OverloadedError("openai is overloaded (HTTP 503)", provider="openai", status=503)


async def attempt(hooks: list[CallHook], provider: Provider) -> BaseException | None:
    try:
        await call_with_hooks(hooks, call_info(), provider)
    except BaseException as error:  # the test inspects whatever was raised
        return error
    return None


async def test_consecutive_failures_open_it_and_it_then_refuses_without_sending(
    hook: BreakerHook, store: BreakerStore, events: Events
) -> None:
    provider = Provider(error=overloaded())
    for _ in range(POLICY_THRESHOLD):
        assert isinstance(await attempt([hook], provider), OverloadedError)
    assert store.read(KEY).circuit is Circuit.OPEN
    assert events.names == ["byok.breaker.opened"]

    refused = await attempt([hook], provider)

    assert isinstance(refused, CircuitOpenError)
    assert provider.sent == POLICY_THRESHOLD  # the refused call never reached the provider
    assert not refused.retryable
    assert should_fall_back(refused)
    assert refused.retry_after_s == pytest.approx(POLICY.cool_down_s)
    assert "openai:gpt-5-mini (key key_feedc0ffee000001) is open" in str(refused)
    assert "3 consecutive failures" in str(refused)
    assert "OverloadedError HTTP 503" in str(refused)
    assert "byok breakers" in str(refused)


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequestError("bad request", provider="openai", status=400),
        AuthenticationError("bad key", provider="openai", status=401),
        QuotaExceededError("no credit", provider="openai", status=429),
        ResponseError("not JSON", provider="openai", status=200),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_errors_that_say_nothing_about_provider_health_never_open_it(
    hook: BreakerHook, store: BreakerStore, error: ProviderError
) -> None:
    provider = Provider(error=error)
    for _ in range(POLICY_THRESHOLD * 3):
        await attempt([hook], provider)
    breaker = store.read(KEY)
    assert breaker.circuit is Circuit.CLOSED
    assert breaker.consecutive_failures == 0
    assert provider.sent == POLICY_THRESHOLD * 3


@pytest.mark.parametrize(
    ("error", "result"),
    [
        (RateLimitError("429", provider="p", status=429), CallResult.FAILURE),
        (OverloadedError("529", provider="p", status=529), CallResult.FAILURE),
        (ServerError("500", provider="p", status=500), CallResult.FAILURE),
        (ProviderConnectionError("dropped", provider="p"), CallResult.FAILURE),
        (InvalidRequestError("400", provider="p", status=400), CallResult.ANSWERED),
        (InvalidRequestError("bad base URL", provider="p"), CallResult.UNKNOWN),
        (RuntimeError("ours"), CallResult.UNKNOWN),
        (None, CallResult.ANSWERED),
    ],
)
def test_outcomes_are_classified_by_what_they_say_about_the_provider(
    error: BaseException | None, result: CallResult
) -> None:
    outcome = CallOutcome(5, response=RESPONSE if error is None else None, error=error)
    assert classify_outcome(outcome) is result
    assert classify_outcome(CallOutcome(0, error=error, sent=False)) is CallResult.UNKNOWN


async def test_after_the_cool_down_one_probe_goes_out_and_its_success_closes_it(
    hook: BreakerHook, store: BreakerStore, clock: Clock, events: Events
) -> None:
    failing = Provider(error=overloaded())
    for _ in range(POLICY_THRESHOLD):
        await attempt([hook], failing)
    clock.now += POLICY.cool_down_s - 1
    assert isinstance(await attempt([hook], Provider()), CircuitOpenError)
    clock.now += 1

    probe = call_info()
    await hook.before_call(probe)  # the probe is out…
    other = BreakerHook(policy=POLICY, store=store, clock=clock, emit=events)  # …another worker
    with pytest.raises(CircuitOpenError, match="half-open"):
        await other.before_call(call_info())
    await hook.after_call(probe, CallOutcome(12, response=RESPONSE))

    assert store.read(KEY).circuit is Circuit.CLOSED
    assert events.names == [
        "byok.breaker.opened",
        "byok.breaker.half-opened",
        "byok.breaker.closed",
    ]
    assert await attempt([other], Provider()) is None


async def test_a_probe_refused_by_a_later_hook_gives_its_slot_back(
    hook: BreakerHook, store: BreakerStore, clock: Clock
) -> None:
    for _ in range(POLICY_THRESHOLD):
        await attempt([hook], Provider(error=overloaded()))
    clock.now += POLICY.cool_down_s

    class OverBudget:
        async def before_call(self, call: CallInfo) -> None:
            raise RuntimeError("over budget")

        async def after_call(self, call: CallInfo, outcome: CallOutcome) -> None:
            raise AssertionError("never entered")

        async def after_run(self, run: RunInfo) -> None:
            pass

    assert isinstance(await attempt([hook, OverBudget()], Provider()), RuntimeError)
    assert store.read(KEY).probes_in_flight == 0
    assert await attempt([hook], Provider()) is None  # the next call may probe
    assert store.read(KEY).circuit is Circuit.CLOSED


async def test_switched_off_it_neither_refuses_nor_writes(
    store: BreakerStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOK_BREAKER", "off")
    hook = BreakerHook(store=store, clock=clock)
    provider = Provider(error=overloaded())
    for _ in range(20):
        await attempt([hook], provider)
    assert provider.sent == 20
    assert store.all() == []


async def test_nothing_it_stores_raises_logs_or_emits_holds_the_key_or_the_prompt(
    hook: BreakerHook,
    store: BreakerStore,
    events: Events,
    tmp_path: Path,
    log_lines: list[str],
) -> None:
    error = ServerError(
        "openai failed (HTTP 500)", provider="openai", status=500, usage=Usage(input_tokens=1)
    )
    for _ in range(POLICY_THRESHOLD):
        await attempt([hook], Provider(error=error))
    refused = await attempt([hook], Provider())
    assert isinstance(refused, CircuitOpenError)

    engine = get_engine(f"sqlite:///{tmp_path / 'breakers.db'}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM circuit_breakers")).all()
    places = {
        "database row": repr(rows),
        "error text": str(refused),
        "error repr": repr(refused),
        "error pickle": pickle.dumps(refused).decode("latin-1"),
        "events": json.dumps([transition_event(*seen) for seen in events.seen], default=str),
        "logs": "\n".join(log_lines),
    }
    assert any("opened" in line for line in log_lines)
    for where, text_ in places.items():
        assert SECRET not in text_, where
        assert "4111" not in text_, where
    assert isinstance(pickle.loads(pickle.dumps(refused)), CircuitOpenError)  # noqa: S301


def test_transitions_go_to_prefects_emit_event_on_the_breaker_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(events_module, "emit_event", lambda **kwargs: sent.append(kwargs))
    before = Breaker(consecutive_failures=2, window_calls=4, window_failures=2)
    after = Breaker(
        circuit=Circuit.OPEN,
        consecutive_failures=3,
        window_calls=5,
        window_failures=3,
        retry_at=1_700_000_030.0,
        times_opened=1,
        reason="3 consecutive failures",
        last_failure="OverloadedError HTTP 503",
    )

    events_module.emit_transition(KEY, before, after)

    (event,) = sent
    Event(**event)  # a valid Prefect event as given
    assert event["event"] == "byok.breaker.opened"
    assert event["resource"]["prefect.resource.id"] == (
        "byok.breaker.openai.gpt-5-mini.key_feedc0ffee000001"
    )
    assert event["resource"]["byok.key-id"] == KEY_ID
    assert event["payload"]["from"] == "closed"
    assert event["payload"]["to"] == "open"
    assert event["payload"]["consecutive_failures"] == 3
    assert event["payload"]["reason"] == "3 consecutive failures"
