"""Call hooks run around every call in order, and unwind when one refuses."""

from __future__ import annotations

import asyncio

import pytest

from flows.engine.hooks import CallInfo, CallOutcome, RunInfo, call_with_hooks, finish_run
from flows.ledger import CallContext
from flows.recipe import ModelRef
from providers.endpoint import Endpoint
from providers.errors import RateLimitError
from providers.secret import SecretKey
from providers.types import FinishReason, ModelRequest, ModelResponse, Protocol, Usage

CALL = CallInfo(
    context=CallContext(org="o", user="u", recipe="r", run_id="run", step="s", attempt=1),
    model=ModelRef.parse("openai:gpt-5-mini"),
    endpoint=Endpoint.for_protocol(Protocol.OPENAI, SecretKey("k"), key_id="key_1"),
    request=ModelRequest(model="gpt-5-mini", prompt="p"),
)
RESPONSE = ModelResponse(
    text="t",
    usage=Usage(input_tokens=3, output_tokens=2),
    finish_reason=FinishReason.STOP,
    model="gpt-5-mini",
)


class Refused(Exception):
    pass


class Recording:
    def __init__(self, name: str, log: list[str], refuse: bool = False) -> None:
        self.name, self.log, self.refuse = name, log, refuse
        self.outcomes: list[CallOutcome] = []

    async def before_call(self, call: CallInfo) -> None:
        self.log.append(f"before {self.name}")
        if self.refuse:
            raise Refused(self.name)

    async def after_call(self, call: CallInfo, outcome: CallOutcome) -> None:
        self.log.append(f"after {self.name}")
        self.outcomes.append(outcome)

    async def after_run(self, run: RunInfo) -> None:
        self.log.append(f"run {self.name}")


async def test_hooks_nest_around_a_successful_call() -> None:
    log: list[str] = []
    a, b = Recording("a", log), Recording("b", log)

    async def send() -> ModelResponse:
        log.append("send")
        return RESPONSE

    assert await call_with_hooks([a, b], CALL, send) is RESPONSE
    assert log == ["before a", "before b", "send", "after b", "after a"]
    assert a.outcomes[0].usage == RESPONSE.usage
    assert a.outcomes[0].sent


async def test_provider_error_reaches_hooks_with_its_usage_and_propagates() -> None:
    log: list[str] = []
    hook = Recording("a", log)
    error = RateLimitError("429", provider="openai", usage=Usage(input_tokens=5))

    async def send() -> ModelResponse:
        raise error

    with pytest.raises(RateLimitError):
        await call_with_hooks([hook], CALL, send)
    assert hook.outcomes[0].error is error
    assert hook.outcomes[0].usage == Usage(input_tokens=5)


async def test_a_refusing_hook_prevents_the_call_and_unwinds_the_others() -> None:
    log: list[str] = []
    a, b, c = Recording("a", log), Recording("b", log, refuse=True), Recording("c", log)

    async def send() -> ModelResponse:
        log.append("send")
        return RESPONSE

    with pytest.raises(Refused):
        await call_with_hooks([a, b, c], CALL, send)
    assert log == ["before a", "before b", "after a"]
    assert not a.outcomes[0].sent
    assert isinstance(a.outcomes[0].error, Refused)


class RunEnd:
    """A hook whose run end waits for another's to start, and may fail."""

    def __init__(
        self, started: asyncio.Event, waits_for: asyncio.Event | None, *, fails: bool
    ) -> None:
        self.started, self.waits_for, self.fails = started, waits_for, fails
        self.finished = False

    async def before_call(self, call: CallInfo) -> None:
        pass

    async def after_call(self, call: CallInfo, outcome: CallOutcome) -> None:
        pass

    async def after_run(self, run: RunInfo) -> None:
        self.started.set()
        if self.waits_for is not None:
            await self.waits_for.wait()
        if self.fails:
            raise Refused("run end")
        self.finished = True


RUN = RunInfo(org="o", user="u", recipe="r", run_id="run", answered_by={}, error=None)


async def test_run_ends_overlap_and_a_failing_one_does_not_stop_the_others() -> None:
    first, second = asyncio.Event(), asyncio.Event()
    # The ledger's end (last hook, told first) waits until the breaker's end has started:
    # one after the other, this would never finish.
    ledger = RunEnd(first, waits_for=second, fails=False)
    failing = RunEnd(asyncio.Event(), waits_for=None, fails=True)
    breaker = RunEnd(second, waits_for=first, fails=False)
    with pytest.raises(Refused):
        await asyncio.wait_for(finish_run([breaker, failing, ledger], RUN), timeout=10)
    assert ledger.finished
    assert breaker.finished
