"""Per-step overhead and DAG efficiency: the engine next to a hand-written Prefect flow and asyncio.

Overhead is what a run takes beyond the provider's own latency on the DAG's
critical path: `wall − critical_steps × latency`, divided by the number of
steps for the per-step figure. Efficiency is the reverse view:
`critical_steps × latency ÷ wall`, 1.0 being a run that adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from flows.engine import run_recipe
from providers.types import Protocol
from tests.benchmarks.bench import KEY, Bench, Target
from tests.benchmarks.measure import Series, interleave
from tests.benchmarks.report import Goal, Report, Table, ms, ratio
from tests.benchmarks.workloads import INPUTS, Dag, deep, handwritten_flow, plain_run, wide

__all__ = ["ENGINE", "HANDWRITTEN", "PLAIN", "compare", "dag_efficiency", "step_overhead"]

ENGINE = "byok recipe (run_recipe)"
HANDWRITTEN = "hand-written Prefect flow + httpx"
PLAIN = "asyncio + httpx, no orchestrator"


async def compare(
    bench: Bench, dag: Dag, latency_ms: float, *, rounds: int, warmup: int
) -> dict[str, Series]:
    """Run `dag` the three ways, interleaved, against the `latency_ms` simulator.

    Every run is checked: the engine's must complete with one ledger row per
    step, the others must return one output per step.
    """
    base_url = bench.simulator(latency_ms).base_url(Protocol.OPENAI)
    org = bench.org(latency_ms)
    recipe = dag.recipe()
    handwritten = handwritten_flow(dag, base_url, KEY)

    async def engine() -> None:
        result = await run_recipe(recipe, INPUTS, org=org)
        if result.state != "COMPLETED" or len(result.usage) != dag.steps:
            raise RuntimeError(f"{dag.name}: engine run {result.state}, {result.error}")

    async def by_hand() -> None:
        _check(dag, await handwritten())

    async def plain() -> None:
        _check(dag, await plain_run(dag, base_url, KEY))

    variants: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
        ENGINE: engine,
        HANDWRITTEN: by_hand,
        PLAIN: plain,
    }
    return await interleave(variants, rounds=rounds, warmup=warmup, disturbed=bench.retries)


def _check(dag: Dag, outputs: dict[str, str]) -> None:
    if len(outputs) != dag.steps or not all(outputs.values()):
        raise RuntimeError(f"{dag.name}: {len(outputs)} outputs for {dag.steps} steps")


async def step_overhead(bench: Bench, report: Report) -> None:
    """Per-step overhead of a chain of steps, per target, with ratios to both baselines."""
    sizes = bench.sizes
    dag, latency = deep(sizes.chain_steps), sizes.step_latency_ms
    table = Table(
        f"Per-step overhead: a chain of {dag.steps} steps, {latency:g} ms per provider call",
        f"Median of {sizes.chain_rounds} interleaved rounds after {sizes.warmup} warm-up. Overhead "
        f"per step = (wall − {dag.steps} × {latency:g} ms) ÷ {dag.steps}; CPU is this "
        "process's (client side), not the simulator's or the Prefect server's. A run during "
        "which Prefect's client retried an API request (its test server's SQLite answering "
        "503 while busy; the client waits ~2 s) was measured again: *repeated*.",
        (
            "target",
            "variant",
            "wall per run",
            "overhead per step",
            "CPU per step",
            "÷ hand-written Prefect",
            "÷ asyncio + httpx",
            "repeated",
        ),
    )
    for target in bench.targets:
        async with bench.on(target):
            series = await compare(
                bench, dag, latency, rounds=sizes.chain_rounds, warmup=sizes.warmup
            )
        per_step = {name: _overhead_s(s, dag, latency) / dag.steps for name, s in series.items()}
        for name, s in series.items():
            table.add(
                target.name,
                name,
                ms(s.wall_s),
                ms(per_step[name]),
                ms(s.cpu_s / dag.steps),
                ratio(per_step[name] / per_step[HANDWRITTEN]),
                ratio(per_step[name] / per_step[PLAIN]),
                str(s.repeated),
            )
        measured = per_step[ENGINE] / per_step[HANDWRITTEN]
        report.goals.append(
            Goal(
                f"per-step overhead ≤ 1.2× the hand-written Prefect flow ({target.name})",
                f"{ratio(measured)} ({ms(per_step[ENGINE])} vs {ms(per_step[HANDWRITTEN])})",
                measured <= 1.2,
            )
        )
    report.tables.append(table)


async def dag_efficiency(bench: Bench, report: Report) -> None:
    """Critical-path latency ÷ wall time for a wide and a deep DAG, per target."""
    sizes = bench.sizes
    latency = sizes.dag_latency_ms
    table = Table(
        f"DAG efficiency at {latency:g} ms per provider call",
        f"Efficiency = critical-path steps × {latency:g} ms ÷ wall time (1.00 adds nothing). "
        f"Median of {sizes.dag_rounds} interleaved rounds; the wide DAG after "
        f"{min(sizes.warmup, 1)} warm-up round, the deep one after none. Runs during which "
        "Prefect's client retried an API request were measured again (*repeated*).",
        ("target", "DAG", "variant", "wall per run", "efficiency", "CPU per run", "repeated"),
    )
    for target in bench.targets:
        for dag in (wide(sizes.wide_steps), deep(sizes.deep_steps)):
            warmup = min(sizes.warmup, 1) if dag.critical_steps == 1 else 0
            async with bench.on(target):
                series = await compare(bench, dag, latency, rounds=sizes.dag_rounds, warmup=warmup)
            floor_s = dag.critical_steps * latency / 1000
            for name, s in series.items():
                table.add(
                    target.name,
                    _dag_label(dag),
                    name,
                    ms(s.wall_s),
                    f"{floor_s / s.wall_s:.2f}",
                    ms(s.cpu_s),
                    str(s.repeated),
                )
            efficiency = floor_s / series[ENGINE].wall_s
            report.goals.append(
                Goal(
                    f"DAG efficiency ≥ 0.8 at {latency:g} ms per call, {_dag_label(dag)} "
                    f"({_target_label(target)})",
                    f"{efficiency:.2f}",
                    efficiency >= 0.8,
                )
            )
    report.tables.append(table)


def _overhead_s(series: Series, dag: Dag, latency_ms: float) -> float:
    return series.wall_s - dag.critical_steps * latency_ms / 1000


def _dag_label(dag: Dag) -> str:
    shape = "parallel" if dag.critical_steps == 1 else "sequential"
    return f"{dag.steps} {shape}"


def _target_label(target: Target) -> str:
    return "PostgreSQL server" if target.name == "postgres" else f"{target.name} API"
