"""Breaker state in the database: atomic changes, shared by every process using it.

Each process here is a real OS process with its own engine and connections,
like workers on different machines; the counts must come out exact and a
failing provider must stop being called by all of them together.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from providers.breaker import (
    Admission,
    Breaker,
    BreakerKey,
    BreakerPolicy,
    BreakerStore,
    CallResult,
    Circuit,
    ConsecutiveFailures,
)
from providers.breaker.state import admit, record
from vault.db import get_engine

KEY = BreakerKey("openai", "gpt-5-mini", "key_0123456789abcdef")
NEVER_OPENS = BreakerPolicy(trip=ConsecutiveFailures(10**9))
OPENS_AT_5 = BreakerPolicy(trip=ConsecutiveFailures(5), cool_down_s=3600.0)
WORKERS = 3


def _fail(breaker: Breaker) -> tuple[Breaker, None]:
    admission = Admission(allowed=True, generation=breaker.generation)
    return record(breaker, admission, CallResult.FAILURE, 1000.0, NEVER_OPENS), None


def count_failures(url: str, calls: int) -> int:
    """Worker process: record `calls` failures, one atomic change each."""
    store = BreakerStore(get_engine(url))
    for _ in range(calls):
        store.change(KEY, _fail)
    return calls


def call_a_dead_provider(url: str, attempts: int) -> tuple[int, int]:
    """Worker process: try `attempts` calls to a provider that always fails.

    Returns (calls that went out, transitions to open this process made).
    """
    store = BreakerStore(get_engine(url))
    sent = opened = 0
    for _ in range(attempts):
        gate = store.change(KEY, lambda b: admit(b, 1000.0, OPENS_AT_5))
        if not gate.value.allowed:
            continue
        sent += 1  # here the call would go out, and fail
        done = store.change(KEY, partial(_record_failure, gate.value))
        opened += done.transitioned and done.after.circuit is Circuit.OPEN
    return sent, opened


def _record_failure(admission: Admission, breaker: Breaker) -> tuple[Breaker, None]:
    return record(breaker, admission, CallResult.FAILURE, 1000.0, OPENS_AT_5), None


@pytest.fixture(scope="module")
def workers() -> Iterator[ProcessPoolExecutor]:
    """Worker processes, started once for the module (each import costs seconds)."""
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp_path / 'breakers.db'}"
    else:
        db_url = request.getfixturevalue("postgres_url")
    get_engine(db_url)  # migrate once, before the workers start
    return db_url


def test_an_unused_breaker_reads_closed(url: str) -> None:
    store = BreakerStore(get_engine(url))
    assert store.read(KEY) == Breaker()
    assert store.all() == []


def test_a_change_is_stored_and_read_back(url: str) -> None:
    store = BreakerStore(get_engine(url))
    change = store.change(KEY, _fail)
    assert change.before == Breaker()
    assert change.after.consecutive_failures == 1
    assert store.read(KEY) == change.after
    assert store.all() == [(KEY, change.after)]
    assert store.reset(KEY)
    assert store.read(KEY) == Breaker()


def test_no_update_is_lost_when_processes_race(url: str, workers: ProcessPoolExecutor) -> None:
    per_worker = 25
    done = list(workers.map(count_failures, [url] * WORKERS, [per_worker] * WORKERS))
    breaker = BreakerStore(get_engine(url)).read(KEY)
    assert breaker.consecutive_failures == sum(done) == WORKERS * per_worker
    assert breaker.window_failures == WORKERS * per_worker


def test_a_fleet_stops_calling_a_dead_provider_together(
    url: str, workers: ProcessPoolExecutor
) -> None:
    attempts = 20
    results = list(workers.map(call_a_dead_provider, [url] * WORKERS, [attempts] * WORKERS))
    sent = sum(s for s, _ in results)
    opened = sum(o for _, o in results)
    threshold = 5
    # Each worker has at most one call out when the fifth failure lands.
    assert threshold <= sent <= threshold + WORKERS - 1
    assert opened == 1  # exactly one worker made the transition (and would announce it)
    breaker = BreakerStore(get_engine(url)).read(KEY)
    assert breaker.circuit is Circuit.OPEN
    assert breaker.times_opened == 1
    print(f"\n{WORKERS} workers x {attempts} attempts: {sent} calls sent, then refused")
