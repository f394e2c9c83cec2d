"""Memory per concurrent run: N runs in flight at once, in one process.

Python allocations are traced with `tracemalloc` (peak above the baseline while
the N runs overlap, divided by N); RSS growth is the resident set after the
batch minus before, divided by N, which includes memory Python keeps for reuse.
Each variant first runs one untraced batch (unless the size has no warm-up), so
lazy imports and caches are not billed to the measured batch.
"""

from __future__ import annotations

import asyncio
import gc
import os
import tracemalloc
from collections.abc import Awaitable, Callable

from flows.engine import run_recipe
from providers.types import Protocol
from tests.benchmarks.bench import KEY, Bench
from tests.benchmarks.orchestration import ENGINE, HANDWRITTEN, PLAIN
from tests.benchmarks.report import Report, Table
from tests.benchmarks.workloads import INPUTS, handwritten_flow, plain_run, wide

__all__ = ["memory"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


async def memory(bench: Bench, report: Report) -> None:
    """Traced peak and RSS growth per concurrent run, for the three ways to run a DAG."""
    sizes = bench.sizes
    n, latency = sizes.concurrent_runs, sizes.memory_latency_ms
    dag = wide(3)
    target = bench.targets[-1]
    base_url = bench.simulator(latency).base_url(Protocol.OPENAI)
    table = Table(
        f"Memory: {n} concurrent runs of {dag.steps} parallel steps, {latency:g} ms per call",
        f"Against the {target.name} target. Traced = tracemalloc peak above the baseline "
        f"÷ {n}; RSS = resident-set growth over the batch ÷ {n}.",
        ("variant", "traced peak per run", "RSS growth per run"),
    )
    async with bench.on(target):
        org = bench.org(latency)
        recipe = dag.recipe()
        handwritten = handwritten_flow(dag, base_url, KEY)

        async def engine() -> object:
            result = await run_recipe(recipe, INPUTS, org=org)
            if result.state != "COMPLETED":
                raise RuntimeError(f"engine run {result.state}: {result.error}")
            return result

        variants: dict[str, Callable[[], Awaitable[object]]] = {
            ENGINE: engine,
            HANDWRITTEN: handwritten,
            PLAIN: lambda: plain_run(dag, base_url, KEY),
        }
        for name, run in variants.items():
            if sizes.warmup:
                await _batch(run, n)  # untraced
            traced, rss = await _measured_batch(run, n)
            table.add(name, _kib(traced / n), _kib(rss / n))
    report.tables.append(table)


async def _batch(run: Callable[[], Awaitable[object]], n: int) -> None:
    await asyncio.gather(*(run() for _ in range(n)))


async def _measured_batch(run: Callable[[], Awaitable[object]], n: int) -> tuple[int, int]:
    """Bytes: traced peak above the start, and RSS growth, over one batch of `n` runs."""
    gc.collect()
    rss_before = _rss()
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        await _batch(run, n)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    gc.collect()
    return peak - baseline, _rss() - rss_before


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def _kib(size: float) -> str:
    return f"{size / 1024:,.0f} KiB"
