"""`byok simulator`: the local protocol simulator in the foreground, until Ctrl-C.

Point keys at it to try recipes without a provider account or a bill: every
protocol answers with deterministic replies and realistic token usage. Faults
are injected and recorded calls read through its control API (`/_sim/...`).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
from typing import Annotated

import typer

from flows.cli.console import err, fail, out
from providers.simulator import SimulatorServer
from providers.types import Protocol

__all__ = ["simulator"]

DEFAULT_PORT = 8765


def simulator(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0 picks a free one).")
    ] = DEFAULT_PORT,
    host: Annotated[
        str, typer.Option(help="Address to bind; keep it on loopback (see the warning).")
    ] = "127.0.0.1",
    latency_ms: Annotated[
        float, typer.Option(min=0, help="Delay added to every provider call, in milliseconds.")
    ] = 0.0,
    echo: Annotated[
        bool, typer.Option(help="Repeat the last user message in text replies (off: no prompts).")
    ] = False,
    *,
    echo_key: Annotated[
        bool, typer.Option(help="Repeat the caller's API key in text replies (privacy checks).")
    ] = False,
    echo_errors: Annotated[
        bool,
        typer.Option(help="Error bodies repeat the prompt and the key (privacy checks)."),
    ] = False,
) -> None:
    """Serve the Anthropic, OpenAI and Gemini APIs locally with simulated replies.

    The echo switches make it behave like a careless provider, to check for
    yourself that prompts, outputs and keys land nowhere (see the README).
    """
    server = SimulatorServer(
        host=host,
        port=port,
        latency_ms=latency_ms,
        echo=echo,
        echo_key=echo_key,
        echo_errors=echo_errors,
    )
    try:
        server.start()
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        fail(
            f"cannot listen on {host}:{port} ({reason}): "
            "pick another port with --port, or 0 for any free one"
        )
    try:
        _print_banner(server)
        _wait_for_stop()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how this command is meant to end
    finally:
        server.stop()
    err.print("simulator stopped")


def _print_banner(server: SimulatorServer) -> None:
    out.print(f"byok simulator listening on {server.url} (Ctrl-C to stop)")
    for protocol in Protocol:
        out.print(f"  {protocol.value:<10} {server.base_url(protocol)}")
    out.print("Point a key at it (any secret works):")
    for protocol in Protocol:
        out.print(
            f"  printf 'sim-key' | byok keys add {protocol.value} "
            f"--base-url {server.base_url(protocol)}"
        )
    out.print(f"Control API: {server.url}/_sim/faults, {server.url}/_sim/requests")
    if not _is_loopback(server.host):
        err.print(
            f"[bold yellow]warning:[/] bound to {server.host}: anyone who can reach it can read "
            "the prompts it recorded at /_sim/requests. Use --host 127.0.0.1 unless you must.",
            markup=True,
        )


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM (e.g. `kill`, or a container stopping)."""
    stop = threading.Event()

    def on_sigterm(*_: object) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        stop.wait()  # Ctrl-C raises KeyboardInterrupt out of the wait
    finally:
        signal.signal(signal.SIGTERM, previous)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
