"""One SQLAlchemy engine per database URL, and the schema every table lives in.

The vault's tables and the usage ledger share one database so a run's key use
and its cost can be joined; every table registers on `SQLModel.metadata` and
Alembic (`vault.migrate`) owns the schema.

A new local SQLite file starts as a copy of a template this process migrated
once, instead of replaying every migration: the result is byte-for-byte what
the migrations build, and a CLI command or a test gets a fresh vault in
milliseconds. Any other database is migrated in place.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import create_engine

from vault.settings import database_url

__all__ = ["get_engine", "reset_engines"]

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
