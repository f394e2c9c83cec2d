"""A run remembers a closed breaker for `refresh_s`: fewer reads, bounded staleness.

Each `BreakerHook` is one run. Reads are counted as the SELECTs on the
breakers' table that the store's engine sends, on real SQLite and
PostgreSQL databases; the clock is a number the test moves. Another worker
is a second hook with its own engine on the same database.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event

from flows.engine.hooks import CallOutcome
from providers.breaker import BreakerStore, Circuit, CircuitOpenError
from providers.breaker.hook import BreakerHook
from tests.providers.breaker.test_hook import (
    KEY,
    POLICY,
    POLICY_THRESHOLD,
    RESPONSE,
    Clock,
    Events,
    Provider,
    attempt,
    call_info,
    overloaded,
)
from vault.db import get_engine

REFRESH_S = 1.0
ANSWERED = CallOutcome(5, response=RESPONSE)


@dataclass
class Statements:
    """SQL the engine sent to the breakers' table, as text (never parameters)."""

    seen: list[str] = field(default_factory=list)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "circuit_breakers" in statement:
            self.seen.append(statement.lstrip().split(None, 1)[0].upper())

    @property
    def reads(self) -> int:
        return self.seen.count("SELECT")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'breakers.db'}"
    db_url: str = request.getfixturevalue("postgres_url")
    return db_url


@pytest.fixture
def store(url: str) -> BreakerStore:
    store = BreakerStore(get_engine(url))
    store.change(KEY, lambda breaker: (breaker, None))  # an earlier run created the row
    return store


@pytest.fixture
def sql(store: BreakerStore) -> Iterator[Statements]:
    statements = Statements()
    event.listen(store.engine, "before_cursor_execute", statements)
    yield statements
    event.remove(store.engine, "before_cursor_execute", statements)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def other_engine(url: str, store: BreakerStore) -> Iterator[Engine]:
    """Another worker's own engine (and connections) on the same database."""
    sqlite = {"check_same_thread": False}
    engine = create_engine(url, connect_args=sqlite if url.startswith("sqlite") else {})
    yield engine
    engine.dispose()


def run(store: BreakerStore, clock: Clock, refresh_s: float | None = REFRESH_S) -> BreakerHook:
    """The breaker hook of a new run."""
    return BreakerHook(policy=POLICY, store=store, clock=clock, emit=Events(), refresh_s=refresh_s)


async def reads_to_admit(hook: BreakerHook, sql: Statements) -> int:
    """Reads one call's admission took; the call then answers."""
    call = call_info()
    before = sql.reads
    await hook.before_call(call)
    reads = sql.reads - before
    await hook.after_call(call, ANSWERED)
    return reads


async def test_a_runs_calls_read_a_closed_breaker_once_per_refresh_s(
    store: BreakerStore, sql: Statements, clock: Clock
) -> None:
    hook = run(store, clock)

    assert [await reads_to_admit(hook, sql) for _ in range(5)] == [1, 0, 0, 0, 0]
    clock.now += REFRESH_S - 0.01
    assert await reads_to_admit(hook, sql) == 0
    clock.now += 0.01
    assert [await reads_to_admit(hook, sql) for _ in range(3)] == [1, 0, 0]


async def test_refresh_s_zero_reads_before_every_call(
    store: BreakerStore, sql: Statements, clock: Clock
) -> None:
    hook = run(store, clock, refresh_s=0)
    assert [await reads_to_admit(hook, sql) for _ in range(4)] == [1, 1, 1, 1]


