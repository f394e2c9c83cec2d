"""A steady loop over one hot path, for a sampling profiler to attach to.

    python -m tests.benchmarks.profile_paths engine|handwritten|provider [--wide] [--seconds S]

Sets up what the path needs (a simulator process, a `prefect server` on a
throwaway PostgreSQL database for the flow paths, a vault with one key), prints
`READY <pid>` and then runs the path back to back for S seconds (a recipe of 10
steps in a chain, or 50 in parallel with `--wide`), so that
`py-spy record --pid` sees the path and none of the set-up (`scripts/profile.sh`
does exactly that). The simulator answers at once, so the samples are the
client's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path

from tests.benchmarks.pgserver import PostgresDatabase, PrefectServer
from tests.benchmarks.simproc import SimulatorProcess

__all__ = ["main"]

_ADMIN_URL = os.environ.get(
    "BYOK_TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_CHAIN = 10
_WIDE = 50
_WARMUP_S = 5.0


def main(argv: list[str] | None = None) -> None:
    """Parse the path to run, set up, print READY, loop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=("engine", "handwritten", "provider"))
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--wide", action="store_true", help="50 parallel steps, not 10 chained")
    args = parser.parse_args(argv)
    # A profiler wrapper ends this with SIGTERM: unwind, so the server and databases go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="byok-profile-")))
        os.environ["BYOK_HOME"] = str(home)
        os.environ["BYOK_MASTER_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
        sim = stack.enter_context(SimulatorProcess(0.0))
        if args.path != "provider":
            server = stack.enter_context(PrefectServer(_ADMIN_URL))
            os.environ["PREFECT_API_URL"] = server.api_url
            vault = stack.enter_context(PostgresDatabase(_ADMIN_URL, "byok_profile_vault"))
            os.environ["BYOK_DATABASE_URL"] = vault.url("psycopg")
            stack.callback(_dispose_engines)
        asyncio.run(_loop(args.path, sim, args.seconds, wide=args.wide))


async def _loop(path: str, sim: SimulatorProcess, seconds: float, *, wide: bool) -> None:
    once = await _path(path, sim, wide=wide)
    deadline = time.monotonic() + _WARMUP_S
    while time.monotonic() < deadline:
        await once()
    print(f"READY {os.getpid()}", flush=True)  # the profiler attaches now
    runs, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        await once()
        runs += 1
    print(f"DONE {runs} runs", flush=True)


async def _path(path: str, sim: SimulatorProcess, *, wide: bool) -> Callable[[], Awaitable[object]]:
    from providers.types import Protocol
    from tests.benchmarks.bench import KEY
    from tests.benchmarks.workloads import INPUTS, deep, handwritten_flow
    from tests.benchmarks.workloads import wide as wide_dag
    from vault import KeyStore

    base_url = sim.base_url(Protocol.OPENAI)
    KeyStore.open().add_key(org="default", provider="openai", secret=KEY, base_url=base_url)
    dag = wide_dag(_WIDE) if wide else deep(_CHAIN)
    if path == "engine":
        from flows.engine import run_recipe

        recipe = dag.recipe()
        return lambda: run_recipe(recipe, INPUTS)
    if path == "handwritten":
        return handwritten_flow(dag, base_url, KEY)
    return await _provider_path(base_url)


async def _provider_path(base_url: str) -> Callable[[], Awaitable[object]]:
    """One call through the adapters and `default_hooks()`, as a step makes it."""
    from flows.engine.hooks import CallInfo, call_with_hooks
    from flows.engine.wiring import default_hooks
    from flows.ledger import CallContext
    from flows.recipe import ModelRef
    from providers.client import ProviderClient
    from providers.endpoint import Endpoint
    from providers.secret import SecretKey
    from providers.types import ModelRequest, Protocol
    from tests.benchmarks.bench import KEY
    from tests.benchmarks.workloads import MODEL, request_body

    client = ProviderClient()  # lives as long as the loop: the process ends after it
    endpoint = Endpoint.for_protocol(
        Protocol.OPENAI, SecretKey(KEY), base_url=base_url, key_id="key_profile"
    )
    request = ModelRequest(
        model=MODEL, prompt=request_body()["messages"][0]["content"], max_tokens=64
    )
    model, hooks, attempts = ModelRef.parse(f"openai:{MODEL}"), default_hooks(), itertools.count(1)

    async def once() -> object:
        context = CallContext("profile", "profile", "profile", "run", "s", next(attempts))
        call = CallInfo(context, model, endpoint, request)
        return await call_with_hooks(hooks, call, lambda: client.complete(endpoint, request))

    return once


def _dispose_engines() -> None:
    from vault.db import reset_engines

    reset_engines()


if __name__ == "__main__":
    main(sys.argv[1:])
