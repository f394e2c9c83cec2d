"""The profile summary counts each sample once per function and bills CPU to the leaf's package."""

from __future__ import annotations

from tests.benchmarks.hotspots import markdown, parse

SITE = "/venv/lib/python3.11/site-packages"  # as with py-spy --full-filenames
STACKS = [
    # outermost first; `run` recurses, and must still count once per sample
    "run (flows/engine/step.py:10);run (flows/engine/step.py:12);"
    f"commit ({SITE}/sqlalchemy/engine/base.py:900) 6\n",
    "run (flows/engine/step.py:10);send (httpx/_client.py:1);create_default_context (ssl.py:7) 4\n",
    "not a stack line\n",
]


def test_inclusive_shares_count_a_recursive_function_once_per_sample() -> None:
    profile = parse(STACKS)

    assert profile.total == 10
    assert profile.inclusive_by_function["run (flows/engine/step.py)"] == 10
    assert profile.inclusive_by_function["commit (sqlalchemy/engine/base.py)"] == 6
    assert profile.inclusive_by_function["send (httpx/_client.py)"] == 4


def test_self_time_goes_to_the_package_of_the_innermost_frame() -> None:
    profile = parse(STACKS)

    assert profile.self_by_package == {"sqlalchemy": 6, "ssl": 4}
    table = markdown(profile, top=5)
    assert "| sqlalchemy | 60.0% |" in table
    assert "| `run (flows/engine/step.py)` | 100.0% |" in table
