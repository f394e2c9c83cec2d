"""A real `prefect server` on a throwaway PostgreSQL database, for the duration of a block.

The ephemeral API (`byok run` with no `PREFECT_API_URL`) keeps Prefect's state in
SQLite; production runs against a server on PostgreSQL, which answers
concurrent writes without SQLite's lock back-offs. The harness measures both.
The database and the Prefect home are created here and removed on exit.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import psycopg

__all__ = ["PostgresDatabase", "PrefectServer"]

_START_TIMEOUT_S = 180.0
_POLL_S = 0.25
_STOP_TIMEOUT_S = 20.0


class PostgresDatabase:
    """A database created on entry and dropped (forcibly) on exit."""

    def __init__(self, admin_url: str, prefix: str) -> None:
        """`admin_url` is a psycopg URL of a database the admin user can connect to."""
        self._admin_url = admin_url
        self.name = f"{prefix}_{secrets.token_hex(6)}"

    def url(self, driver: str) -> str:
        """The SQLAlchemy URL of this database with `driver` (`asyncpg`, `psycopg`)."""
        server = self._admin_url.rsplit("/", 1)[0].removeprefix("postgresql://")
        return f"postgresql+{driver}://{server}/{self.name}"

    def __enter__(self) -> Self:
        with psycopg.connect(self._admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with psycopg.connect(self._admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class PrefectServer:
    """`prefect server start` on a free loopback port, its state in a fresh PostgreSQL database."""

    def __init__(self, admin_url: str) -> None:
        self._admin_url = admin_url
        self._stack = ExitStack()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self.port = 0

    @property
    def api_url(self) -> str:
        """What clients set `PREFECT_API_URL` to."""
        return f"http://127.0.0.1:{self.port}/api"

    def __enter__(self) -> Self:
        try:
            database = self._stack.enter_context(PostgresDatabase(self._admin_url, "byok_bench"))
            home = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="prefect-")))
            self.port = _free_port()
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
                "PREFECT_HOME": str(home),
                "PREFECT_API_DATABASE_CONNECTION_URL": database.url("asyncpg"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_UI_ENABLED": "false",
                "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
            }
            self._log = home / "server.log"
            prefect = Path(sys.executable).with_name("prefect")
            command = [str(prefect), "server", "start", "--host", "127.0.0.1"]
            command += ["--port", str(self.port)]
            with self._log.open("wb") as log:
                self._process = subprocess.Popen(
                    command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            self._stack.callback(self._stop)
            self._wait_healthy()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    def _wait_healthy(self) -> None:
        """Poll the health endpoint: the server's only signal that migrations are done."""
        deadline = time.monotonic() + _START_TIMEOUT_S
        process = self._process
        assert process is not None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"`prefect server start` exited early:\n{self._tail()}")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(_POLL_S)
        raise RuntimeError(f"`prefect server start` not healthy in {_START_TIMEOUT_S:g} s")

    def _tail(self) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")[-2000:]

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)  # the server and the uvicorn it spawned
        try:
            process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
