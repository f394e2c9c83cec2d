"""The audit log: every key operation, key use, denial and master-key operation, chained.

Each event's `mac` is HMAC-SHA256, under the chain's own random 256-bit key,
over the event's fields and the previous event's `mac`. The chain key is
wrapped by the master KEK like an org's data key (so it moves with a
master-key rotation), which means someone who can write to the database but
has no master key cannot forge, edit, insert, reorder or delete an event
without `verify` noticing. The one thing no chain stored next to its data can
show is the newest events cut off together with the head: record the head
`verify` prints somewhere else (a ticket, a log shipper) to detect that.

Appending locks the single `audit_chain` row (an `UPDATE … RETURNING` that
bumps the sequence number), so concurrent writers on SQLite or PostgreSQL get
consecutive numbers and each event chains to the one before it. On PostgreSQL
a key use may instead chain to the head this process last committed, in one
statement that moves the head only if it is still that one (`append_at_head`):
the same numbers and chain, without holding the lock across round trips. An event is
appended in the same transaction as the change it records: no change without
its event, no event for a change that rolled back.

Events hold names, ids, versions and outcomes; never a key, token, prompt or
model output.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Executable,
    Integer,
    LargeBinary,
    String,
    bindparam,
    insert,
    or_,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vault.crypto import AssociatedData, Purpose, new_data_key
from vault.errors import VaultError
from vault.masterkey import KekProvider
from vault.models import AuditChain, AuditEvent

__all__ = [
    "CHAIN_KEY_AD",
    "GENESIS",
    "AuditEntry",
    "AuditLog",
    "AuditRecord",
    "ChainHead",
    "ChainReport",
    "Outcome",
]

GENESIS = "0" * 64  # the `prev` of event 1
_CHAIN_ID = 1
# Built once and run on the session's connection: every key use appends an event, and
# building these statements, compiling a multi-row VALUES (never cached) and the ORM's
# DML path cost more CPU than the database round trips they make.
_RESERVE = (
    update(AuditChain)
    .where(col(AuditChain.id) == _CHAIN_ID)
    .values(seq=col(AuditChain.seq) + bindparam("count", type_=Integer))
    .returning(
        col(AuditChain.seq),
        col(AuditChain.head),
        col(AuditChain.kek_id),
        col(AuditChain.wrapped_key),
    )
)
_INSERT = insert(AuditEvent)  # executed with a list of rows: cached, one batch
_MOVE_HEAD = (
    update(AuditChain)
    .where(col(AuditChain.id) == _CHAIN_ID)
    .values(head=bindparam("head", type_=String))
)
# PostgreSQL, one event (a lone key use: a chain of steps): the insert and the head move
# in one statement, a data-modifying CTE, so one round trip instead of two; still atomic
# and in the caller's transaction. SQLite has no such CTE, and a batch of several events
# keeps the executemany (one pipelined round trip on psycopg) and the head update.
_APPEND_ONE = (
    update(AuditChain)
    .where(col(AuditChain.id) == _CHAIN_ID)
    .values(head=bindparam("head", type_=String))
    .add_cte(
        insert(AuditEvent)
        .values({column: bindparam(f"event_{column}") for column in AuditEvent.model_fields})
        .cte("appended")
    )
)
# PostgreSQL, one event when this process knows the head (it committed the last event): the
# head moves only if it is still that one (and the caller's condition on other rows holds),
# and the event is inserted only if it moved; one autocommitted statement, so one round
# trip instead of BEGIN, reserve, append, COMMIT. A head someone else moved meanwhile
# matches no row, nothing is written, and the caller appends the usual way.
_EVENT_COLUMNS = tuple(AuditEvent.model_fields)
_append_at_head_statements: dict[int, tuple[ColumnElement[bool] | None, Executable]] = {}


def _append_at_head_statement(condition: ColumnElement[bool] | None) -> Executable:
    """The at-head append for `condition` (a module constant), built once per condition."""
    built = _append_at_head_statements.get(id(condition))
    if built is not None:
        return built[1]
    known_head = [
        col(AuditChain.id) == _CHAIN_ID,
        col(AuditChain.seq) == bindparam("known_seq", type_=Integer),
        col(AuditChain.head) == bindparam("known_head", type_=String),
        col(AuditChain.kek_id) == bindparam("known_kek_id", type_=String),
        col(AuditChain.wrapped_key) == bindparam("known_wrapped_key", type_=LargeBinary),
    ]
    moved = (
        update(AuditChain)
        .where(*known_head, *([] if condition is None else [condition]))
        .values(seq=bindparam("new_seq", type_=Integer), head=bindparam("new_head", type_=String))
        .returning(col(AuditChain.id))
        .cte("moved")
    )
    event = sa_select(
        *(
            bindparam(f"event_{name}", type_=AuditEvent.__table__.c[name].type)  # type: ignore[attr-defined]
            for name in _EVENT_COLUMNS
        )
    ).select_from(moved)
    statement = insert(AuditEvent).from_select(_EVENT_COLUMNS, event).returning(col(AuditEvent.seq))
    # Keyed by identity, so the condition is kept alive with its statement.
    _append_at_head_statements[id(condition)] = (condition, statement)
    return statement


_DOMAIN = b"BYOK-AUDIT\x01"
# Column sizes (see `vault.models.AuditEvent`): longer values are cut, never rejected,
# so an odd step id or file path cannot stop a key use from being recorded.
_LIMITS = {
    "actor": 254,
    "org": 64,
    "action": 32,
    "key_id": 40,
    "key_name": 64,
    "run_id": 64,
    "step": 200,
    "detail": 500,
}
# What the chain's MAC key is wrapped with; `vault.rewrap` re-wraps it under a new KEK.
CHAIN_KEY_AD = AssociatedData(purpose=Purpose.AUDIT_KEY, org="", record="audit-chain", version=1)


class Outcome(StrEnum):
    """How an audited action ended."""

    OK = "ok"
    DENIED = "denied"  # refused by authentication or the role matrix
    FAILED = "failed"  # allowed, but it did not work (no such key, undecryptable, …)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What to record: who did what, to which key version, in which run and step."""

    action: str
    outcome: Outcome
    actor: str
    org: str | None = None
    key_id: str | None = None
    key_name: str | None = None
    key_version: int | None = None
    run_id: str | None = None
    step: str | None = None
    detail: str | None = None


