"""Every vault test runs in its own BYOK home (SQLite database, master key ring)."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from vault import KeyStore


@pytest.fixture(autouse=True)
def home(byok_home: Path) -> Path:
    """The suite's per-test BYOK home (random `BYOK_MASTER_KEY`, fresh engines)."""
    return byok_home


@pytest.fixture
def store() -> KeyStore:
    """A key store over this test's SQLite vault."""
    return KeyStore.open()


@pytest.fixture
def secret() -> str:
    """A provider key unique to this test, so a leak search cannot match by accident."""
    return f"sk-test-{secrets.token_urlsafe(32)}"


@pytest.fixture
def sql(home: Path) -> Callable[..., list[tuple[Any, ...]]]:
    """Run SQL on the vault database behind the store's back, as someone with file access."""

    def run(statement: str, *params: object) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(home / "byok.db")) as connection, connection:
            return connection.execute(statement, params).fetchall()

    return run
