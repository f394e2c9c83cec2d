"""Fixtures shared by the whole suite.

Prefect's test harness (a real, temporary Prefect API and database) takes
~15 s to start, so there is one per session, started only by tests that ask
for it. Each test that touches the vault or the ledger gets its own BYOK home.
"""

from __future__ import annotations

import os

# Before Prefect is imported: its settings are read once, at import.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.engine import RetryPolicy
from providers.simulator import SimulatorServer
from providers.simulator.settings import SimulatorSettings
from providers.types import Protocol
from vault import KeyStore

# Retries in tests wait nothing: the policy is the same, only the base delay is 0.
NO_WAIT = RetryPolicy(retries=2, base_delay_s=0.0, max_delay_s=0.0, jitter_factor=0.0)


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A temporary Prefect API for the session; flows run against it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def byok_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh BYOK home with its own SQLite database and master key."""
    from vault.db import reset_engines

    home = tmp_path / "byok-home"
    monkeypatch.setenv("BYOK_HOME", str(home))
    monkeypatch.setenv("BYOK_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    monkeypatch.delenv("BYOK_DATABASE_URL", raising=False)
    monkeypatch.delenv("BYOK_MASTER_KEY_FILE", raising=False)
    monkeypatch.delenv("BYOK_TOKEN", raising=False)  # never the developer's own token
    reset_engines()
    yield home
    reset_engines()


POSTGRES_ADMIN_URL = os.environ.get(
    "BYOK_TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database on the local server, dropped afterwards.

    CI's machine runs PostgreSQL on 127.0.0.1:5432; a test that needs it fails
    (never skips) when it is not there.
    """
    import psycopg

    name = f"byok_test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        from vault.db import reset_engines

        reset_engines()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


@pytest.fixture
def sim(simulator: SimulatorServer) -> Iterator[SimulatorServer]:
    """The module's simulator with no faults, no latency and an empty record."""
    simulator.reset()
    simulator.settings = SimulatorSettings()
    yield simulator
    simulator.reset()
    simulator.settings = SimulatorSettings()


@pytest.fixture
def keys(byok_home: Path, sim: SimulatorServer) -> dict[Protocol, str]:
    """One key per provider in org `default`, each pointing at the simulator."""
    store = KeyStore.open()
    secrets: dict[Protocol, str] = {}
    for protocol in Protocol:
        secrets[protocol] = f"sk-test-{protocol.value}-0123456789abcdef"
        store.add_key(
            org="default",
            provider=protocol.value,
            secret=secrets[protocol],
            base_url=sim.base_url(protocol),
        )
    return secrets