_FIELDS = tuple(f.name for f in dataclass_fields(AuditRecord))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A recorded event: the record, its number and time, and its place in the chain."""

    seq: int
    at: datetime
    record: AuditRecord
    prev: str
    mac: str

    def to_json(self) -> dict[str, Any]:
        """The stable `byok audit --json` shape."""
        fields = _columns(self.record)
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            **fields,
            "prev": self.prev,
            "mac": self.mac,
        }


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The chain's head as this process last committed it, and the key that signs what follows.

    Kept so the next key use can append in one statement (`AuditLog.append_at_head`)
    without first reading the head under a lock. The key is the chain's MAC key:
    never shown, hence no repr.
    """

    seq: int
    mac: str
    kek_id: str
    wrapped_key: bytes = field(repr=False)
    key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of verifying the whole chain: intact, or the first problem found."""

    events: int
    head: str
    problem: str | None = None
    bad_seq: int | None = None

    @property
    def intact(self) -> bool:
        """True when every event verified and the head matches the last one."""
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        """The stable `byok audit verify --json` shape."""
        return {
            "intact": self.intact,
            "events": self.events,
            "head": self.head,
            "problem": self.problem,
            "bad_seq": self.bad_seq,
        }


class AuditLog:
    """Appends to, reads and verifies the audit chain of one vault database."""

    def __init__(
        self,
        engine: Engine,
        keks: KekProvider,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._keks = keks
        self._clock = clock
        # The chain's MAC key, unwrapped once per wrapped form (a master-key rotation
        # re-wraps it, which shows as a new entry). It signs events; it is no provider key.
        self._chain_keys: dict[tuple[str, bytes], bytes] = {}
        # The head after the last append this process committed through `commit_many`
        # or `append_at_head`; None until then, or once another writer has moved it.
        self._head: ChainHead | None = None

    @property
    def engine(self) -> Engine:
        """The vault database this chain lives in."""
        return self._engine

    def ensure_chain(self) -> None:
        """Create the chain (its head and wrapped MAC key) if this database has none yet."""
        with Session(self._engine) as session:
            if session.get(AuditChain, _CHAIN_ID) is not None:
                return
            kek = self._keks.primary
            session.add(
                AuditChain(
                    id=_CHAIN_ID,
                    seq=0,
                    head=GENESIS,
                    kek_id=kek.kek_id,
                    wrapped_key=kek.wrap(new_data_key(), CHAIN_KEY_AD),
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # another process created it first

    def append(self, session: Session, record: AuditRecord) -> AuditEntry:
        """Add `record` to the chain inside the caller's transaction (which must commit it)."""
        return self.append_many(session, [record])[0]

    def append_many(self, session: Session, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        """Add `records`, in order, to the chain inside the caller's transaction.

        One `UPDATE … RETURNING` reserves their consecutive numbers, one insert
        writes them and one update moves the head (on PostgreSQL a lone event's
        insert and head move are one statement): the chain row is locked once
        for all of them, which is what lets `AuditBatch` commit many key uses together.
        """
        return self._append_many(session, records)[0]

    def commit_many(self, session: Session, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        """Append `records` in `session`'s transaction and commit it; remember the new head."""
        entries, head = self._append_many(session, records)
        session.commit()
        if head is not None:
            self._head = head
        return entries

    def append_at_head(
        self,
        record: AuditRecord,
        *,
        only_if: ColumnElement[bool] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> AuditEntry | None:
        """Append `record` in one autocommitted statement, if this process knows the head.

        PostgreSQL only. The event chains to the head this process last
        committed; the statement moves the head and inserts the event only if
        the head is still that one and `only_if` (a module-level condition on
        other rows, with `params`) holds, and commits before it returns. None
        means nothing was written (the head is unknown, another writer moved
        it, or `only_if` failed): append with `commit_many`, which locks the head.
        """
        head = self._head
        if head is None or self._engine.dialect.name != "postgresql":
            return None
        seq, at, fitted = head.seq + 1, _utc(self._clock()), _fit(record)
        fields = _columns(fitted)
        mac = _mac(head.key, seq, at, head.mac, fields)
        event = {"seq": seq, "at": at, "prev": head.mac, "mac": mac, **fields}
        try:
            with self._engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT")
                appended = connection.execute(
                    _append_at_head_statement(only_if),
                    {
                        **(params or {}),
                        **{f"event_{name}": value for name, value in event.items()},
                        "known_seq": head.seq,
                        "known_head": head.mac,
                        "known_kek_id": head.kek_id,
                        "known_wrapped_key": head.wrapped_key,
                        "new_seq": seq,
                        "new_head": mac,
                    },
                ).first()
        except BaseException:
            self._head = None  # the outcome is unknown: read the head again next time
            raise
        if appended is None:
            if only_if is None:
                self._head = None  # else the condition may be what failed: keep the head
            return None
        self._head = replace(head, seq=seq, mac=mac)
        return AuditEntry(seq=seq, at=at, record=fitted, prev=head.mac, mac=mac)

    def _append_many(
        self, session: Session, records: Sequence[AuditRecord]
    ) -> tuple[list[AuditEntry], ChainHead | None]:
        if not records:
            return [], None
        connection = session.connection()  # the caller's transaction
        bumped = connection.execute(_RESERVE, {"count": len(records)}).one_or_none()
        if bumped is None:
            raise VaultError("the audit chain is missing: open the vault with KeyStore.open()")
        seq, prev = int(bumped[0]) - len(records), str(bumped[1])
        kek_id, wrapped = str(bumped[2]), bytes(bumped[3])
        key = self._unwrap_chain_key(kek_id, wrapped)
        at = _utc(self._clock())
        entries: list[AuditEntry] = []
        rows: list[dict[str, Any]] = []
        for record in records:
            seq += 1
            fitted = _fit(record)
            fields = _columns(fitted)
            mac = _mac(key, seq, at, prev, fields)
            rows.append({"seq": seq, "at": at, "prev": prev, "mac": mac, **fields})
            entries.append(AuditEntry(seq=seq, at=at, record=fitted, prev=prev, mac=mac))
            prev = mac
        # Core statements, not the ORM's unit of work: no flush bookkeeping per event.
        if len(rows) == 1 and connection.dialect.name == "postgresql":
            event = {f"event_{column}": value for column, value in rows[0].items()}
            connection.execute(_APPEND_ONE, {**event, "head": prev})
        else:
            connection.execute(_INSERT, rows)
            connection.execute(_MOVE_HEAD, {"head": prev})
        return entries, ChainHead(seq, prev, kek_id, wrapped, key)

    def record(self, record: AuditRecord) -> AuditEntry:
        """Append `record` in a transaction of its own (denials, key use, master-key events)."""
        with Session(self._engine) as session:
            return self.commit_many(session, [record])[0]

    def entries(
        self, *, orgs: Collection[str] | None, include_install: bool = False, limit: int = 50
    ) -> list[AuditEntry]:
        """The newest `limit` events of `orgs` (all orgs when None), oldest first.

        `include_install` adds the events that belong to no org (master-key
        operations, failed sign-ins), which only the install's owners see.
        """
        statement = select(AuditEvent).order_by(col(AuditEvent.seq).desc()).limit(limit)
        if orgs is not None:
            conditions = [col(AuditEvent.org).in_(list(orgs))]
            if include_install:
                conditions.append(col(AuditEvent.org).is_(None))
            statement = statement.where(or_(*conditions))
        with Session(self._engine) as session:
            rows = list(session.exec(statement))
        return [_entry(row) for row in reversed(rows)]

    def verify(self) -> ChainReport:
        """Recompute every event's MAC and link, and compare the last one with the head."""
        with Session(self._engine) as session:
            chain = session.get(AuditChain, _CHAIN_ID)
            if chain is None:
                return ChainReport(events=0, head=GENESIS)
            key = self._chain_key(session)
            expected_seq, prev, count = 1, GENESIS, 0
            for row in _all_events(session):
                problem = _check(key, row, expected_seq, prev)
                if problem is not None:
                    return ChainReport(events=count, head=prev, problem=problem, bad_seq=row.seq)
                expected_seq, prev, count = row.seq + 1, row.mac, count + 1
            if chain.seq != count or chain.head != prev:
                problem = (
                    f"the chain's head says {chain.seq} events but {count} verify: events after "
                    f"{count} were deleted, or the head was edited"
                )
                return ChainReport(events=count, head=prev, problem=problem, bad_seq=count + 1)
            return ChainReport(events=count, head=prev)

    def _chain_key(self, session: Session) -> bytes:
        chain = session.get(AuditChain, _CHAIN_ID)
        if chain is None:
            raise VaultError("the audit chain is missing: open the vault with KeyStore.open()")
        return self._unwrap_chain_key(chain.kek_id, chain.wrapped_key)

    def _unwrap_chain_key(self, kek_id: str, wrapped: bytes) -> bytes:
        key = self._chain_keys.get((kek_id, wrapped))
        if key is None:
            key = self._keks.get(kek_id).unwrap(wrapped, CHAIN_KEY_AD)
            self._chain_keys[(kek_id, wrapped)] = key
        return key


def _all_events(session: Session) -> Iterator[AuditEvent]:
    statement = select(AuditEvent).order_by(col(AuditEvent.seq)).execution_options(yield_per=500)
    yield from session.exec(statement)


def _check(key: bytes, row: AuditEvent, expected_seq: int, prev: str) -> str | None:
    if row.seq != expected_seq:
        return f"event {expected_seq} is missing (the next event is {row.seq})"
    if not hmac.compare_digest(row.prev, prev):
        return f"event {row.seq} does not follow event {row.seq - 1}: events were removed"
    fields = {name: getattr(row, name) for name in _FIELDS}
    if not hmac.compare_digest(row.mac, _mac(key, row.seq, row.at, row.prev, fields)):
        return f"event {row.seq} was altered after it was recorded"
    return None


def _mac(key: bytes, seq: int, at: datetime, prev: str, fields: dict[str, Any]) -> str:
    document = {"seq": seq, "at": _iso(at), "prev": prev, **fields}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, _DOMAIN + canonical.encode(), hashlib.sha256).hexdigest()


def _fit(record: AuditRecord) -> AuditRecord:
    cut: dict[str, Any] = {
        name: value[: limit - 1] + "…"
        for name, limit in _LIMITS.items()
        if isinstance(value := getattr(record, name), str) and len(value) > limit
    }
    return replace(record, **cut) if cut else record


def _columns(record: AuditRecord) -> dict[str, Any]:
    # What `dataclasses.asdict` gave, without its deep copy of every (immutable) value:
    # that copy was a tenth of a key resolution's CPU.
    fields = {name: getattr(record, name) for name in _FIELDS}
    fields["outcome"] = record.outcome.value
    return fields


def _entry(row: AuditEvent) -> AuditEntry:
    record = AuditRecord(
        action=row.action,
        # Shown as failed if edited into nonsense; `verify` reports the edit.
        outcome=Outcome(row.outcome) if row.outcome in set(Outcome) else Outcome.FAILED,
        actor=row.actor,
        org=row.org,
        key_id=row.key_id,
        key_name=row.key_name,
        key_version=row.key_version,
        run_id=row.run_id,
        step=row.step,
        detail=row.detail,
    )
    return AuditEntry(seq=row.seq, at=_utc(row.at), record=record, prev=row.prev, mac=row.mac)


def _utc(moment: datetime) -> datetime:
    # SQLite drops the zone; every timestamp is written in UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat(timespec="microseconds")
