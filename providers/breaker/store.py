"""Breaker state in the shared database, changed atomically by any number of workers.

Every change is read → pure transition (`providers.breaker.state`) → a
conditional `UPDATE … WHERE version = <the version read>`. If another worker
wrote the row in between, the update matches no row and the change is
recomputed from the fresh row. This compare-and-set works the same on SQLite
(where a read-then-write transaction could fail on a stale WAL snapshot) and
PostgreSQL (where it needs no `SELECT … FOR UPDATE`), and it means exactly
one worker performs each transition, so exactly one event announces it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, Executable, Table, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from providers.breaker.models import BreakerRow
from providers.breaker.state import Breaker, BreakerKey, Circuit

__all__ = ["BreakerContentionError", "BreakerStore", "Change"]

T = TypeVar("T")

_TABLE: Table = BreakerRow.__table__  # type: ignore[attr-defined]
_STATE_FIELDS = tuple(f.name for f in fields(Breaker))


class BreakerContentionError(RuntimeError):
    """A breaker row kept changing under us; only plausible with a broken database."""


@dataclass(frozen=True, slots=True)
class Change(Generic[T]):
    """A breaker before and after one atomic change, and what the change returned."""

    key: BreakerKey
    before: Breaker
    after: Breaker
    value: T

    @property
    def transitioned(self) -> bool:
        """Whether this change moved the breaker to another circuit state."""
        return self.before.circuit is not self.after.circuit


class BreakerStore:
    """Reads and atomically changes breaker rows in one database."""

    def __init__(self, engine: Engine, *, max_attempts: int = 200) -> None:
        self._engine = engine
        self._max_attempts = max_attempts

    @property
    def engine(self) -> Engine:
        """The database the breakers live in."""
        return self._engine

    def read(self, key: BreakerKey) -> Breaker:
        """The breaker's current state (closed when it has never been used)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(_TABLE).where(_matches(key))).mappings().first()
        return Breaker() if row is None else _to_breaker(row)

    def all(self) -> list[tuple[BreakerKey, Breaker]]:
        """Every breaker that has seen a call, ordered by provider, model and key."""
        order = (_TABLE.c.provider, _TABLE.c.model, _TABLE.c.key_id)
        with self._engine.connect() as conn:
            rows = conn.execute(select(_TABLE).order_by(*order)).mappings().all()
        return [(BreakerKey(r["provider"], r["model"], r["key_id"]), _to_breaker(r)) for r in rows]

    def change(self, key: BreakerKey, step: Callable[[Breaker], tuple[Breaker, T]]) -> Change[T]:
        """Apply `step` (a pure function of the state) atomically; recomputed on a race."""
        for _ in range(self._max_attempts):
            version, before = self._load(key)
            after, value = step(before)
            if after == before:
                return Change(key, before, after, value)
            stmt = (
                update(_TABLE)
                .where(_matches(key), _TABLE.c.version == version)
                .values(version=version + 1, **_to_columns(after))
            )
            with self._engine.begin() as conn:
                if conn.execute(stmt).rowcount == 1:
                    return Change(key, before, after, value)
        raise BreakerContentionError(
            f"the breaker for {key} changed {self._max_attempts} times while being updated: "
            "check that the database is healthy"
        )

    def reset(self, key: BreakerKey) -> bool:
        """Forget a breaker's state (it starts closed again); False if it had none."""
        with self._engine.begin() as conn:
            return bool(conn.execute(_TABLE.delete().where(_matches(key))).rowcount)

    def _load(self, key: BreakerKey) -> tuple[int, Breaker]:
        with self._engine.connect() as conn:
            row = conn.execute(select(_TABLE).where(_matches(key))).mappings().first()
        if row is None:
            with self._engine.begin() as conn:
                conn.execute(self._insert_fresh(key))
            with self._engine.connect() as conn:
                row = conn.execute(select(_TABLE).where(_matches(key))).mappings().one()
        return int(row["version"]), _to_breaker(row)

    def _insert_fresh(self, key: BreakerKey) -> Executable:
        values = {
            "provider": key.provider,
            "model": key.model,
            "key_id": key.key_id,
            "version": 0,
            **_to_columns(Breaker()),
        }
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(_TABLE).values(values).on_conflict_do_nothing()
        return sqlite.insert(_TABLE).values(values).on_conflict_do_nothing()


def _matches(key: BreakerKey) -> Any:
    return and_(
        _TABLE.c.provider == key.provider,
        _TABLE.c.model == key.model,
        _TABLE.c.key_id == key.key_id,
    )


def _to_columns(breaker: Breaker) -> dict[str, Any]:
    values = {name: getattr(breaker, name) for name in _STATE_FIELDS}
    values["circuit"] = breaker.circuit.value
    return values


def _to_breaker(row: Any) -> Breaker:
    values = {name: row[name] for name in _STATE_FIELDS}
    values["circuit"] = Circuit(values["circuit"])
    return Breaker(**values)
