"""Retry decisions and waits, as numbers: backoff, jitter, the provider's hint, the cap.

Prefect waits for real between attempts, so the suite runs with zero delays;
the delays themselves are checked here, computed from real provider errors
(the simulator's 429 with Retry-After) on the very task object a step runs.
"""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import cast

import pytest
from prefect.client.schemas.objects import TaskRun
from prefect.states import Failed

from flows.engine.retry import DEFAULT_RETRY_POLICY, RetryPolicy, should_fall_back
from flows.engine.step import StepTasks, build_step_task
from flows.recipe import ModelRef, Step
from providers.breaker import CircuitOpenError
from providers.client import ProviderClient
from providers.endpoint import Endpoint
from providers.errors import (
    AuthenticationError,
    InvalidRequestError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from providers.secret import SecretKey
from providers.simulator import Fault, SimulatorServer
from providers.types import ModelRequest, Protocol


def expected_delay(policy: RetryPolicy, attempt: int, u: float, hint: float | None) -> float:
    """The documented formula, written out independently of the implementation."""
    backoff = policy.base_delay_s
    for _ in range(attempt - 1):
        backoff = min(backoff * 2, policy.max_delay_s)
    wait = min(backoff, policy.max_delay_s) * (1 - policy.jitter_factor * u)
    if hint is not None and hint > wait:
        wait = hint
    return min(wait, policy.max_delay_s)


@pytest.mark.parametrize("u", [0.0, 0.37, 0.999])
@pytest.mark.parametrize("hint", [None, 0.0, 3.0, 45.0, 600.0])
def test_delay_is_jittered_exponential_backoff_raised_to_the_hint_and_capped(
    u: float, hint: float | None
) -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=40.0, jitter_factor=0.5, random=lambda: u)
    for attempt in range(1, 12):
        assert policy.delay_for(attempt, hint) == pytest.approx(
            expected_delay(policy, attempt, u, hint)
        )


def test_jitter_spreads_waits_within_the_documented_band() -> None:
    rng = random.Random(5)
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=60.0, jitter_factor=0.5, random=rng.random)
    waits = [policy.delay_for(3, None) for _ in range(2000)]
    backoff = policy.backoff(3)
    assert backoff == 4.0
    assert all(backoff * 0.5 < w <= backoff for w in waits)
    assert max(waits) - min(waits) > backoff * 0.45  # spread across the band, not clumped
    assert len(set(waits)) > 1900


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    assert RetryPolicy(jitter_factor=0).delay_for(10_000, None) == RetryPolicy().max_delay_s


def test_defaults_are_sensible_without_any_recipe_setting() -> None:
    policy = DEFAULT_RETRY_POLICY
    assert policy.retries == 2
    upper_bounds = [policy.backoff(n) for n in (1, 2)]
    assert upper_bounds == [1.0, 2.0]  # a failing provider is left within about 3 s
    assert policy.max_delay_s == 60.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retries": -1}, "retries must be 0 or more"),
        ({"base_delay_s": -1.0}, "must be 0 or more"),
        ({"jitter_factor": 1.5}, "jitter_factor must be between 0 and 1"),
    ],
)
def test_nonsense_policies_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


STEP = Step(id="reply", model="openai:gpt-5-mini", prompt="Say hi", retries=3)


def condition(policy: RetryPolicy, error: BaseException, run_count: int) -> tuple[bool, object]:
    """Run the step task's retry condition as Prefect does; return (retry?, delay set)."""
    task = build_step_task(STEP, STEP.model_ref, policy)
    task_run = cast("TaskRun", SimpleNamespace(run_count=run_count))
    verdict = policy.should_retry(task, task_run, Failed(data=error))
    if verdict:
        assert task.retry_jitter_factor is None  # Prefect must not re-jitter the wait
    return verdict, task.retry_delay_seconds


async def provider_error(sim: SimulatorServer, protocol: Protocol, fault: Fault) -> ProviderError:
    """The error our client raises for `fault`, over real HTTP."""
    sim.inject(fault)
    endpoint = Endpoint.for_protocol(
        protocol, SecretKey("sk-test-retry"), base_url=sim.base_url(protocol), key_id="key_r"
    )
    model = {Protocol.OPENAI: "gpt-5-mini", Protocol.ANTHROPIC: "claude-haiku-4-5"}.get(
        protocol, "gemini-2.5-flash"
    )
    async with ProviderClient() as client:
        with pytest.raises(ProviderError) as caught:
            await client.complete(endpoint, ModelRequest(model=model, prompt="hi"))
    return caught.value


