"""Answers of a healthy breaker are written in batches, and never lost to its judgement.

The success path of a closed breaker is counted in memory; these tests check
that what the breaker decides, and what it shows after a run, is what writing
every answer at once would have given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.engine.hooks import RunInfo
from providers.breaker import BreakerPolicy, BreakerStore, Circuit, ConsecutiveFailures
from providers.breaker.hook import BreakerHook
from providers.breaker.policy import FailureRate
from tests.providers.breaker.test_hook import KEY, Clock, Events, Provider, attempt, overloaded
from vault.db import get_engine

# Opens when 60 % of at least 3 calls in the window failed (never on a run of failures).
RATE = BreakerPolicy(trip=ConsecutiveFailures(100) | FailureRate(0.6, min_calls=3))
RUN = RunInfo(org="acme", user="ann", recipe="triage", run_id="run-1", answered_by={}, error=None)


@pytest.fixture
def store(tmp_path: Path) -> BreakerStore:
    return BreakerStore(get_engine(f"sqlite:///{tmp_path / 'breakers.db'}"))


def make_hook(store: BreakerStore, policy: BreakerPolicy = RATE) -> BreakerHook:
    return BreakerHook(policy=policy, store=store, clock=Clock(), emit=Events())


async def test_failures_are_judged_against_every_answer_before_them(store: BreakerStore) -> None:
    hook = make_hook(store)
    for _ in range(3):
        assert await attempt([hook], Provider()) is None
    for _ in range(3):
        await attempt([hook], Provider(error=overloaded()))

    # 3 failures of 6 calls is 50 %: below 60 %, so it stays closed. Had the answers
    # been lost, 3 of 3 would have opened it.
    breaker = store.read(KEY)
    assert breaker.circuit is Circuit.CLOSED
    assert (breaker.window_calls, breaker.window_failures) == (6, 3)


async def test_the_end_of_a_run_writes_the_answers_it_counted(store: BreakerStore) -> None:
    hook = make_hook(store)
    for _ in range(4):
        assert await attempt([hook], Provider()) is None

    await hook.after_run(RUN)

    breaker = store.read(KEY)
    assert (breaker.circuit, breaker.window_calls, breaker.consecutive_failures) == (
        Circuit.CLOSED,
        4,
        0,
    )


async def test_an_answer_after_a_failure_ends_the_run_of_failures_at_once(
    store: BreakerStore,
) -> None:
    hook = make_hook(store)
    await attempt([hook], Provider(error=overloaded()))
    assert store.read(KEY).consecutive_failures == 1

    assert await attempt([hook], Provider()) is None

    assert store.read(KEY).consecutive_failures == 0
