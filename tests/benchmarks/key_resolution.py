"""Key resolution and decryption per call: what every step pays before it sends anything.

Two paths: `KeyStore.resolve` on a store opened once (two lookups, an unwrap and
an AES-GCM open), and `VaultKeys.resolve`, which a step calls and which opens
the store (loading and verifying the master key ring) on every call as well.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from tests.benchmarks.bench import Bench
from tests.benchmarks.measure import interleave
from tests.benchmarks.report import Report, Table, ms, us
from vault import KeyStore, VaultKeys

__all__ = ["key_resolution"]

STORE = "KeyStore.resolve (store opened once)"
BLOCK = "VaultKeys.resolve (what a step calls)"


async def key_resolution(bench: Bench, report: Report) -> None:
    """µs per resolution on each target's database."""
    sizes = bench.sizes
    n = sizes.key_calls
    table = Table(
        f"Key resolution and decryption: {n} resolutions per round",
        f"Median of {sizes.rounds} interleaved rounds after {sizes.warmup} warm-up; "
        "synchronous calls, as the step makes them.",
        ("database", "path", "CPU per call", "wall per call"),
    )
    for target in bench.targets:
        with bench.database(target):
            org = bench.org(sizes.provider_latency_ms)
            store = KeyStore.open()
            block = VaultKeys(org=org)

            series = await interleave(
                {
                    STORE: _repeat(n, partial(store.resolve, org, "openai")),
                    BLOCK: _repeat(n, partial(block.resolve, "openai")),
                },
                rounds=sizes.rounds,
                warmup=sizes.warmup,
            )
        for name, s in series.items():
            table.add(target.name, name, us(s.cpu_s / n), ms(s.wall_s / n))
    report.tables.append(table)


def _repeat(n: int, resolve: Callable[[], object]) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        for _ in range(n):
            resolve()

    return run
