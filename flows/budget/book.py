"""Reserving, settling and releasing spend against budgets, atomically in the database.

Before a call, its worst-case cost is reserved in every window that applies
(the run's `budget_usd`, the org's budgets, the user's budgets) in one
transaction, with one conditional `UPDATE` per window:

    UPDATE budget_windows SET reserved = reserved + :x
     WHERE id = :w AND spent + reserved + :x <= limit

The check and the increment are one statement, so two processes cannot both
take the last dollar: PostgreSQL re-checks the condition on the row the other
transaction committed, SQLite lets one writer in at a time. If any window
refuses, the transaction is rolled back and the call is not made. Windows are
updated in id order so concurrent transactions never wait on each other in a
cycle. After the call the reservation is settled to the actual cost (or
released when nothing was billed). A reservation left by a process that died
mid-call expires after `ttl`, and is swept when it stands in a call's way.

No transaction here awaits anything: each runs to its commit before the
event loop can start another, so coroutines of one process never hold a row
lock another coroutine of the same process waits for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import Connection, Engine, Executable, delete, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from flows.budget.errors import BudgetExceededError
from flows.budget.models import DEFAULT_THRESHOLDS, Budget, BudgetReservation, BudgetWindow
from flows.budget.money import charge_pico, limit_pico, usd
from flows.budget.periods import Period, window
from flows.ledger.models import UsageRecord
from flows.ledger.recorder import CallContext

__all__ = [
    "BUDGETS_FRESH_S",
    "DEFAULT_TTL",
    "BudgetBook",
    "Crossing",
    "Hold",
    "WindowSpec",
    "crossed_threshold",
]

#: How long a reservation outlives a process that died mid-call.
DEFAULT_TTL = timedelta(hours=1)
#: How long a book trusts the budgets it read (a budget set mid-run applies within this).
BUDGETS_FRESH_S = 5.0


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A window a call must fit in, described well enough to create it if missing."""

    key: str
    label: str
    org: str
    user: str
    limit_pico: int
    thresholds: str
    hint: str
    budget_id: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """What one call reserved: one reservation per window, all of the same amount."""

    windows: tuple[int, ...]
    reservations: tuple[int, ...]
    amount_pico: int


@dataclass(frozen=True, slots=True)
class Crossing:
    """A window's settled spend reached `threshold_pct` of its limit for the first time."""

    window: BudgetWindow
    threshold_pct: int


