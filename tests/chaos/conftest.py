"""The chaos suite's figures: what each scenario did, printed after the test session.

Each scenario records a few numbers (runs, calls, faults fired, retries,
fallbacks, final states) with the `figures` fixture; they are printed in the
terminal summary whether the tests pass or fail, so a CI log shows them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

_FIGURES: list[tuple[str, dict[str, object]]] = []

Figures = Callable[..., None]


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """Record named figures for this test: `figures(runs=20, completed=20, …)`."""

    def add(**values: object) -> None:
        _FIGURES.append((request.node.name, values))

    return add


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("chaos figures")
    for name, values in _FIGURES:
        terminalreporter.write_line(name)
        for key, value in values.items():
            terminalreporter.write_line(f"    {key:<32} {value}")
