"""Real Prefect servers, workers and `byok` commands as subprocesses, for end-to-end tests.

Every process is started in its own session and stopped with its whole group
(SIGTERM, then SIGKILL), so nothing a test starts outlives it. Output goes to a
log file per process, which a failing assertion can show.

One Prefect server on a throwaway PostgreSQL database serves the whole test
session (it takes ~15 s to start): `shared_prefect_server` hands the same one
to every fixture that asks and stops it when the last of them is done.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
import psycopg
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun

from tests.conftest import POSTGRES_ADMIN_URL

__all__ = [
    "BYOK",
    "PrefectServer",
    "Process",
    "child_env",
    "free_port",
    "serve_recipes",
    "shared_prefect_server",
    "start_process",
    "throwaway_database",
    "wait_for_runs",
    "wait_until",
]

BYOK = str(Path(sys.executable).with_name("byok"))
_SERVER_START_TIMEOUT_S = 180.0
_STOP_TIMEOUT_S = 20.0


@dataclass
class Process:
    """A started subprocess, its log, and how to stop it and everything it started."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Signal the process group, wait, kill what is left; the exit status."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            return self.popen.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            return self.popen.wait()
        finally:
            # Children the leader left behind (it exited first) go too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)


def start_process(
    name: str, command: list[str], env: Mapping[str, str], logs: Path, cwd: Path | None = None
) -> Process:
    """Start `command` in its own session with `env`, output to `logs/<name>.log`."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("ab") as sink:
        popen = subprocess.Popen(
            command,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(name, popen, log)


def child_env(**settings: str) -> dict[str, str]:
    """This environment without any Prefect or BYOK setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BYOK_"))}
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env.update(settings)
    return env


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, poll: float = 0.25) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """A new PostgreSQL database on the local server; yields its name, drops it after."""
    name = f"byok_e2e_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(name: str, driver: str) -> str:
    """The SQLAlchemy URL of database `name` on the local server, for `driver`."""
    server = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
    return f"postgresql+{driver}://{server}/{name}"


@dataclass(frozen=True)
class PrefectServer:
    """A running `prefect server` and where to reach it."""

    process: Process
    port: int
    database: str  # its PostgreSQL database, for tests that look inside

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def prefect_server_on_postgres(home: Path) -> Iterator[PrefectServer]:
    """`prefect server start` on a throwaway PostgreSQL database, until the block ends."""
    port = free_port()
    with throwaway_database() as name:
        env = child_env(
            PREFECT_HOME=str(home / "prefect-home"),
            PREFECT_API_DATABASE_CONNECTION_URL=database_url(name, "asyncpg"),
            PREFECT_SERVER_API_HOST="127.0.0.1",
            PREFECT_SERVER_API_PORT=str(port),  # the UI finds its API through this
        )
        command = [sys.executable, "-m", "prefect", "server", "start"]
        process = start_process("prefect-server", command, env, home)
        server = PrefectServer(process, port, name)
        try:
            wait_until(
                lambda: _healthy(server) or process.popen.poll() is not None,
                timeout=_SERVER_START_TIMEOUT_S,
                what="the Prefect server to answer",
            )
            assert process.popen.poll() is None, process.output()
            yield server
        finally:
            process.stop()


class _Shared:
    server: PrefectServer | None = None
    users = 0
    stack: contextlib.ExitStack | None = None


@contextlib.contextmanager
def shared_prefect_server(home: Path) -> Iterator[PrefectServer]:
    """The session's one Prefect server, started by the first user, stopped after the last."""
    if _Shared.users == 0:
        stack = contextlib.ExitStack()
        _Shared.server = stack.enter_context(prefect_server_on_postgres(home))
        _Shared.stack = stack
    _Shared.users += 1
    assert _Shared.server is not None
    try:
        yield _Shared.server
    finally:
        _Shared.users -= 1
        if _Shared.users == 0 and _Shared.stack is not None:
            _Shared.stack.close()
            _Shared.server = _Shared.stack = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _healthy(server: PrefectServer) -> bool:
    try:
        return httpx.get(f"{server.api_url}/health", timeout=1.0).status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


def wait_for_runs(client: SyncPrefectClient, ids: list[UUID], *, timeout: float) -> list[FlowRun]:
    """The flow runs `ids`, in that order, once every one is in a final state."""

    def read() -> list[FlowRun]:
        found = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids)
        )
        return sorted(found, key=lambda run: ids.index(run.id))

    wait_until(
        lambda: all(run.state is not None and run.state.is_final() for run in read()),
        timeout=timeout,
        what=f"{len(ids)} flow run(s) to finish",
        poll=1.0,
    )
    return read()


def serve_recipes(folder: Path, env: Mapping[str, str], logs: Path, name: str) -> Process:
    """`byok serve FOLDER`, once it has registered its recipes and is polling for runs."""
    process = start_process(name, [BYOK, "serve", str(folder)], env, logs)
    wait_until(
        lambda: "serving " in process.output() or process.popen.poll() is not None,
        timeout=120,
        what="byok serve to register its recipes",
    )
    assert process.popen.poll() is None, process.output()
    return process
