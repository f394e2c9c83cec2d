"""`byok server start|stop|status`: a local Prefect server in the background.

Two ways for `byok run` to reach Prefect, picked per command:

- no server: Prefect's ephemeral API starts inside every `byok run` (15-25 s
  before the first step; nothing to manage, nothing left running);
- `byok server start`: a Prefect server with its UI keeps running under
  BYOK_HOME (SQLite), and `byok run` uses it whenever it answers, so a run
  starts in about the time it takes to import Prefect. `byok serve` and
  `byok deploy` need a server, and use this one too.

PREFECT_API_URL in the environment always wins over both.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape

from deployments.local_server import DEFAULT_PORT
from flows.cli.console import err, fail, out, print_json

__all__ = ["app"]

app = typer.Typer(
    help="A local Prefect server in the background: fast runs, the Prefect UI, `byok serve`.",
    no_args_is_help=True,
)


@app.command()
def start(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = DEFAULT_PORT,
) -> None:
    """Start the server in the background (its first start takes up to a minute)."""
    from deployments.local_server import ServerError, server_home, status
    from deployments.local_server import start as start_server

    running = status()
    if running is not None:
        out.print(f"already running: {running.ui_url} (pid {running.pid})", markup=False)
        return
    err.print(
        f"[dim]starting a Prefect server on 127.0.0.1:{port}, home {escape(str(server_home()))}…[/]"
    )
    began = time.monotonic()
    try:
        server = start_server(port)
    except ServerError as error:
        fail(str(error))
    out.print(
        f"running: {server.ui_url} (pid {server.pid}, up in {time.monotonic() - began:.0f} s); "
        "`byok run` uses it from now on; `byok server stop` stops it",
        markup=False,
    )


@app.command()
def stop() -> None:
    """Stop the server started by `byok server start`."""
    from deployments.local_server import stop as stop_server

    stopped = stop_server()
    out.print(f"stopped (pid {stopped.pid})" if stopped else "not running", markup=False)


@app.command()
def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Say whether the server runs and where; exit status 1 when it doesn't."""
    from deployments.local_server import server_home
    from deployments.local_server import status as server_status

    server = server_status()
    if json_output:
        print_json(
            {
                "running": server is not None,
                "api_url": server.api_url if server else None,
                "ui_url": server.ui_url if server else None,
                "pid": server.pid if server else None,
                "home": str(server_home()),
            }
        )
    elif server is not None:
        out.print(
            f"running: {server.ui_url} (pid {server.pid}), API {server.api_url}",
            markup=False,
        )
    else:
        out.print(
            "not running: `byok run` starts Prefect's ephemeral API each time; "
            "`byok server start` to keep one running",
            markup=False,
        )
    if server is None:
        raise typer.Exit(1)