class BudgetBook:
    """The budget counters in one database; `clock` is injected for tests."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ttl: timedelta = DEFAULT_TTL,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._ttl = ttl
        self._ids: dict[str, int] = {}
        self._budget_rows: dict[tuple[str, str], tuple[float, Sequence[Budget]]] = {}

    def windows_for(self, ctx: CallContext) -> list[WindowSpec]:
        """Every window a call of `ctx` must fit in, for the current period."""
        now = self._clock()
        specs = []
        if ctx.run_budget_usd is not None:
            specs.append(
                WindowSpec(
                    key=f"run:{ctx.run_id}",
                    label=f"the run budget of recipe '{ctx.recipe}'",
                    org=ctx.org,
                    user=ctx.user,
                    limit_pico=limit_pico(ctx.run_budget_usd),
                    thresholds=DEFAULT_THRESHOLDS,
                    hint="raise the recipe's budget_usd",
                )
            )
        specs.extend(_budget_window(budget, now) for budget in self._budgets(ctx.org, ctx.user))
        return specs

    def _budgets(self, org: str, user: str) -> Sequence[Budget]:
        """The org's and the user's budgets, read at most every `BUDGETS_FRESH_S` per book.

        A book serves one run: its calls would otherwise read the same rows once
        per call. A budget set or changed mid-run applies within that many seconds.
        """
        cached = self._budget_rows.get((org, user))
        if cached is not None and time.monotonic() - cached[0] < BUDGETS_FRESH_S:
            return cached[1]
        with Session(self._engine) as session:
            budgets = session.exec(
                select(Budget)
                .where(Budget.org == org, col(Budget.user).in_(("", user)))
                .order_by(col(Budget.id))
            ).all()
        self._budget_rows[(org, user)] = (time.monotonic(), budgets)
        return budgets

    def spec_for(self, budget: Budget) -> WindowSpec:
        """The window of `budget` for the current period."""
        return _budget_window(budget, self._clock())

    def find(self, key: str) -> BudgetWindow | None:
        """The window with `key`, if it was opened."""
        with Session(self._engine) as session:
            return session.exec(select(BudgetWindow).where(BudgetWindow.key == key)).first()

    def open(self, specs: Sequence[WindowSpec]) -> list[int]:
        """The ids of `specs`' windows, creating missing ones (spend seeded from the ledger).

        Ids are remembered: a window is never deleted, so one lookup per book suffices.
        """
        ids = []
        for spec in specs:
            found = self._ids.get(spec.key) or self._window_id(spec.key)
            if found is None:
                self._create(spec)
                found = self._window_id(spec.key)
            if found is None:  # pragma: no cover - the insert above guarantees a row
                raise RuntimeError(f"budget window {spec.key!r} could not be created")
            self._ids[spec.key] = found
            ids.append(found)
        return ids

    def reserve(self, specs: Sequence[WindowSpec], needed_usd: Decimal) -> Hold:
        """Hold `needed_usd` in every window of `specs`, or raise `BudgetExceededError`.

        Reservations left by dead processes are swept only when they are in the
        way, so the common case is one transaction.
        """
        amount = charge_pico(needed_usd)
        ids = self.open(specs)
        try:
            return self._take(ids, amount)
        except _Refused as first:
            refusal = first
        if self._sweep(ids):
            try:
                return self._take(ids, amount)
            except _Refused as second:
                refusal = second
        refused, counter = specs[refusal.index], self.window(ids[refusal.index])
        raise BudgetExceededError(
            refused.label,
            limit_usd=usd(counter.limit_pico),
            spent_usd=usd(counter.spent_pico),
            reserved_usd=usd(counter.reserved_pico),
            needed_usd=needed_usd,
            hint=refused.hint,
            budget_id=refused.budget_id,
        )

    def settle(self, hold: Hold, actual_usd: Decimal) -> list[Crossing]:
        """Replace the hold by the actual cost; the thresholds this crossed, once each."""
        totals = self._finish(hold, charge_pico(actual_usd))
        return [c for w, t in totals.items() if (c := self._announce(w, t)) is not None]

    def release(self, hold: Hold) -> None:
        """Give the hold back: the call was not made or billed nothing."""
        self._finish(hold, 0)

    def window(self, window_id: int) -> BudgetWindow:
        """A window's current numbers."""
        with Session(self._engine) as session:
            return session.exec(select(BudgetWindow).where(BudgetWindow.id == window_id)).one()

    def _take(self, ids: Sequence[int], amount: int) -> Hold:
        """One transaction: the conditional increment in every window, then the holds."""
        now = self._clock()
        with self._engine.begin() as conn:
            for i in sorted(range(len(ids)), key=lambda i: ids[i]):
                taken = conn.execute(
                    update(BudgetWindow)
                    .where(
                        col(BudgetWindow.id) == ids[i],
                        col(BudgetWindow.spent_pico) + col(BudgetWindow.reserved_pico) + amount
                        <= col(BudgetWindow.limit_pico),
                    )
                    .values(reserved_pico=col(BudgetWindow.reserved_pico) + amount)
                )
                if taken.rowcount != 1:
                    raise _Refused(i)  # rolls the whole transaction back
            reservations = tuple(
                _insert_id(
                    conn,
                    insert(BudgetReservation).values(
                        window_id=window_id,
                        amount_pico=amount,
                        created_at=now,
                        expires_at=now + self._ttl,
                    ),
                )
                for window_id in ids
            )
        return Hold(tuple(ids), reservations, amount)

    def _finish(self, hold: Hold, actual_pico: int) -> dict[int, _Totals]:
        """Drop the hold's reservations and charge `actual_pico`; each window's new totals.

        A reservation already swept (its expiry passed) is not subtracted twice:
        only the transaction that deletes it gives its amount back.
        """
        totals = {}
        with self._engine.begin() as conn:
            for window_id, reservation_id in sorted(
                zip(hold.windows, hold.reservations, strict=True)
            ):
                gone = conn.execute(
                    delete(BudgetReservation).where(col(BudgetReservation.id) == reservation_id)
                )
                held = hold.amount_pico if gone.rowcount == 1 else 0
                row = conn.execute(
                    update(BudgetWindow)
                    .where(col(BudgetWindow.id) == window_id)
                    .values(
                        reserved_pico=col(BudgetWindow.reserved_pico) - held,
                        spent_pico=col(BudgetWindow.spent_pico) + actual_pico,
                    )
                    .returning(
                        col(BudgetWindow.spent_pico),
                        col(BudgetWindow.limit_pico),
                        col(BudgetWindow.thresholds),
                        col(BudgetWindow.alerted_pct),
                    )
                ).one()
                totals[window_id] = _Totals(*row)
        return totals

    def _sweep(self, window_ids: Sequence[int]) -> bool:
        """Release reservations past their expiry (their process died mid-call)."""
        with self._engine.connect() as conn:
            expired = conn.execute(
                select(
                    col(BudgetReservation.id),
                    col(BudgetReservation.window_id),
                    col(BudgetReservation.amount_pico),
                ).where(
                    col(BudgetReservation.window_id).in_(window_ids),
                    col(BudgetReservation.expires_at) < self._clock(),
                )
            ).all()
        released = False
        for reservation_id, window_id, amount in expired:
            with self._engine.begin() as conn:
                gone = conn.execute(
                    delete(BudgetReservation).where(col(BudgetReservation.id) == reservation_id)
                )
                if gone.rowcount == 1:  # a settle may have beaten us to it
                    conn.execute(
                        update(BudgetWindow)
                        .where(col(BudgetWindow.id) == window_id)
                        .values(reserved_pico=col(BudgetWindow.reserved_pico) - amount)
                    )
                    released = True
        return released

    def _announce(self, window_id: int, totals: _Totals) -> Crossing | None:
        reached = crossed_threshold(totals.spent_pico, totals.limit_pico, totals.thresholds)
        if reached <= totals.alerted_pct:
            return None
        with self._engine.begin() as conn:
            won = conn.execute(
                update(BudgetWindow)
                .where(col(BudgetWindow.id) == window_id, col(BudgetWindow.alerted_pct) < reached)
                .values(alerted_pct=reached)
            )
        return Crossing(self.window(window_id), reached) if won.rowcount == 1 else None

    def _window_id(self, key: str) -> int | None:
        found = self.find(key)
        return None if found is None else found.id

    def _create(self, spec: WindowSpec) -> None:
        seed = 0 if spec.budget_id is None else self.ledger_spend(spec)
        values = {
            "key": spec.key,
            "budget_id": spec.budget_id,
            "label": spec.label,
            "org": spec.org,
            "user": spec.user,
            "starts_at": spec.starts_at,
            "ends_at": spec.ends_at,
            "limit_pico": spec.limit_pico,
            "spent_pico": seed,
            "reserved_pico": 0,
            "thresholds": spec.thresholds,
            "alerted_pct": 0,
            "created_at": self._clock(),
        }
        table = BudgetWindow.__table__  # type: ignore[attr-defined]
        stmt: Executable
        if self._engine.dialect.name == "postgresql":
            stmt = postgresql.insert(table).values(values).on_conflict_do_nothing()
        else:
            stmt = sqlite.insert(table).values(values).on_conflict_do_nothing()
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def ledger_spend(self, spec: WindowSpec) -> int:
        """The ledger's spend in the window's period: a budget set mid-month counts
        the month's calls so far."""
        stmt = select(col(UsageRecord.cost_usd)).where(
            col(UsageRecord.org) == spec.org, col(UsageRecord.cost_usd).is_not(None)
        )
        if spec.user:
            stmt = stmt.where(col(UsageRecord.user) == spec.user)
        if spec.starts_at is not None:
            stmt = stmt.where(col(UsageRecord.created_at) >= spec.starts_at)
        if spec.ends_at is not None:
            stmt = stmt.where(col(UsageRecord.created_at) < spec.ends_at)
        with self._engine.connect() as conn:
            costs = conn.execute(stmt).scalars().all()
        return charge_pico(sum((cost for cost in costs if cost is not None), Decimal(0)))


