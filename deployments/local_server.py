"""A Prefect server in the background for fast local use: `byok server start|stop|status`.

Without a server, every `byok run` starts Prefect's ephemeral API in-process,
which costs many seconds before the first task. A `prefect server` started
once and left running answers in milliseconds, so later runs only pay for
importing Prefect. It keeps its state apart from any other Prefect setup:

    $BYOK_HOME/prefect/           PREFECT_HOME of the server (SQLite database)
    $BYOK_HOME/prefect/byok-server.json   its pid and URL, while it runs
    $BYOK_HOME/prefect/server.log         its output

`use_running_server` is what `byok run`, `byok serve` and `byok deploy` call
first; it must stay cheap and must not import Prefect (which takes seconds, and
which reads `PREFECT_API_URL` once, when it is first imported).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from vault.settings import byok_home

__all__ = [
    "DEFAULT_PORT",
    "LocalServer",
    "ServerError",
    "api_url_if_running",
    "server_home",
    "start",
    "status",
    "stop",
    "use_running_server",
]

DEFAULT_PORT = 4280  # not Prefect's 4200, so it can run beside a user's own server
_STATE_FILE = "byok-server.json"
_LOG_FILE = "server.log"
_PROBE_TIMEOUT_S = 3.0  # generous: a busy 2-core machine can be slow to answer
_START_TIMEOUT_S = 180.0  # the first start creates the database: tens of seconds on 2 cores
_STOP_TIMEOUT_S = 15.0
_POLL_S = 0.25
# Settings that would point the server elsewhere than its own SQLite home.
_FOREIGN_SETTINGS = ("PREFECT_API_URL", "PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_PROFILE")


class ServerError(RuntimeError):
    """The local server could not be started or stopped; the message says why."""


@dataclass(frozen=True, slots=True)
class LocalServer:
    """A running (or recorded) local server: its process and where to reach it."""

    pid: int
    port: int
    started_at: float

    @property
    def api_url(self) -> str:
        """The value for PREFECT_API_URL."""
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        """The Prefect UI served by the same process."""
        return f"http://127.0.0.1:{self.port}"


def server_home() -> Path:
    """The server's PREFECT_HOME under BYOK_HOME (created by `start`)."""
    return byok_home() / "prefect"


def status() -> LocalServer | None:
    """The local server if it is running and answering; a stale record is removed."""
    state = _read_state()
    if state is None:
        return None
    if _is_server(state.pid) and _healthy(state.api_url):
        return state
    if not _is_server(state.pid):
        _state_path().unlink(missing_ok=True)
    return None


def api_url_if_running() -> str | None:
    """The local server's API URL when it answers, else None (cheap: one local probe)."""
    server = status()
    return server.api_url if server else None


def use_running_server() -> str | None:
    """Point this process's Prefect at the local server, unless PREFECT_API_URL is set.

    Returns the API URL Prefect will use, or None for Prefect's own choice (a
    profile, or the ephemeral API). Prefect reads its settings when first
    imported (loading a recipe with a schedule imports it), so if it already
    was, its global settings are rebuilt to see the new URL.
    """
    explicit = os.environ.get("PREFECT_API_URL")
    if explicit:
        return explicit
    url = api_url_if_running()
    if url:
        os.environ["PREFECT_API_URL"] = url
        if "prefect.context" in sys.modules:
            from prefect.context import refresh_global_settings_context

            refresh_global_settings_context()
    return url


def start(port: int = DEFAULT_PORT) -> LocalServer:
    """Start the server in the background and wait until it answers.

    Returns the running server if one is already up. Raises `ServerError`
    with the end of the server's log when it exits or doesn't answer in time.
    """
    running = status()
    if running is not None:
        return running
    home = server_home()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_path = home / _LOG_FILE
    env = {key: value for key, value in os.environ.items() if key not in _FOREIGN_SETTINGS}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        # As settings rather than --host/--port: the UI finds its API through them.
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
    )
    command = [sys.executable, "-m", "prefect", "server", "start"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command, and Ctrl-C in this terminal
        )
    server = LocalServer(pid=process.pid, port=port, started_at=time.time())
    began = time.monotonic()
    while not _healthy(server.api_url):
        waited = time.monotonic() - began
        if process.poll() is not None:
            raise ServerError(f"the Prefect server exited while starting:\n{_tail(log_path)}")
        if waited > _START_TIMEOUT_S:
            _terminate(process.pid)
            raise ServerError(
                f"the Prefect server did not answer within {_START_TIMEOUT_S:.0f} s:\n"
                f"{_tail(log_path)}"
            )
        time.sleep(_POLL_S)
    _state_path().write_text(json.dumps(asdict(server)), encoding="utf-8")
    return server


def stop() -> LocalServer | None:
    """Stop the local server; returns what was stopped, or None if it wasn't running."""
    state = _read_state()
    if state is None:
        return None
    if _is_server(state.pid):
        _terminate(state.pid)
    _state_path().unlink(missing_ok=True)
    return state


def _terminate(pid: int) -> None:
    # The server runs in its own session: signal the whole group (uvicorn and services).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it when it is our child


def _state_path() -> Path:
    return server_home() / _STATE_FILE


def _read_state() -> LocalServer | None:
    try:
        data = json.loads(_state_path().read_text(encoding="utf-8"))
        return LocalServer(
            pid=int(data["pid"]), port=int(data["port"]), started_at=float(data["started_at"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_server(pid: int) -> bool:
    """Whether `pid` is still the server we started, not a process that reused its pid."""
    if not _alive(pid):
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): the health check has to do
    return b"prefect" in command and b"server" in command


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: ask the kernel whether it exists
    else:
        if waited == pid:
            return False  # our child, and it has exited
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an exited process nobody has reaped yet still answers kill(0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS)
    return state != "Z"


def _healthy(api_url: str) -> bool:
    import httpx  # imported when probing, not by `byok --help`

    try:
        response = httpx.get(f"{api_url}/health", timeout=_PROBE_TIMEOUT_S)
    except httpx.HTTPError:
        return False
    return response.status_code == httpx.codes.OK


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
