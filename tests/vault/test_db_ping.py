"""A pooled PostgreSQL connection is pinged on checkout only after it sat idle.

Each test drives the pool with a fake monotonic clock and kills backends
for real with `pg_terminate_backend`, the way a server restart or an idle
timeout would; pings are counted by wrapping the dialect's own `do_ping`,
which `pool_pre_ping` would also have called on every checkout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from vault.db import PING_AFTER_IDLE_S, _make_engine


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class PingCounter:
    """Wraps `engine.dialect.do_ping` and counts the calls."""

    def __init__(self, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = engine.dialect.do_ping

        def counting(dbapi_connection: Any) -> bool:
            self.calls += 1
            return real(dbapi_connection)

        monkeypatch.setattr(engine.dialect, "do_ping", counting)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(postgres_url: str, clock: FakeClock) -> Iterator[Engine]:
    engine = _make_engine(postgres_url, clock=clock)
    yield engine
    engine.dispose()


def _pid(engine: Engine) -> int:
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert isinstance(pid, int)
    return pid


def _terminate(postgres_url: str, *pids: int) -> None:
    """Kill backends from outside the pool, as a restart or idle timeout would."""
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as admin:
        for pid in pids:
            killed = admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
            assert killed == (True,)


@pytest.mark.postgres
def test_a_connection_killed_while_idle_is_replaced_before_use(
    engine: Engine, clock: FakeClock, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _pid(engine)
    _terminate(postgres_url, before)
    clock.advance(PING_AFTER_IDLE_S + 1)
    pings = PingCounter(engine, monkeypatch)

    after = _pid(engine)  # would raise if the dead connection were handed out

    assert after != before
    assert pings.calls == 1


@pytest.mark.postgres
def test_a_failed_idle_ping_reconnects_the_rest_of_the_pool_without_pinging_it(
    engine: Engine, clock: FakeClock, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead idle connection usually means a restart: its pool siblings are stale too."""
    with engine.connect() as one, engine.connect() as two:
        pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in (one, two)]
    _terminate(postgres_url, *pids)
    clock.advance(PING_AFTER_IDLE_S + 1)
    pings = PingCounter(engine, monkeypatch)

    with engine.connect() as a, engine.connect() as b:
        fresh = {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in (a, b)}

    assert fresh.isdisjoint(pids)
    assert pings.calls == 1  # the second was reconnected, not pinged and found dead


@pytest.mark.postgres
def test_a_connection_reused_right_after_checkin_is_not_pinged(
    engine: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = PingCounter(engine, monkeypatch)
    first = _pid(engine)  # a fresh connection: connecting proved it alive
    clock.advance(PING_AFTER_IDLE_S - 1)
    pids = {_pid(engine) for _ in range(5)}

    assert pids == {first}  # the same pooled connection each time
    assert pings.calls == 0


@pytest.mark.postgres
def test_a_connection_dropped_while_in_use_fails_one_statement_and_the_pool_recovers(
    engine: Engine, postgres_url: str
) -> None:
    """The documented trade: no ping within the threshold, so one statement finds out.

    Both pooled connections die (a server restart); after the first one fails,
    SQLAlchemy marks every connection opened before the failure stale, so the
    second is reconnected on checkout instead of failing a second statement.
    """
    with engine.connect() as one, engine.connect() as two:
        pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in (one, two)]
    _terminate(postgres_url, *pids)

    with pytest.raises(DBAPIError) as failed, engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert failed.value.connection_invalidated

    with engine.connect() as a, engine.connect() as b:
        fresh = {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in (a, b)}
    assert fresh.isdisjoint(pids)


@pytest.mark.postgres
def test_threshold_zero_pings_every_reused_connection(
    postgres_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _make_engine(postgres_url, ping_after_idle_s=0, clock=clock)
    try:
        pings = PingCounter(engine, monkeypatch)
        before = _pid(engine)
        assert pings.calls == 0  # fresh: not pinged
        _terminate(postgres_url, before)

        after = _pid(engine)  # no time passed, still pinged and replaced

        assert after != before
        assert pings.calls == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("idle_s", [0.0, PING_AFTER_IDLE_S + 1])
def test_sqlite_connections_are_never_pinged(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, idle_s: float
) -> None:
    engine = _make_engine(f"sqlite:///{tmp_path / 'ping.db'}", clock=clock)
    try:
        pings = PingCounter(engine, monkeypatch)
        for _ in range(3):
            with engine.connect() as connection:
                assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            clock.advance(idle_s)
        assert pings.calls == 0
    finally:
        engine.dispose()
