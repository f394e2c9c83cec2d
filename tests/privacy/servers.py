"""The three places a privacy run's Prefect data can live, as context managers.

* the ephemeral API: no server; `byok run` starts Prefect's temporary API in
  its own process, on SQLite under the user's PREFECT_HOME;
* `prefect server` on SQLite, in its own PREFECT_HOME;
* `prefect server` on a throwaway PostgreSQL database.

Servers log at DEBUG too, to their own log file, which is searched.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.deployments.processes import (
    Process,
    child_env,
    database_url,
    free_port,
    start_process,
    throwaway_database,
    wait_until,
)

__all__ = ["DEBUG_LOGGING", "Backend", "backend"]

# Every logger at DEBUG: root (httpx, httpcore, sqlalchemy…), Prefect's, and ours,
# ours and the HTTP libraries also sent to the Prefect API's log table.
DEBUG_LOGGING = {
    "PREFECT_LOGGING_LEVEL": "DEBUG",
    "PREFECT_LOGGING_ROOT_LEVEL": "DEBUG",
    "PREFECT_INTERNAL_LOGGING_LEVEL": "DEBUG",
    "PREFECT_SERVER_LOGGING_LEVEL": "DEBUG",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "httpx,httpcore,flows,providers,vault",
    "PREFECT_LOGGING_COLORS": "false",
}


@dataclass(frozen=True)
class Backend:
    """Where Prefect keeps its data for one privacy run, and how a user reaches it."""

    name: str
    homes: list[Path]  # the server's home, if it has one
    api_url: str | None  # None: the ephemeral API inside each `byok run`
    postgres: str | None  # the PostgreSQL database of the server, if any
    server: Process | None

    def user_env(self, byok_home: Path, prefect_home: Path) -> dict[str, str]:
        """The environment of a user's `byok` commands."""
        settings = {
            "PREFECT_HOME": str(prefect_home),
            "BYOK_HOME": str(byok_home),
            **DEBUG_LOGGING,
        }
        if self.api_url is not None:
            settings["PREFECT_API_URL"] = self.api_url
        return child_env(**settings)


@contextlib.contextmanager
def backend(name: str, root: Path) -> Iterator[Backend]:
    """The backend called `name` ("ephemeral", "sqlite" or "postgres") under `root`."""
    if name == "ephemeral":
        yield Backend(name, [], None, None, None)
        return
    with contextlib.ExitStack() as stack:
        settings = {"PREFECT_HOME": str(root / "server"), "PREFECT_UI_ENABLED": "false"}
        database = None
        if name == "postgres":
            database = stack.enter_context(throwaway_database())
            settings["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url(database, "asyncpg")
        server, api_url = _start_server(root, settings)
        try:
            yield Backend(name, [root / "server"], api_url, database, server)
        finally:
            server.stop()


def _start_server(root: Path, settings: dict[str, str]) -> tuple[Process, str]:
    port = free_port()
    env = child_env(
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
        **DEBUG_LOGGING,
        **settings,
    )
    command = [sys.executable, "-m", "prefect", "server", "start"]
    process = start_process("prefect-server", command, env, root / "logs")
    api_url = f"http://127.0.0.1:{port}/api"
    wait_until(
        lambda: _healthy(api_url) or process.popen.poll() is not None,
        timeout=180,
        what="the Prefect server to answer",
    )
    assert process.popen.poll() is None, process.output()
    return process, api_url


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=1.0).status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False
