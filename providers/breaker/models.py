"""The breakers' table: one row per provider, model and key, shared by every worker.

Ids, counters and times only: no key material, no prompt, no provider error
text (`last_failure` is an error type and status, such as
`OverloadedError HTTP 503`). Times are float seconds since the epoch, so the
injected clock of a test and the wall clock of a worker store the same way
on SQLite and PostgreSQL. `version` is bumped by every write: the store
updates a row only if nobody wrote it since it was read (compare-and-set).
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

__all__ = ["BreakerRow"]


class BreakerRow(SQLModel, table=True):
    """The shared state of one circuit breaker (see `providers.breaker.state.Breaker`)."""

    __tablename__ = "circuit_breakers"

    provider: str = Field(primary_key=True, max_length=64)
    model: str = Field(primary_key=True, max_length=200)
    key_id: str = Field(primary_key=True, max_length=64)
    version: int = 0
    circuit: str = Field(default="closed", max_length=16)
    generation: int = 0
    consecutive_failures: int = 0
    window_started_at: float = 0.0
    window_calls: int = 0
    window_failures: int = 0
    opened_at: float | None = None
    retry_at: float | None = None
    probes_in_flight: int = 0
    probe_successes: int = 0
    probe_deadline: float | None = None
    times_opened: int = 0
    last_failure: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=100)
    updated_at: float = 0.0
