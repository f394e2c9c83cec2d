"""`byok simulator`: serves until interrupted, tells the user how to point keys at it."""

from __future__ import annotations

import socket
from typing import ClassVar

import httpx
import pytest
from typer.testing import CliRunner

from flows.cli import simulator as command
from flows.cli.main import app
from providers.simulator import SimulatorServer


class _Interrupted(SimulatorServer):
    """Remembers the running server so the fake Ctrl-C can check it serves."""

    started: ClassVar[list[SimulatorServer]] = []

    def start(self) -> _Interrupted:
        _Interrupted.started.append(self)
        return super().start()


@pytest.fixture
def served_urls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the foreground wait by one health check, then a Ctrl-C; collect the URL."""
    _Interrupted.started = []
    urls: list[str] = []

    def wait_then_interrupt() -> None:
        (server,) = _Interrupted.started
        assert httpx.get(f"{server.url}/_sim/health").json() == {"ok": True}
        urls.append(server.url)
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "SimulatorServer", _Interrupted)
    monkeypatch.setattr(command, "_wait_for_stop", wait_then_interrupt)
    return urls


def test_it_prints_the_base_urls_and_stops_cleanly_on_ctrl_c(served_urls: list[str]) -> None:
    result = CliRunner().invoke(app, ["simulator", "--port", "0", "--latency-ms", "5"])

    assert result.exit_code == 0, result.output
    (root,) = served_urls
    assert f"anthropic  {root}\n" in result.stdout
    assert f"openai     {root}/v1\n" in result.stdout
    assert f"google     {root}\n" in result.stdout
    assert f"byok keys add openai --base-url {root}/v1" in result.stdout
    assert "simulator stopped" in result.stderr
    assert _Interrupted.started[0].settings.latency_ms == 5
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{root}/_sim/health")


def test_a_taken_port_is_a_one_line_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["simulator", "--port", str(port)])

    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.output


def test_the_echo_switches_reach_the_server(served_urls: list[str]) -> None:
    result = CliRunner().invoke(
        app, ["simulator", "--port", "0", "--echo", "--echo-key", "--echo-errors"]
    )

    assert result.exit_code == 0, result.output
    settings = _Interrupted.started[0].settings
    assert (settings.echo, settings.echo_key, settings.echo_errors) == (True, True, True)
