"""`byok demo`: the whole product on a fresh machine, with no keys and no network.

It starts the local protocol simulator, stores one throwaway key per provider
in a throwaway vault, runs the example recipe (three providers, two steps in
parallel, one structured) and prints the outputs and a cost table. Nothing it
creates outlives the command.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.console import err, out, print_json

__all__ = ["DEMO_RECIPE", "demo"]

DEMO_RECIPE = Path(__file__).resolve().parent.parent / "examples" / "demo.yaml"


def demo(
    latency_ms: Annotated[
        int, typer.Option(help="Simulated provider latency per call, in milliseconds.")
    ] = 400,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run the example recipe against the local simulator with a throwaway vault."""
    from flows.cli.report import print_run
    from flows.engine.running import run_recipe
    from flows.recipe import load_recipe
    from providers.simulator import SimulatorServer
    from providers.types import Protocol
    from vault import KeyStore
    from vault.db import reset_engines

    recipe = load_recipe(DEMO_RECIPE)
    with (
        tempfile.TemporaryDirectory(prefix="byok-demo-") as home,
        SimulatorServer(latency_ms=latency_ms) as simulator,
    ):
        os.environ["BYOK_HOME"] = home
        os.environ.pop("BYOK_DATABASE_URL", None)
        os.environ.pop("BYOK_MASTER_KEY_FILE", None)
        os.environ["BYOK_MASTER_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
        reset_engines()
        store = KeyStore.open()
        for protocol in Protocol:
            store.add_key(
                org="default",
                provider=protocol.value,
                secret=f"demo-{protocol.value}-{secrets.token_hex(16)}",
                base_url=simulator.base_url(protocol),
            )
        if not json_output:
            err.print(
                f"[dim]simulator on 127.0.0.1:{simulator.port} ({latency_ms} ms per call); "
                f"throwaway vault in {home}[/]"
            )
            for number, layer in enumerate(recipe.layers(), start=1):
                steps = ", ".join(f"{sid} ({recipe.step(sid).model})" for sid in layer)
                together = " run in parallel" if len(layer) > 1 else ""
                err.print(f"[dim]wave {number}: {steps}{together}[/]")
            err.print("[dim]starting Prefect (its ephemeral API takes 15-25 s)…[/]")
        started = time.perf_counter()
        result = asyncio.run(run_recipe(recipe, recipe.coerce_inputs({}), org="default"))
        elapsed = time.perf_counter() - started
        reset_engines()
    if json_output:
        print_json(result.to_json())
    else:
        print_run(out, result)
        out.print(
            f"[dim]{len(result.usage)} provider calls in {elapsed:.1f} s, Prefect included[/]"
        )
    if result.state != "COMPLETED":
        raise typer.Exit(1)
