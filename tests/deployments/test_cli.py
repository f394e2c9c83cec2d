"""`byok serve`, `byok deploy` and `byok server` as a user meets them: errors and JSON."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner

from flows.cli.main import app
from tests.deployments.recipes import TYPED_RECIPE, write_recipe

runner = CliRunner()


@pytest.fixture
def no_prefect_server(byok_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No PREFECT_API_URL anywhere and no `byok server` running."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        yield


def test_serve_lists_every_problem_of_every_recipe_before_starting(
    tmp_path: Path, no_prefect_server: None
) -> None:
    write_recipe(tmp_path, name="a.yaml")
    write_recipe(tmp_path, name="b.yaml")  # the same recipe name again
    (tmp_path / "c.yaml").write_text("name: broken\nsteps: []\n")

    result = runner.invoke(app, ["serve", str(tmp_path)])

    assert result.exit_code == 2
    assert "recipe name 'ticket-desk' is also used by" in result.stderr
    assert "c.yaml" in result.stderr
    assert "at least one step" in result.stderr


@pytest.mark.parametrize("command", ["serve", "deploy"])
def test_a_missing_path_is_one_line_naming_it(tmp_path: Path, command: str) -> None:
    args = [command, str(tmp_path / "nowhere")] + (["--pool", "p"] if command == "deploy" else [])

    result = runner.invoke(app, args)

    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nowhere'}: no such file or folder"


def test_the_default_recipe_folder_is_byok_recipes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOK_RECIPES", str(tmp_path))

    result = runner.invoke(app, ["serve"])

    assert result.exit_code == 2
    assert f"no recipe files (*.yaml, *.yml) in {tmp_path}" in result.stderr


def test_serve_needs_a_prefect_server_and_says_how_to_get_one(
    tmp_path: Path, no_prefect_server: None
) -> None:
    write_recipe(tmp_path)

    result = runner.invoke(app, ["serve", str(tmp_path)])

    assert result.exit_code == 2
    assert "byok serve needs a Prefect server: start one with `byok server start`" in result.stderr


def test_server_status_says_when_it_is_not_running(byok_home: Path) -> None:
    result = runner.invoke(app, ["server", "status", "--json"])

    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "running": False,
        "api_url": None,
        "ui_url": None,
        "pid": None,
        "home": str(byok_home / "prefect"),
    }
    assert runner.invoke(app, ["server", "stop"]).stdout.strip() == "not running"


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_deploy_json_reports_each_deployment_and_the_pool(tmp_path: Path, byok_home: Path) -> None:
    name = f"cli-desk-{secrets.token_hex(4)}"
    pool = f"cli-pool-{secrets.token_hex(4)}"
    write_recipe(tmp_path, TYPED_RECIPE.replace("name: ticket-desk", f"name: {name}"))

    first = runner.invoke(app, ["deploy", "--pool", pool, "--json", str(tmp_path)])
    again = runner.invoke(app, ["deploy", "--pool", pool, "--json", str(tmp_path)])

    assert first.exit_code == 0, first.output
    report, repeat = json.loads(first.stdout), json.loads(again.stdout)
    assert (report["work_pool"], report["created_work_pool"]) == (pool, True)
    assert repeat["created_work_pool"] is False
    [deployment] = report["deployments"]
    assert set(deployment) == {"name", "id", "version", "change", "previous_version"}
    assert (deployment["name"], deployment["change"]) == (f"{name}/{name}", "new")
    assert repeat["deployments"][0]["change"] == "unchanged"
    with get_client(sync_client=True) as client:
        stored = client.read_deployment_by_name(f"{name}/{name}")
    assert (str(stored.id), stored.work_pool_name) == (deployment["id"], pool)