async def test_refresh_s_comes_from_the_worker_environment(
    store: BreakerStore, sql: Statements, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOK_BREAKER_REFRESH_S", "0")
    hook = run(store, clock, refresh_s=None)
    assert [await reads_to_admit(hook, sql) for _ in range(3)] == [1, 1, 1]


async def test_another_workers_opening_reaches_a_run_within_refresh_s(
    store: BreakerStore, other_engine: Engine, clock: Clock
) -> None:
    hook = run(store, clock)
    provider = Provider()
    assert await attempt([hook], provider) is None  # read: closed
    other = run(BreakerStore(other_engine), clock)
    for _ in range(POLICY_THRESHOLD):
        assert isinstance(await attempt([other], Provider(error=overloaded())), type(overloaded()))
    assert store.read(KEY).circuit is Circuit.OPEN

    clock.now += REFRESH_S / 2
    assert await attempt([hook], provider) is None  # documented staleness: it still goes out
    assert provider.sent == 2
    clock.now += REFRESH_S / 2
    refused = await attempt([hook], provider)

    assert isinstance(refused, CircuitOpenError)
    assert provider.sent == 2


async def test_a_stale_call_that_fails_shows_the_run_the_open_breaker_at_once(
    store: BreakerStore, other_engine: Engine, clock: Clock
) -> None:
    hook = run(store, clock)
    assert await attempt([hook], Provider()) is None
    other = run(BreakerStore(other_engine), clock)
    for _ in range(POLICY_THRESHOLD):
        await attempt([other], Provider(error=overloaded()))

    failing = Provider(error=overloaded())
    assert isinstance(await attempt([hook], failing), type(overloaded()))  # sent on its old view
    assert isinstance(await attempt([hook], failing), CircuitOpenError)  # the write showed it
    assert failing.sent == 1
    assert store.read(KEY).times_opened == 1  # the late failure counted for nothing


async def test_a_runs_own_failures_are_judged_at_once(
    store: BreakerStore, sql: Statements, clock: Clock
) -> None:
    hook = run(store, clock)
    assert await reads_to_admit(hook, sql) == 1  # remembered closed from here on
    failing = Provider(error=overloaded())
    for _ in range(POLICY_THRESHOLD):
        assert isinstance(await attempt([hook], failing), type(overloaded()))

    refused = await attempt([hook], Provider())  # the clock has not moved

    assert isinstance(refused, CircuitOpenError)
    assert failing.sent == POLICY_THRESHOLD
    assert store.read(KEY).circuit is Circuit.OPEN


async def test_a_read_finishing_after_the_runs_own_opening_does_not_hide_it(
    store: BreakerStore, clock: Clock
) -> None:
    hook = run(store, clock)
    for _ in range(POLICY_THRESHOLD - 1):
        await attempt([hook], Provider(error=overloaded()))
    last = call_info()
    await hook.before_call(last)  # the failure that will open it is out
    clock.now += REFRESH_S  # what the run remembers is too old: the next call reads
    selected, release = threading.Event(), threading.Event()

    def hold_first_read(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("SELECT") and not selected.is_set():
            selected.set()  # it has read the closed breaker; it lands after the failure
            release.wait(10)

    event.listen(store.engine, "after_cursor_execute", hold_first_read)
    try:
        slow = asyncio.create_task(hook.before_call(call_info()))
        assert await asyncio.to_thread(selected.wait, 10)
        await hook.after_call(last, CallOutcome(5, error=overloaded()))  # opens it
        release.set()
        await slow  # admitted on what it read: it overlapped the failure
    finally:
        release.set()
        event.remove(store.engine, "after_cursor_execute", hold_first_read)

    assert store.read(KEY).circuit is Circuit.OPEN
    with pytest.raises(CircuitOpenError):
        await hook.before_call(call_info())


async def test_parallel_calls_with_nothing_remembered_share_one_read(
    store: BreakerStore, sql: Statements, clock: Clock
) -> None:
    hook = run(store, clock)
    calls = [call_info() for _ in range(50)]

    await asyncio.gather(*(hook.before_call(call) for call in calls))

    assert sql.reads == 1
    assert sql.seen == ["SELECT"]  # and nothing written
    await asyncio.gather(*(hook.after_call(call, ANSWERED) for call in calls))
    assert await reads_to_admit(hook, sql) == 0


async def test_parallel_calls_to_an_open_breaker_are_all_refused_on_one_read(
    store: BreakerStore, other_engine: Engine, sql: Statements, clock: Clock
) -> None:
    other = run(BreakerStore(other_engine), clock)
    for _ in range(POLICY_THRESHOLD):
        await attempt([other], Provider(error=overloaded()))
    hook = run(store, clock)

    verdicts = await asyncio.gather(
        *(hook.before_call(call_info()) for _ in range(50)), return_exceptions=True
    )

    assert all(isinstance(verdict, CircuitOpenError) for verdict in verdicts)
    assert sql.reads == 1
    clock.now += 1.0  # an open breaker is never trusted from memory: read again
    with pytest.raises(CircuitOpenError):
        await hook.before_call(call_info())
    assert sql.reads == 2


async def test_after_the_cool_down_parallel_calls_send_one_probe(
    store: BreakerStore, clock: Clock
) -> None:
    hook = run(store, clock)
    for _ in range(POLICY_THRESHOLD):
        await attempt([hook], Provider(error=overloaded()))
    clock.now += POLICY.cool_down_s
    calls = [call_info() for _ in range(20)]

    verdicts = await asyncio.gather(
        *(hook.before_call(call) for call in calls), return_exceptions=True
    )

    admitted = [call for call, verdict in zip(calls, verdicts, strict=True) if verdict is None]
    assert len(admitted) == 1
    assert all(isinstance(v, CircuitOpenError) for v in verdicts if v is not None)
    assert store.read(KEY).circuit is Circuit.HALF_OPEN
    await hook.after_call(admitted[0], ANSWERED)
    assert store.read(KEY).circuit is Circuit.CLOSED
    assert await attempt([hook], Provider()) is None


async def test_a_call_waiting_on_a_read_outlives_the_cancelled_call_that_started_it(
    store: BreakerStore, sql: Statements, clock: Clock
) -> None:
    hook = run(store, clock)
    first, second = call_info(), call_info()
    leader = asyncio.create_task(hook.before_call(first))
    await asyncio.sleep(0)  # the leader has started the read
    follower = asyncio.create_task(hook.before_call(second))
    await asyncio.sleep(0)  # the follower waits for it
    leader.cancel()

    await follower  # admitted on the shared read

    assert leader.cancelled()
    assert sql.reads == 1
    await hook.after_call(second, ANSWERED)


def test_refresh_s_must_not_be_negative(store: BreakerStore, clock: Clock) -> None:
    with pytest.raises(ValueError, match="refresh_s must be 0 or more"):
        run(store, clock, refresh_s=-1.0)