class _Totals(NamedTuple):
    """A window's numbers right after a settlement."""

    spent_pico: int
    limit_pico: int
    thresholds: str
    alerted_pct: int


class _Refused(Exception):
    """A window could not take the reservation (internal: rolls back `reserve`)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def crossed_threshold(spent_pico: int, limit_pico: int, thresholds: str) -> int:
    """The highest threshold percentage `spent_pico` has reached of `limit_pico` (0: none)."""
    pcts = (int(p) for p in thresholds.split(",") if p.strip())
    return max((p for p in pcts if spent_pico * 100 >= p * limit_pico), default=0)


def _budget_window(budget: Budget, now: datetime) -> WindowSpec:
    period = Period(budget.period)
    starts, ends = window(period, now)
    who = f"user '{budget.user}' of org '{budget.org}'" if budget.user else f"org '{budget.org}'"
    flags = f"--org {budget.org}" + (f" --user {budget.user}" if budget.user else "")
    return WindowSpec(
        key=f"budget:{budget.id}:{starts.isoformat()}",
        label=f"the {period.adjective} budget of {who}",
        org=budget.org,
        user=budget.user,
        limit_pico=limit_pico(budget.limit_usd),
        thresholds=budget.thresholds,
        hint=(
            f"raise it with `byok budgets set {flags} --period {period.value} --limit-usd N` "
            f"or wait for the period to end at {ends:%Y-%m-%d %H:%M} UTC"
        ),
        budget_id=budget.id,
        starts_at=starts,
        ends_at=ends,
    )


def _insert_id(conn: Connection, stmt: Executable) -> int:
    result = conn.execute(stmt)
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every table here has an integer primary key
        raise RuntimeError("insert returned no primary key")
    return int(key[0])
