"""The benchmark environment: simulators, Prefect targets, a vault with keys pointing at them.

A *target* is where flows run and where the vault and ledger live:

    ephemeral   the session's Prefect test API (SQLite), vault and ledger in SQLite
                under a temporary BYOK_HOME: what `byok run` uses with nothing set
    postgres    a real `prefect server` on PostgreSQL, vault and ledger in another
                PostgreSQL database: a production deployment

Each simulator latency has its own simulator process and its own org, whose one
OpenAI key points at that simulator, so a recipe picks its latency by org.
"""

from __future__ import annotations

import base64
import inspect
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prefect.context import _temporary_global_settings_context, get_settings_context
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, temporary_settings

from providers.types import Protocol
from tests.benchmarks.pgserver import PostgresDatabase, PrefectServer
from tests.benchmarks.prefect_retries import PrefectRetries, counting_prefect_retries
from tests.benchmarks.simproc import SimulatorProcess
from tests.benchmarks.sizes import Sizes
from vault import KeyStore
from vault.settings import database_url

__all__ = ["KEY", "Bench", "Target", "open_bench"]

KEY = "sk-bench-0123456789abcdef"  # the simulator accepts any key
_DRAIN_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Target:
    """Where flows run (`prefect_api_url`; None: the current API) and the BYOK database."""

    name: str
    prefect_api_url: str | None
    database_url: str


@dataclass
class Bench:
    """What every scenario needs; built by `open_bench`."""

    sizes: Sizes
    home: Path
    targets: list[Target]
    simulators: dict[float, SimulatorProcess]
    retries: PrefectRetries  # Prefect client retries so far; a run with one is measured again
    _orgs: set[tuple[str, str]] = field(default_factory=set)

    def simulator(self, latency_ms: float) -> SimulatorProcess:
        """The simulator process that answers after `latency_ms`."""
        return self.simulators[latency_ms]

    def org(self, latency_ms: float) -> str:
        """The org whose OpenAI key reaches the `latency_ms` simulator, in the active database."""
        org = f"lat{int(latency_ms)}"
        url = database_url()
        if (url, org) not in self._orgs:
            KeyStore.open().add_key(
                org=org,
                provider="openai",
                secret=KEY,
                base_url=self.simulator(latency_ms).base_url(Protocol.OPENAI),
            )
            self._orgs.add((url, org))
        return org

    @contextmanager
    def database(self, target: Target) -> Iterator[Target]:
        """Use `target`'s BYOK database (vault and ledger) inside the block."""
        with pytest.MonkeyPatch.context() as env:
            env.setenv("BYOK_DATABASE_URL", target.database_url)
            yield target

    @asynccontextmanager
    async def on(self, target: Target) -> AsyncIterator[Target]:
        """Run flows against `target`'s Prefect API and use its BYOK database.

        Prefect's event and log workers are process-wide and bound to the API
        they started with, so they are drained on the way in and out; the next
        flow run starts fresh ones for the API in force.
        """
        with self.database(target), ExitStack() as stack:
            if target.prefect_api_url is not None:
                await _drain_prefect_workers()
                stack.enter_context(temporary_settings({PREFECT_API_URL: target.prefect_api_url}))
                # The workers' own API clients read the process-global settings,
                # as in `prefect_test_harness`.
                stack.enter_context(_temporary_global_settings_context(get_settings_context()))
            try:
                yield target
            finally:
                if target.prefect_api_url is not None:
                    await _drain_prefect_workers()


async def _drain_prefect_workers() -> None:
    """Send what Prefect's event and log workers hold, and stop them."""
    for worker in (EventsWorker, APILogWorker):
        pending = worker.drain_all(timeout=_DRAIN_TIMEOUT_S)
        if inspect.isawaitable(pending):
            await pending


@contextmanager
def open_bench(sizes: Sizes, home: Path, postgres_admin_url: str) -> Iterator[Bench]:
    """Start the simulators (and the PostgreSQL target if `sizes.postgres`); stop them after.

    The session's Prefect API (the test harness) must already be active: it is the
    ephemeral target.
    """
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as env, ExitStack() as stack:
        env.setenv("BYOK_HOME", str(home))
        env.setenv("BYOK_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
        env.delenv("BYOK_MASTER_KEY_FILE", raising=False)
        env.delenv("BYOK_DATABASE_URL", raising=False)
        simulators = {
            latency: stack.enter_context(SimulatorProcess(latency))
            for latency in sorted(sizes.latencies)
        }
        targets = [Target("ephemeral", None, f"sqlite:///{home / 'byok.db'}")]
        if sizes.postgres:
            server = stack.enter_context(PrefectServer(postgres_admin_url))
            vault_db = stack.enter_context(PostgresDatabase(postgres_admin_url, "byok_bench_vault"))
            targets.append(Target("postgres", server.api_url, vault_db.url("psycopg")))
        stack.callback(_dispose_engines)
        retries = stack.enter_context(counting_prefect_retries())
        yield Bench(sizes, home, targets, simulators, retries)


def _dispose_engines() -> None:
    # Pooled connections to a database about to be dropped must be closed first.
    from vault.db import reset_engines

    reset_engines()
