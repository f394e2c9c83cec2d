"""Group commit for audit events: key uses that happen together share one transaction.

Every key use appends to the one audit chain, which means locking its single
head row until the transaction commits (on PostgreSQL, until the WAL flush).
Fifty parallel steps resolving their keys used to queue one commit behind the
other. Here the first thread to arrive becomes the leader: it appends every
event waiting at that moment with one `AuditLog.append_many` and one commit,
then wakes each waiting thread with its entry; events that arrived meanwhile
are committed by the next leader, one of those waiting threads.

On PostgreSQL the callers' sessions autocommit (their reads need no
transaction, and skipping one spares its BEGIN and ROLLBACK), so nothing is
appended in them: a lone event goes in one autocommitted statement at the
head this process last committed (`AuditLog.append_at_head`), and a batch, or
a lone event whose head another writer has moved, in a transaction of its own.

Nothing is weaker than one transaction per event: `record` returns only once
the transaction holding its event has committed, so a caller (`KeyStore.resolve`)
hands out a key only after its use is durably audited, and a failed commit
fails its callers (fail closed). A batch that fails is appended again event
by event, so one bad event fails only its own caller. The events of a batch
are chained in arrival order, so `byok audit verify` sees one intact chain.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlmodel import Session

from vault.audit import AuditEntry, AuditLog, AuditRecord
from vault.errors import VaultError

__all__ = ["AuditBatch"]


@dataclass(slots=True)
class _Pending:
    record: AuditRecord
    woken: threading.Event = field(default_factory=threading.Event)
    entry: AuditEntry | None = None
    error: BaseException | None = None
    lead: bool = False  # set when this waiter is to commit the next batch


class AuditBatch:
    """Appends events to `log`'s chain in group commits; safe to call from many threads."""

    def __init__(self, log: AuditLog, *, autocommit_sessions: bool = False) -> None:
        """`autocommit_sessions`: the sessions callers pass hold no transaction to append in."""
        self._log = log
        self._own_transactions = autocommit_sessions
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._leading = False

    def record(self, record: AuditRecord, session: Session) -> AuditEntry:
        """Append `record` and return once the transaction holding it has committed.

        `session` is the caller's, with nothing written in it yet: a leader
        commits the batch in it (so a lone call costs one transaction, as
        before) unless callers' sessions autocommit; a waiter's is rolled back
        first so it holds no connection.
        """
        session.expunge_all()  # the caller's rows stay loaded whatever happens to the session
        pending = _Pending(record)
        with self._lock:
            self._waiting.append(pending)
            pending.lead = not self._leading
            self._leading = True
        if not pending.lead or self._own_transactions:
            session.rollback()  # so it holds no connection while it waits or commits elsewhere
        if not pending.lead:
            pending.woken.wait()
        if pending.lead:
            self._lead(session)
        if pending.error is not None:
            raise pending.error
        assert pending.entry is not None
        return pending.entry

    def _lead(self, session: Session) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            _commit(self._log, batch, None if self._own_transactions else session)
        finally:
            with self._lock:
                if self._waiting:
                    # Hand over to a waiter, so no thread commits other threads' events forever.
                    following = self._waiting[0]
                    following.lead = True
                    following.woken.set()
                else:
                    self._leading = False
            for pending in batch:
                if pending.entry is None and pending.error is None:
                    pending.error = VaultError("the audit event was not recorded; try again")
                pending.lead = False
                pending.woken.set()


def _commit(log: AuditLog, batch: list[_Pending], session: Session | None) -> None:
    """Commit `batch` together (in `session`, else on its own); if that fails, event by event."""
    try:
        entries = _together(log, [pending.record for pending in batch], session)
    except Exception as error:
        if len(batch) == 1:
            batch[0].error = error
            return
    else:
        for pending, entry in zip(batch, entries, strict=True):
            pending.entry = entry
        return
    for pending in batch:
        try:
            pending.entry = _append(log, [pending.record])[0]
        except Exception as error:
            pending.error = error


def _together(
    log: AuditLog, records: list[AuditRecord], session: Session | None
) -> list[AuditEntry]:
    if session is None:
        if len(records) == 1 and (entry := log.append_at_head(records[0])) is not None:
            return [entry]
        return _append(log, records)
    try:
        return log.commit_many(session, records)
    except BaseException:
        session.rollback()
        raise


def _append(log: AuditLog, records: list[AuditRecord]) -> list[AuditEntry]:
    with Session(log.engine) as session:
        return log.commit_many(session, records)
