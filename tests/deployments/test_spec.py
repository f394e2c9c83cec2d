"""What a deployment carries for its runs, and finding a recipe by name outside a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployments.source import find_recipe_file, locate_recipe
from deployments.spec import RecipeDeployment, run_as
from flows.recipe import RecipeError
from tests.deployments.recipes import TYPED_RECIPE, typed_recipe, write_recipe


def test_job_variables_carry_the_recipe_org_and_user_back_unchanged() -> None:
    sent = RecipeDeployment(typed_recipe(), org="acme", user="ops")

    received = RecipeDeployment.from_job_variables(sent.job_variables(), source="test")

    assert received == sent
    assert received is not None
    assert received.version == sent.version


def test_the_version_changes_with_the_recipe_org_or_user_and_only_then() -> None:
    recipe = typed_recipe()
    base = RecipeDeployment(recipe, org="acme")
    edited = typed_recipe(TYPED_RECIPE.replace("Summarise:", "Summarize:"))

    assert RecipeDeployment(typed_recipe(), org="acme").version == base.version
    assert (
        len(
            {
                base.version,
                RecipeDeployment(edited, org="acme").version,
                RecipeDeployment(recipe, org="other").version,
                RecipeDeployment(recipe, org="acme", user="someone").version,
            }
        )
        == 4
    )


def test_without_byok_settings_runs_execute_as_the_local_operator_of_the_default_org() -> None:
    assert run_as({}, source="test") == ("default", "local")
    assert run_as({"byok": {"org": "acme", "user": "ana"}}, source="test") == ("acme", "ana")


def test_malformed_byok_settings_are_reported_against_their_deployment() -> None:
    with pytest.raises(RecipeError, match="deployment 'd': job variable 'byok' must map"):
        run_as({"byok": {"org": 5}}, source="deployment 'd'")


def test_a_deployment_without_a_recipe_carries_none() -> None:
    assert RecipeDeployment.from_job_variables({"env": {"X": "1"}}, source="test") is None


def test_a_broken_stored_recipe_is_reported_against_its_deployment() -> None:
    stored = RecipeDeployment(typed_recipe()).job_variables()
    stored["byok"]["recipe"]["steps"][0]["needs"] = ["nowhere"]

    with pytest.raises(RecipeError, match=r"deployment 'd'.*unknown step 'nowhere'"):
        RecipeDeployment.from_job_variables(stored, source="deployment 'd'")


def test_a_recipe_is_found_by_its_name_not_its_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_recipe(tmp_path / "recipes", name="something-else.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BYOK_RECIPES", raising=False)
    monkeypatch.delenv("PREFECT__FLOW_RUN_ID", raising=False)

    found = locate_recipe("ticket-desk")  # outside a flow run: the recipe folder

    assert found.recipe == typed_recipe()
    assert found.org == "default"


def test_a_missing_recipe_lists_what_the_folder_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_recipe(tmp_path)
    (tmp_path / "broken.yaml").write_text("name: [\n")
    monkeypatch.setenv("BYOK_RECIPES", str(tmp_path))

    with pytest.raises(RecipeError) as caught:
        find_recipe_file("triage")

    message = str(caught.value)
    assert "no recipe named 'triage'" in message
    assert "found: ticket-desk" in message
    assert "broken.yaml" in message


def test_a_broken_file_named_after_the_recipe_says_what_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "triage.yaml").write_text("name: triage\nsteps: []\n")
    monkeypatch.setenv("BYOK_RECIPES", str(tmp_path))

    with pytest.raises(RecipeError, match="at least one step"):
        find_recipe_file("triage")


def test_without_a_recipe_folder_the_error_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOK_RECIPES", str(tmp_path / "nowhere"))

    with pytest.raises(RecipeError, match="set BYOK_RECIPES or register it with `byok deploy`"):
        find_recipe_file("triage")
