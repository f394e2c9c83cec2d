"""The Prefect UI in a real browser: a recipe's typed run form, a run from it, its cost.

Playwright drives Debian's Chromium (`/usr/bin/chromium`; `scripts/test.sh`
installs it) against the UI of the real Prefect server, with `byok serve`
running the recipe. A screenshot of each page is kept in
`test-artifacts/prefect-ui/` for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterName,
)

from flows.ledger import rows_for_run
from providers.simulator import SimulatorServer
from tests.deployments.fixtures import SharedVault
from tests.deployments.processes import PrefectServer, serve_recipes, wait_until
from tests.deployments.recipes import CALLS_PER_RUN, TYPED_RECIPE, write_recipe
from vault.db import get_engine

pytestmark = pytest.mark.postgres

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "prefect-ui"
NAME = "ui-desk"
TICKET = "My parcel was lost in transit, order 1234"
RUN_TIMEOUT_MS = 240_000


@pytest.fixture
def page() -> Iterator[Page]:
    """A Chromium page, 1400x1400, that screenshots land from."""
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: scripts/test.sh installs it, or `apt-get install chromium`"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1400})
        finally:
            browser.close()


def test_a_recipe_runs_from_its_typed_form_and_shows_its_cost(
    page: Page,
    prefect_server: PrefectServer,
    shared_vault: SharedVault,
    sim: SimulatorServer,
    tmp_path: Path,
) -> None:
    write_recipe(tmp_path / "recipes", TYPED_RECIPE.replace("name: ticket-desk", f"name: {NAME}"))
    env = shared_vault.env(prefect_server, "ui-machine", PREFECT_RUNNER_POLL_FREQUENCY="1")
    serving = serve_recipes(tmp_path / "recipes", env, shared_vault.home / "logs", "serve-ui")
    try:
        with SyncPrefectClient(prefect_server.api_url) as client:
            deployment = client.read_deployment_by_name(f"{NAME}/{NAME}")
        ui = prefect_server.ui_url

        page.goto(f"{ui}/deployments/deployment/{deployment.id}")
        expect(page.get_by_text("deployments.entrypoint.ui-desk")).to_be_visible()
        expect(page.get_by_text("Monday through Friday")).to_be_visible()  # the schedule
        _shot(page, "1-deployment")

        page.goto(f"{ui}/deployments/deployment/{deployment.id}/run")
        # Each input is a typed control with its description and default.
        expect(_field(page, "ticket").locator("textarea")).to_be_visible()
        expect(_field(page, "ticket")).to_contain_text("The customer's message")
        expect(_field(page, "tone").locator(".p-select-button__control")).to_have_text("friendly")
        expect(_field(page, "max_words").locator("input[type=number]")).to_have_value("120")
        expect(_field(page, "temperature").locator("input[type=number]")).to_have_value("0.3")
        expect(_field(page, "urgent").locator("[role=switch]")).to_be_visible()
        _shot(page, "2-run-form")

        page.get_by_role("button", name="Submit").click()  # the required ticket is empty
        expect(page.get_by_text("'ticket' is a required property")).to_be_visible()
        _shot(page, "3-run-form-rejects-missing-input")

        _field(page, "ticket").locator("textarea").fill(TICKET)
        _field(page, "tone").locator(".p-select-button__control").press("ArrowDown")
        page.get_by_role("option", name="formal").click()
        _field(page, "max_words").locator("input").fill("55")
        _field(page, "urgent").locator("[role=switch]").click()
        run_name = page.locator(".p-label").filter(has_text="Run Name").locator("input")
        expect(run_name).not_to_have_value("")
        name = run_name.input_value()
        page.get_by_role("button", name="Submit").click()
        # The UI created the run: find it by the name the form gave it, then open its page
        # (the UI's own redirect after submit differs between Prefect UI versions).
        created = _created_run(prefect_server, deployment.id, name)
        page.goto(f"{ui}/runs/flow-run/{created}")

        expect(page.locator(".state-badge").first).to_have_text(
            re.compile("Completed"), timeout=RUN_TIMEOUT_MS
        )
        _shot(page, "4-flow-run")

        page.locator("li.p-tab", has_text="Artifacts").click()
        with SyncPrefectClient(prefect_server.api_url) as client:
            run = client.read_flow_run(created)
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
        [cost] = [a for a in artifacts if a.key and a.key.startswith("cost-")]
        card = page.get_by_text(cost.key or "", exact=True)
        expect(card).to_be_visible()
        _shot(page, "5-artifacts")
        card.click()
        expect(page.get_by_text("reply", exact=True).first).to_be_visible()
        expect(page.get_by_text("total", exact=True).first).to_be_visible()
        _shot(page, "6-cost-artifact")
    finally:
        serving.stop()

    assert run.parameters == {
        "ticket": TICKET,
        "tone": "formal",
        "max_words": 55,
        "temperature": 0.3,
        "urgent": True,
    }
    assert TICKET not in run.name
    rows = rows_for_run(get_engine(shared_vault.database_url), str(run.id))
    assert sorted(row.step for row in rows) == ["extract", "reply", "summarize"]
    assert len(rows) == CALLS_PER_RUN


def _field(page: Page, name: str) -> Locator:
    """The run form's control group for input `name` (optional ones are labelled so)."""
    label = page.locator(
        ".schema-form-property__label", has_text=re.compile(rf"^{name}( \(Optional\))?$")
    )
    return page.locator(".schema-form-property").filter(has=label)


def _shot(page: Page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=SCREENSHOTS / f"{name}.png", animations="disabled")


def _created_run(server: PrefectServer, deployment_id: UUID, name: str) -> UUID:
    """The id of the flow run named `name` that the form just created."""
    filters = FlowRunFilter(name=FlowRunFilterName(any_=[name]))
    created: list[UUID] = []
    with SyncPrefectClient(server.api_url) as client:

        def landed() -> bool:
            runs = client.read_flow_runs(flow_run_filter=filters)
            created.extend(run.id for run in runs if run.deployment_id == deployment_id)
            return bool(created)

        wait_until(landed, timeout=60, what=f"the run form to create a run named {name!r}")
    return created[0]
