"""`byok usage` as finance reads it: every grouping adds up to the rows; reprice fixes history."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from flows.ledger import CallContext, GroupBy, build_record, record, select_rows, total_cost
from providers.types import Usage
from vault.db import get_engine

runner = CliRunner()

CALLS = [
    # (org, user, recipe, run, step, provider, model, days ago)
    ("acme", "ana", "triage", "r1", "extract", "anthropic", "claude-haiku-4-5", 0),
    ("acme", "ana", "triage", "r1", "reply", "openai", "gpt-5-mini", 0),
    ("acme", "bo", "triage", "r2", "extract", "anthropic", "claude-haiku-4-5", 1),
    ("acme", "bo", "digest", "r3", "sum", "google", "gemini-2.5-flash", 2),
    ("acme", "bo", "digest", "r3", "local", "ollama", "llama3.2", 2),
    ("other", "cy", "triage", "r4", "extract", "openai", "gpt-5-mini", 40),
]


@pytest.fixture
def ledger(byok_home: Path) -> None:
    engine = get_engine()
    now = datetime.now(UTC)
    for n, (org, user, recipe, run, step, provider, model, ago) in enumerate(CALLS):
        ctx = CallContext(org=org, user=user, recipe=recipe, run_id=run, step=step, attempt=1)
        usage = Usage(input_tokens=1000 + 37 * n, cache_read_tokens=100 * n, output_tokens=300 + n)
        record(
            engine,
            build_record(
                ctx,
                provider=provider,
                model=model,
                usage=usage,
                key_id=f"key_{n}",
                key_version=1,
                latency_ms=10,
                at=now - timedelta(days=ago),
            ),
        )


def _json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["usage", *args, "--json"])
    assert result.exit_code == 0, result.output
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


@pytest.mark.usefixtures("ledger")
@pytest.mark.parametrize("by", list(GroupBy))
def test_every_grouping_adds_up_to_the_rows(by: GroupBy) -> None:
    rows = select_rows(get_engine(), org="acme")
    report = _json("--by", by.value, "--org", "acme")

    groups = report["groups"]
    total = report["total"]
    assert isinstance(groups, list)
    assert isinstance(total, dict)
    assert sum(g["calls"] for g in groups) == total["calls"] == len(rows) == 5
    for kind in ("input_tokens", "cache_read_tokens", "output_tokens"):
        assert sum(g[kind] for g in groups) == total[kind] == sum(getattr(r, kind) for r in rows)
    priced = [Decimal(str(g["cost_usd"])) for g in groups if g["cost_usd"] is not None]
    assert sum(priced, Decimal(0)) == Decimal(str(total["cost_usd"])) == total_cost(rows)
    assert total["unpriced_calls"] == 1  # ollama has no public price


@pytest.mark.usefixtures("ledger")
def test_csv_columns_sum_to_the_ledger_exactly() -> None:
    result = runner.invoke(app, ["usage", "--by", "model", "--csv"])

    assert result.exit_code == 0, result.output
    lines = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [line["model"] for line in lines][-1] == "ollama:llama3.2"  # unpriced sorts last
    costs = [Decimal(line["cost_usd"]) for line in lines if line["cost_usd"]]
    assert sum(costs, Decimal(0)) == total_cost(select_rows(get_engine()))
    assert sum(int(line["calls"]) for line in lines) == len(CALLS)


@pytest.mark.usefixtures("ledger")
def test_days_and_since() -> None:
    days = _json("--by", "day", "--org", "acme")["groups"]
    assert isinstance(days, list)
    today = datetime.now(UTC).date()
    assert [g["key"] for g in days] == [
        (today - timedelta(days=ago)).isoformat() for ago in (2, 1, 0)
    ]
    recent = _json("--by", "user", "--since", "36h")["groups"]
    assert isinstance(recent, list)
    assert {g["key"]: g["calls"] for g in recent} == {"ana": 2, "bo": 1}


@pytest.mark.usefixtures("ledger")
def test_the_table_shows_exact_costs_and_their_total() -> None:
    result = runner.invoke(app, ["usage", "--by", "recipe"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    total = total_cost(select_rows(get_engine()))
    assert total is not None
    assert format(total, "f") in result.stdout
    assert "(+1 unpriced)" in result.stdout


def test_json_and_csv_together_is_a_one_line_error(byok_home: Path) -> None:
    result = runner.invoke(app, ["usage", "--json", "--csv"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0


@pytest.mark.usefixtures("ledger")
def test_reprice_applies_a_price_file_to_history(byok_home: Path) -> None:
    (byok_home / "prices.yaml").write_text("ollama:*: {input_mtok: 0.5, output_mtok: 2}\n")
    before = {r.id: r.cost_usd for r in select_rows(get_engine())}

    preview = runner.invoke(app, ["usage", "reprice", "--dry-run", "--json"])
    assert preview.exit_code == 0, preview.output
    assert json.loads(preview.stdout)["changed"] == 1
    assert {r.id: r.cost_usd for r in select_rows(get_engine())} == before

    done = runner.invoke(app, ["usage", "reprice"])
    assert done.exit_code == 0, done.output
    assert "changed 1 of 6" in done.stdout
    rows = select_rows(get_engine())
    local = next(r for r in rows if r.provider == "ollama")
    expected = (local.input_tokens * Decimal("0.5") + local.output_tokens * 2) / 10**6
    assert local.cost_usd == expected
    assert local.price_source is not None
    assert local.price_source.startswith("price file sha256:")
    assert local.repriced_at is not None
    assert all(r.cost_usd == before[r.id] for r in rows if r.provider != "ollama")


@pytest.mark.usefixtures("ledger")
def test_reprice_refuses_a_broken_price_file(byok_home: Path) -> None:
    (byok_home / "prices.yaml").write_text("ollama:*: {input_mtok: cheap}\n")

    result = runner.invoke(app, ["usage", "reprice"])

    assert result.exit_code == 2
    assert "prices.yaml" in result.stderr
    assert "Traceback" not in result.output


def test_one_hour_cache_writes_are_reported_in_json_and_csv(byok_home: Path) -> None:
    engine = get_engine()
    for n, write_1h in enumerate((3000, 500)):
        ctx = CallContext(
            org="default", user="ana", recipe="long-doc", run_id=f"r{n}", step="read", attempt=1
        )
        usage = Usage(
            input_tokens=6000,
            cache_write_tokens=4000,
            cache_write_1h_tokens=write_1h,
            output_tokens=10,
        )
        record(
            engine,
            build_record(
                ctx,
                provider="anthropic",
                model="claude-haiku-4-5",
                usage=usage,
                key_id="k",
                key_version=1,
                latency_ms=1,
            ),
        )

    report = _json("--by", "run")
    as_csv = runner.invoke(app, ["usage", "--by", "run", "--csv"])

    total = report["total"]
    assert isinstance(total, dict)
    assert (total["cache_write_tokens"], total["cache_write_1h_tokens"]) == (8000, 3500)
    groups = report["groups"]
    assert isinstance(groups, list)
    assert {g["key"]: g["cache_write_1h_tokens"] for g in groups} == {"r0": 3000, "r1": 500}
    lines = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {line["run"]: line["cache_write_1h_tokens"] for line in lines} == {
        "r0": "3000",
        "r1": "500",
    }
    header = as_csv.stdout.splitlines()[0].split(",")
    assert header[-1] == "cache_write_1h_tokens"  # added last: older columns keep their places
