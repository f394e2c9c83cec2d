"""The whole benchmark harness at a tiny size, in the default suite, so it cannot rot.

Every scenario runs once against the simulator and the session's Prefect API
(LiteLLM, the PostgreSQL server and the ephemeral-API start-ups only at full
size: they alone would take longer than the rest). Each timed run is checked
for its result by the harness itself. The numbers are too small to mean
anything: what is checked is that every table and target makes it into the report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks.bench import open_bench
from tests.benchmarks.orchestration import ENGINE, HANDWRITTEN, PLAIN
from tests.benchmarks.provider_layer import ADAPTER
from tests.benchmarks.provider_layer import PLAIN as PLAIN_HTTPX
from tests.benchmarks.report import Report
from tests.benchmarks.scenarios import SCENARIOS
from tests.benchmarks.sizes import SMOKE
from tests.conftest import POSTGRES_ADMIN_URL

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


async def test_every_scenario_reports_a_table_and_the_targets(tmp_path: Path) -> None:
    report = Report()
    with open_bench(SMOKE, tmp_path / "home", POSTGRES_ADMIN_URL) as bench:
        for scenario in SCENARIOS:
            await scenario(bench, report)

    assert len(report.tables) == len(SCENARIOS)
    assert all(table.rows for table in report.tables)
    overhead, efficiency = report.tables[0], report.tables[1]
    assert {row[1] for row in overhead.rows} == {ENGINE, HANDWRITTEN, PLAIN}
    assert len(efficiency.rows) == 2 * 3  # wide and deep, three ways each
    goals = [goal.target for goal in report.goals]
    assert any(goal.startswith("per-step overhead") for goal in goals)
    assert sum(goal.startswith("DAG efficiency") for goal in goals) == 2
    providers = report.tables[2]
    assert {row[0] for row in providers.rows} >= {PLAIN_HTTPX, ADAPTER}
    written = report.write(tmp_path / "bench.md").read_text()
    assert all(f"### {table.title}" in written for table in report.tables)
