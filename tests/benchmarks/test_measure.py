"""Interleaved rounds: each variant once per round, never always after the same one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.benchmarks.measure import interleave


async def test_each_round_starts_one_variant_further_and_keeps_only_the_measured_rounds() -> None:
    calls: list[str] = []

    def variant(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            calls.append(name)

        return run

    series = await interleave({n: variant(n) for n in "ABC"}, rounds=3, warmup=1)

    assert "".join(calls) == "ABC" + "BCA" + "CAB" + "ABC"  # the warm-up round, then three
    assert {name: len(s.samples) for name, s in series.items()} == {"A": 3, "B": 3, "C": 3}
