"""The benchmark session: one environment (simulators, a PostgreSQL Prefect server) and one report.

Benchmarks are marked `benchmark` and deselected by default (pyproject's
addopts); `scripts/bench.sh` runs them and writes the report to
`test-artifacts/bench.md` (or `BYOK_BENCH_OUT`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.benchmarks.bench import Bench, open_bench
from tests.benchmarks.report import Report
from tests.benchmarks.sizes import FULL
from tests.conftest import POSTGRES_ADMIN_URL

_DEFAULT_OUT = Path(__file__).resolve().parents[2] / "test-artifacts" / "bench.md"


@pytest.fixture(scope="session")
def bench_report() -> Iterator[Report]:
    """Collects every scenario's table; written and printed when the session ends."""
    report = Report()
    yield report
    if report.tables:
        path = report.write(Path(os.environ.get("BYOK_BENCH_OUT") or _DEFAULT_OUT))
        print(f"\n{report.markdown()}\nwritten to {path}")  # shown with -s


@pytest.fixture(scope="session")
def bench(prefect_api: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    """The full-size environment, for the whole session."""
    with open_bench(FULL, tmp_path_factory.mktemp("bench-home"), POSTGRES_ADMIN_URL) as env:
        yield env