@pytest.mark.parametrize("protocol", list(Protocol))
async def test_a_providers_retry_after_sets_the_wait_prefect_schedules(
    sim: SimulatorServer, protocol: Protocol
) -> None:
    error = await provider_error(sim, protocol, Fault.error(429, retry_after_s=7))
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=60.0, jitter_factor=0.5, random=lambda: 0.3)

    retried, delay = condition(policy, error, run_count=2)

    assert retried
    assert error.retry_after_s == 7
    assert delay == [expected_delay(policy, 2, 0.3, 7.0)] == [7.0]


async def test_a_hint_beyond_the_cap_is_capped(sim: SimulatorServer) -> None:
    error = await provider_error(sim, Protocol.OPENAI, Fault.error(503, retry_after_ms=45_000))
    policy = RetryPolicy(max_delay_s=10.0, jitter_factor=0.0)
    assert condition(policy, error, run_count=1) == (True, [10.0])


async def test_without_a_hint_the_wait_is_the_jittered_backoff(sim: SimulatorServer) -> None:
    error = await provider_error(sim, Protocol.ANTHROPIC, Fault.error(529))
    policy = RetryPolicy(base_delay_s=2.0, jitter_factor=0.5, random=lambda: 0.5)
    assert isinstance(error, OverloadedError)
    assert condition(policy, error, run_count=3) == (True, [expected_delay(policy, 3, 0.5, None)])


async def test_a_wait_set_for_one_run_is_not_the_next_runs(sim: SimulatorServer) -> None:
    # A compiled recipe copies its step tasks for each run: a provider's 30 s hint in one
    # run must not become the wait of another run of the same recipe.
    error = await provider_error(sim, Protocol.OPENAI, Fault.error(429, retry_after_s=30))
    policy = RetryPolicy(base_delay_s=1.0, jitter_factor=0.0)
    tasks = StepTasks(policy)
    first, second = tasks.for_run(STEP, STEP.model_ref), tasks.for_run(STEP, STEP.model_ref)
    task_run = cast("TaskRun", SimpleNamespace(run_count=1))

    assert policy.should_retry(first, task_run, Failed(data=error))

    third = tasks.for_run(STEP, STEP.model_ref)
    assert first.retry_delay_seconds == [30.0]
    untouched = [cast("object", task.retry_delay_seconds) for task in (second, third)]
    assert untouched == [1.0, 1.0]  # the policy's base delay, as built
    assert (second.retry_jitter_factor, third.retry_jitter_factor) == (0.0, 0.0)
    assert (third.name, third.retries) == (first.name, 3)


@pytest.mark.parametrize(
    "error",
    [
        RateLimitError("429", provider="p", status=429),
        OverloadedError("529", provider="p", status=529),
        ServerError("500", provider="p", status=500),
        ProviderConnectionError("timed out", provider="p"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient_errors_are_retried_and_then_fall_back(error: ProviderError) -> None:
    assert condition(DEFAULT_RETRY_POLICY, error, run_count=1)[0]
    assert should_fall_back(error)


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequestError("400", provider="p", status=400),
        AuthenticationError("401", provider="p", status=401),
        QuotaExceededError("quota", provider="p", status=429),
        RuntimeError("a bug of ours"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_the_request_or_key_caused_are_neither_retried_nor_fallen_back_from(
    error: BaseException,
) -> None:
    assert condition(DEFAULT_RETRY_POLICY, error, run_count=1)[0] is False
    assert not should_fall_back(error)


def test_a_refused_call_is_not_retried_but_falls_back() -> None:
    refused = CircuitOpenError("breaker open", provider="openai", retry_after_s=20)
    assert condition(DEFAULT_RETRY_POLICY, refused, run_count=1)[0] is False
    assert should_fall_back(refused)


def test_step_model_refs_parse_in_fallback_order() -> None:
    step = Step(id="s", model="openai:a", prompt="p", fallbacks=["anthropic:b", "google:c"])
    assert [str(m) for m in [step.model_ref, *step.fallback_refs]] == [
        "openai:a",
        "anthropic:b",
        "google:c",
    ]
    assert step.fallback_refs[0] == ModelRef.parse("anthropic:b")
