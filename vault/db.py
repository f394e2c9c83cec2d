"""One SQLAlchemy engine per database URL, and the schema every table lives in.

The vault's tables and the usage ledger share one database so a run's key use
and its cost can be joined; both register on `SQLModel.metadata`.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import create_engine

from vault.settings import database_url

__all__ = ["get_engine", "reset_engines"]

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the configured database), schema ready."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _make_engine(url)
            _create_schema(engine)
            _engines[url] = engine
        return engine


def reset_engines() -> None:
    """Dispose every cached engine (tests switch databases between cases)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the ledger write while the CLI reads; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _create_schema(engine: Engine) -> None:
    # Alembic owns the schema: every branch (vault, ledger) to its head.
    from vault.migrate import upgrade

    upgrade(engine)
