"""`byok budgets set|list|remove` as an admin uses them: JSON, clear one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flows.budget.periods import Period, window
from flows.cli.main import app
from flows.ledger import CallContext, build_record, record
from providers.types import Usage
from vault.db import get_engine

runner = CliRunner()


def _invoke(*args: str) -> Any:
    result = runner.invoke(app, ["budgets", *args], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return result


def test_set_list_and_remove(byok_home: Path) -> None:
    ctx = CallContext(org="acme", user="ana", recipe="r", run_id="r1", step="s", attempt=1)
    row = build_record(ctx, provider="openai", model="gpt-5-mini",
                       usage=Usage(input_tokens=40_000, output_tokens=2_000), key_id="k",
                       key_version=1, latency_ms=1)  # fmt: skip
    record(get_engine(), row)

    _invoke("set", "--org", "acme", "--limit-usd", "25", "--period", "month")
    _invoke("set", "--org", "acme", "--user", "ana", "--limit-usd", "$2.50", "--period", "day",
            "--threshold", "90", "--threshold", "50")  # fmt: skip
    listed = json.loads(_invoke("list", "--json").stdout)

    now = datetime.now(UTC)
    month, day = window(Period.MONTH, now), window(Period.DAY, now)
    assert row.cost_usd is not None
    spent = float(row.cost_usd)
    assert listed == [
        {"id": listed[0]["id"], "org": "acme", "user": None, "period": "month",
         "limit_usd": 25.0, "thresholds": [80, 100], "period_start": month[0].isoformat(),
         "period_end": month[1].isoformat(), "spent_usd": spent, "reserved_usd": 0.0,
         "remaining_usd": float(Decimal(25) - row.cost_usd)},
        {"id": listed[1]["id"], "org": "acme", "user": "ana", "period": "day",
         "limit_usd": 2.5, "thresholds": [50, 90], "period_start": day[0].isoformat(),
         "period_end": day[1].isoformat(), "spent_usd": spent, "reserved_usd": 0.0,
         "remaining_usd": float(Decimal("2.5") - row.cost_usd)},
    ]  # fmt: skip
    table = _invoke("list").stdout
    assert "(everyone)" in table
    assert "ana" in table

    changed = json.loads(_invoke("set", "--org", "acme", "--limit-usd", "30", "--json").stdout)
    assert (changed["id"], changed["limit_usd"]) == (listed[0]["id"], 30.0)

    _invoke("remove", "--org", "acme", "--period", "month")
    assert [b["user"] for b in json.loads(_invoke("list", "--json").stdout)] == ["ana"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["set", "--limit-usd", "lots"], "--limit-usd expects an amount"),
        (["set", "--limit-usd", "0"], "must be more than 0"),
        (["set", "--limit-usd", "NaN"], "must be more than 0"),
        (["set", "--limit-usd", "5", "--threshold", "0"], "between 1 and 1000"),
        (["remove", "--org", "nobody"], "org 'nobody' has no monthly budget"),
    ],
)
def test_mistakes_are_one_line_errors(byok_home: Path, args: list[str], expected: str) -> None:
    result = runner.invoke(app, ["budgets", *args])

    assert result.exit_code == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
