"""`byok run` start-up: a one-step recipe from a fresh process, ephemeral API vs a running server.

Each variant is a new `byok` process with a throwaway BYOK home holding one key
that points at the simulator, so the time is start-up plus one call. CPU
includes the process's children (the ephemeral API server it starts). The
smoke size runs only `byok run` against the running server.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from prefect.settings import PREFECT_API_URL

from providers.types import Protocol
from tests.benchmarks.bench import KEY, Bench
from tests.benchmarks.measure import Sample, Series
from tests.benchmarks.report import Report, Table, ms
from tests.benchmarks.simproc import SimulatorProcess
from tests.benchmarks.workloads import INPUTS, MODEL
from vault import KeyStore

__all__ = ["startup"]

_TIMEOUT_S = 300


async def startup(bench: Bench, report: Report) -> None:
    """Time `byok --help` (imports only) and `byok run` against each kind of Prefect API."""
    sizes = bench.sizes
    repeats = min(sizes.rounds, 3)
    byok = str(Path(sys.executable).with_name("byok"))
    server_url = bench.targets[-1].prefect_api_url or str(PREFECT_API_URL.value())
    server_name = "PostgreSQL server" if bench.targets[-1].prefect_api_url else "test API"
    with tempfile.TemporaryDirectory(prefix="byok-startup-") as tmp:
        root = Path(tmp)
        env = _environment(root, bench.simulator(sizes.provider_latency_ms))
        recipe = _write_recipe(root / "startup.yaml")
        run = [byok, "run", str(recipe), "--input", f"text={INPUTS['text']}", "--json"]
        server_env = {**env, "PREFECT_API_URL": server_url}
        rows = [(f"`byok run`, running {server_name}", _repeat(run, server_env, repeats))]
        if sizes.startup_full:
            home = {**env, "PREFECT_HOME": str(root / "prefect-home")}
            rows += [
                ("`byok --help` (imports only)", _repeat([byok, "--help"], env, repeats)),
                ("`byok run`, ephemeral API, fresh PREFECT_HOME", _repeat(run, home, 1)),
                ("`byok run`, ephemeral API, PREFECT_HOME used before", _repeat(run, home, 2)),
            ]
    table = Table(
        "`byok run` start-up: a one-step recipe in a new process",
        "Wall time from exec to exit, median of the runs shown; CPU of the process and the "
        f"children it waited for. The simulator answers after {sizes.provider_latency_ms:g} ms.",
        ("command", "runs", "wall", "CPU"),
    )
    for name, series in rows:
        table.add(name, str(len(series.samples)), ms(series.wall_s), ms(series.cpu_s))
    report.tables.append(table)


def _environment(root: Path, simulator: SimulatorProcess) -> dict[str, str]:
    """A clean environment for `byok`: a fresh BYOK home with one key, and no Prefect settings.

    The key is added in this process (same master key as the child gets), which
    is quicker than a `byok keys add` process.
    """
    home = root / "byok-home"
    home.mkdir(mode=0o700)
    KeyStore.open(f"sqlite:///{home / 'byok.db'}").add_key(
        org="default",
        provider="openai",
        secret=KEY,
        base_url=simulator.base_url(Protocol.OPENAI),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BYOK_"))}
    env["BYOK_HOME"] = str(home)
    env["BYOK_MASTER_KEY"] = os.environ["BYOK_MASTER_KEY"]
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    # Prefect's 20 s default is exceeded by a fresh ephemeral API on a busy 2-core machine.
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    env["PREFECT_HOME"] = str(root / "prefect-home-server-runs")
    return env


def _write_recipe(path: Path) -> Path:
    recipe = {
        "name": "bench-startup",
        "inputs": {"text": {"type": "string"}},
        "steps": [
            {"id": "s0", "model": f"openai:{MODEL}", "prompt": "Summarise: {{ inputs.text }}"}
        ],
    }
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def _repeat(command: list[str], env: dict[str, str], times: int) -> Series:
    return Series(tuple(_run(command, env) for _ in range(times)))


def _run(command: list[str], env: dict[str, str]) -> Sample:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:2])} exited {done.returncode}: {done.stderr.strip()[-800:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu)
