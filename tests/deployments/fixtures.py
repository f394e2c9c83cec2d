"""Fixtures for tests that run real Prefect servers, workers and `byok` processes.

Imported by the conftest of each folder that needs them; the Prefect server
is shared by all of them (see `processes.shared_prefect_server`).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from providers.simulator import SimulatorServer
from providers.types import Protocol
from tests.deployments.processes import (
    PrefectServer,
    child_env,
    database_url,
    shared_prefect_server,
    throwaway_database,
)

__all__ = ["SharedVault", "prefect_server", "shared_vault"]


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real `prefect server` on PostgreSQL, with its UI, for the session."""
    with shared_prefect_server(tmp_path_factory.mktemp("prefect-server")) as server:
        yield server


@dataclass(frozen=True)
class SharedVault:
    """A vault and ledger on PostgreSQL, as every machine of a fleet would share it."""

    database_url: str
    master_key: str
    home: Path
    secrets: list[str]  # the provider keys stored in it

    def env(self, server: PrefectServer, name: str, **settings: str) -> dict[str, str]:
        """The environment of a process on a fleet machine called `name`."""
        return child_env(
            PREFECT_API_URL=server.api_url,
            PREFECT_HOME=str(self.home / name / "prefect"),
            BYOK_HOME=str(self.home / name / "byok"),
            BYOK_DATABASE_URL=self.database_url,
            BYOK_MASTER_KEY=self.master_key,
            **settings,
        )


@pytest.fixture
def shared_vault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim: SimulatorServer
) -> Iterator[SharedVault]:
    """A PostgreSQL vault with one key per provider pointing at the simulator.

    This process uses it too (to add keys and read the ledger).
    """
    from vault import KeyStore
    from vault.db import reset_engines

    with throwaway_database() as name:
        vault = SharedVault(
            database_url=database_url(name, "psycopg"),
            master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
            home=tmp_path,
            secrets=[f"sk-e2e-{p.value}-{secrets.token_hex(8)}" for p in Protocol],
        )
        monkeypatch.setenv("BYOK_DATABASE_URL", vault.database_url)
        monkeypatch.setenv("BYOK_MASTER_KEY", vault.master_key)
        monkeypatch.setenv("BYOK_HOME", str(tmp_path / "test-process"))
        monkeypatch.delenv("BYOK_MASTER_KEY_FILE", raising=False)
        reset_engines()
        store = KeyStore.open()
        for protocol, secret in zip(Protocol, vault.secrets, strict=True):
            store.add_key(
                org="default",
                provider=protocol.value,
                secret=secret,
                base_url=sim.base_url(protocol),
            )
        try:
            yield vault
        finally:
            reset_engines()
