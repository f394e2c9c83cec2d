"""One SQLAlchemy engine per database URL, and the schema every table lives in.

The vault's tables and the usage ledger share one database so a run's key use
and its cost can be joined; every table registers on `SQLModel.metadata` and
Alembic (`vault.migrate`) owns the schema.

A new local SQLite file starts as a copy of a template this process migrated
once, instead of replaying every migration: the result is byte-for-byte what
the migrations build, and a CLI command or a test gets a fresh vault in
milliseconds. Any other database is migrated in place.

A pooled server connection (PostgreSQL) is pinged on checkout only when it sat
idle in the pool for `PING_AFTER_IDLE_S` or more since its last checkin, not
on every checkout as `pool_pre_ping=True` does: a recipe step checks out three
connections (key lookup and audit, breaker, ledger), and a `SELECT 1` round trip
on each was a measurable share of a step's overhead. A vault or ledger error
fails the step with no retry, so idle connections are still pinged: an idle
timeout drops only those, and a restart or `pg_terminate_backend` mostly finds
connections sitting in the pool, not ones returned seconds ago. The trade: a
connection the server drops and that is checked out again less than
`PING_AFTER_IDLE_S` after its last checkin fails the one statement that finds
out. SQLAlchemy classifies that error as a disconnect and calls
`Pool._invalidate`, which stamps the pool with the current time: every pooled
connection opened before that stamp is closed and reopened at its next checkout,
so a server restart costs one failed statement, not one per pooled connection
(connections checked out at that moment are left alone).
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlmodel import create_engine

from vault.settings import database_url

__all__ = ["PING_AFTER_IDLE_S", "get_engine", "reset_engines"]

PING_AFTER_IDLE_S = 10.0
"""Seconds a pooled server connection may sit idle before its next checkout pings it."""

_CHECKED_IN_AT = "byok_checked_in_at"  # key in a pool record's `info`; gone when it reconnects

_engines: dict[str, Engine] = {}
_lock = threading.Lock()
_template: bytes | None = None  # a freshly migrated SQLite database file, built once


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the configured database), schema ready."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _make_engine(url)
            _create_schema(engine, url)
            _engines[url] = engine
        return engine


def reset_engines() -> None:
    """Dispose every cached engine (tests switch databases between cases)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _make_engine(
    url: str,
    *,
    ping_after_idle_s: float = PING_AFTER_IDLE_S,
    clock: Callable[[], float] = time.monotonic,
) -> Engine:
    """A new engine for `url`; tests pass `ping_after_idle_s` and a fake `clock`.

    `ping_after_idle_s=0` pings every reused connection (what `pool_pre_ping`
    did); a local SQLite file has no server to drop it and is never pinged.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url)
    _ping_after_idle(engine, ping_after_idle_s, clock)
    return engine


def _ping_after_idle(engine: Engine, threshold_s: float, clock: Callable[[], float]) -> None:
    """Ping a connection on checkout when it sat idle in the pool for `threshold_s` or more.

    SQLAlchemy's pessimistic-disconnect pattern: a `checkout` listener that
    raises `DisconnectionError` makes the pool discard that connection and hand
    out a newly opened one. A connection never checked in since it was opened
    (the record's `info` is cleared on every reconnect) was just proven alive by
    connecting, so it is not pinged.
    """

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = clock()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at: float | None = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or clock() - checked_in_at < threshold_s:
            return
        dialect = engine.dialect
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as e:
            if not dialect.is_disconnect(e, dbapi_connection, None):
                raise
            alive = False
        if not alive:
            # Like `pool_pre_ping`: a dead idle connection usually means a server
            # restart, so the pool's other connections from before now are stale too.
            raise exc.InvalidatePoolError("idle pooled connection failed its ping")

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the ledger write while the CLI reads; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _create_schema(engine: Engine, url: str) -> None:
    from vault.migrate import upgrade

    path = _new_sqlite_file(url)
    if path is not None and _start_from_template(path):
        return
    upgrade(engine)  # every branch (vault, ledger, …) to its head; cheap when up to date


def _new_sqlite_file(url: str) -> Path | None:
    """The file a plain `sqlite:///PATH` URL names, if it does not exist yet."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or parsed.query or not name:
        return None
    if name == ":memory:" or name.startswith("file:"):
        return None
    path = Path(name)
    return None if path.exists() else path


def _start_from_template(path: Path) -> bool:
    """Publish a copy of the migrated template at `path`; False when that cannot be done."""
    global _template  # noqa: PLW0603 - a per-process cache, filled once under `_lock`
    if _template is None:
        _template = _build_template()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        tmp.write_bytes(_template)
        os.link(tmp, path)  # appears complete, and never over a database someone just made
    except OSError:  # another process made it first, or the folder is missing: migrate instead
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _build_template() -> bytes:
    from vault.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="byok-schema-") as directory:
        engine = _make_engine(f"sqlite:///{Path(directory) / 'template.db'}")
        try:
            upgrade(engine)
            with engine.connect() as connection:
                connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        finally:
            engine.dispose()
        return (Path(directory) / "template.db").read_bytes()
