"""Timing primitives: wall and CPU time of one run, and variants measured in turns.

Variants that are compared run interleaved (A B C, B C A, …) rather than one
after the other, so a neighbour's load on a shared machine, a warming cache or
a growing database hits every variant alike; the ratio of their medians is what
the report shows. CPU time is `time.process_time`: every thread of this
process (Prefect's event and log workers included), never the simulator's or
the Prefect server's, which run in their own processes.

A run during which Prefect's client had to retry an API request is measured
again (see `tests.benchmarks.prefect_retries`): the client waits about 2 s
before its first retry, which says nothing about the variant that happened to
be running.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

__all__ = ["Sample", "Series", "interleave", "timed"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured run: elapsed wall seconds and this process's CPU seconds."""

    wall_s: float
    cpu_s: float


@dataclass(frozen=True, slots=True)
class Series:
    """Every measured run of one variant; the median resists one noisy round."""

    samples: tuple[Sample, ...]
    repeated: int = 0  # runs measured again because Prefect's client retried a request

    @property
    def wall_s(self) -> float:
        """Median wall seconds per run."""
        return statistics.median(s.wall_s for s in self.samples)

    @property
    def cpu_s(self) -> float:
        """Median CPU seconds per run."""
        return statistics.median(s.cpu_s for s in self.samples)

    @property
    def wall_spread_s(self) -> float:
        """Max minus min wall seconds: how much the rounds disagreed."""
        walls = [s.wall_s for s in self.samples]
        return max(walls) - min(walls)


async def timed(run: Callable[[], Awaitable[object]]) -> Sample:
    """Wall and CPU time of one awaited run."""
    wall, cpu = time.perf_counter(), time.process_time()
    await run()
    return Sample(time.perf_counter() - wall, time.process_time() - cpu)


async def interleave(
    variants: Mapping[str, Callable[[], Awaitable[object]]],
    *,
    rounds: int,
    warmup: int = 1,
    disturbed: Callable[[], int] | None = None,
    repeats: int = 3,
) -> dict[str, Series]:
    """Run every variant once per round, in turn; the `warmup` rounds are not kept.

    Each round starts one variant further along (A B C, B C A, C A B, …): a variant
    that always ran right after the same neighbour inherited its leftovers (the
    Prefect server still writing the previous run's events), which moved the
    per-step ratio by up to 0.2 between otherwise equal runs.

    `disturbed` counts events that make a run's time meaningless (Prefect's
    client retrying a request); a run during which it rose is run again, up to
    `repeats` times, and the last run is kept whatever happened.
    """
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    kept: dict[str, list[Sample]] = {name: [] for name in variants}
    repeated = dict.fromkeys(variants, 0)
    order = list(variants.items())
    for index in range(warmup + rounds):
        shift = index % len(order)
        for name, run in order[shift:] + order[:shift]:
            for attempt in range(repeats + 1):
                before = disturbed() if disturbed is not None else 0
                sample = await timed(run)
                clean = disturbed is None or disturbed() == before
                if clean or attempt == repeats:
                    break
                if index >= warmup:
                    repeated[name] += 1
            if index >= warmup:
                kept[name].append(sample)
    return {name: Series(tuple(samples), repeated[name]) for name, samples in kept.items()}
