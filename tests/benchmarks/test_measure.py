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


async def test_a_disturbed_run_is_measured_again_and_only_the_clean_run_is_kept() -> None:
    disturbances = 0
    calls: list[str] = []

    def variant(name: str, disturb_times: int) -> Callable[[], Awaitable[None]]:
        left = disturb_times

        async def run() -> None:
            nonlocal disturbances, left
            calls.append(name)
            if left:
                left -= 1
                disturbances += 1

        return run

    series = await interleave(
        {"A": variant("A", 0), "B": variant("B", 2)},
        rounds=2,
        warmup=0,
        disturbed=lambda: disturbances,
    )

    assert "".join(calls) == "A" + "BBB" + "B" + "A"  # B's first run twice disturbed
    assert {name: len(s.samples) for name, s in series.items()} == {"A": 2, "B": 2}
    assert (series["A"].repeated, series["B"].repeated) == (0, 2)


async def test_a_run_disturbed_every_time_is_kept_after_the_last_repeat() -> None:
    count = 0

    async def always() -> None:
        nonlocal count
        count += 1

    series = await interleave({"A": always}, rounds=1, warmup=0, disturbed=lambda: count, repeats=2)

    assert count == 3
    assert len(series["A"].samples) == 1
    assert series["A"].repeated == 2
