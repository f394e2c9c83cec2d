"""Every benchmark scenario, in the order a session runs them.

Each takes the environment and the report and appends its table (and the
issue's targets it measures) to the report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.benchmarks.bench import Bench
from tests.benchmarks.key_resolution import key_resolution
from tests.benchmarks.memory import memory
from tests.benchmarks.orchestration import dag_efficiency, step_overhead
from tests.benchmarks.provider_layer import provider_layer
from tests.benchmarks.report import Report
from tests.benchmarks.startup import startup

__all__ = ["SCENARIOS", "Scenario"]

Scenario = Callable[[Bench, Report], Awaitable[None]]

SCENARIOS: tuple[Scenario, ...] = (
    step_overhead,
    dag_efficiency,
    provider_layer,
    key_resolution,
    memory,
    startup,
)
