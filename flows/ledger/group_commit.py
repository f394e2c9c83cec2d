"""Group commit: ledger rows of calls that finish together share one transaction.

Fifty parallel steps finishing within a few milliseconds used to make fifty
transactions, one after the other on the event loop, each a round trip and
(on SQLite) an fsync, while no other step could advance. Here a call hands
its row to the writer of its event loop and database and waits; the writer
commits everything that is waiting in one transaction, in a worker thread,
then wakes each caller whose row it committed.

Durability is unchanged: `write` returns only once the transaction holding
the row has committed, so a step never reports success before its ledger row
is durable, and a process killed mid-run loses no call that already
returned (invariant 4). A batch that fails is written again row by row
(inserts are idempotent on `call_key`), so one bad row fails only its own
call. A caller cancelled while waiting does not withdraw its row: the call
was made, so it is recorded.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping

from sqlalchemy import Engine

from flows.ledger.recorder import record_many

__all__ = ["write_row"]

_Row = Mapping[str, object]


class _Writer:
    """Commits the rows waiting on one event loop for one database, a batch at a time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._waiting: list[tuple[_Row, asyncio.Future[None]]] = []
        self._drain: asyncio.Task[None] | None = None

    async def write(self, row: _Row) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((row, done))
        if self._drain is None:
            self._drain = loop.create_task(self._commit_waiting())
        await done

    async def _commit_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                errors = await asyncio.to_thread(_commit, self._engine, [row for row, _ in batch])
                for (_, done), error in zip(batch, errors, strict=True):
                    if done.done():
                        continue  # its caller was cancelled; the row is committed anyway
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
        finally:
            self._drain = None


def _commit(engine: Engine, rows: list[_Row]) -> list[BaseException | None]:
    """Commit `rows` together; if that fails, each on its own. One error slot per row."""
    try:
        record_many(engine, rows)
    except Exception as error:
        if len(rows) == 1:
            return [error]
    else:
        return [None] * len(rows)
    errors: list[BaseException | None] = []
    for row in rows:
        try:
            record_many(engine, [row])
        except Exception as error:
            errors.append(error)
        else:
            errors.append(None)
    return errors


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Engine, _Writer]] = (
    weakref.WeakKeyDictionary()
)


async def write_row(engine: Engine, row: _Row) -> None:
    """Insert `row` (from `recorder.row_values`) and return once it is committed."""
    writers = _writers.setdefault(asyncio.get_running_loop(), {})
    writer = writers.get(engine)
    if writer is None:
        writer = writers[engine] = _Writer(engine)
    await writer.write(row)
