"""A recipe uses OpenAI-compatible keys (a local server, Azure) by their names, end to end.

The keys live in the vault with their protocol and base URL; the step's
model string names the key. The ledger prices what it can and records null,
never zero, for a model genai-prices does not know.
"""

from __future__ import annotations

import genai_prices
import pytest

from flows.engine import run_recipe
from flows.recipe import Recipe
from providers import azure
from providers.simulator import SimulatorServer, key_fingerprint
from providers.types import Protocol
from tests.conftest import NO_WAIT
from vault.store import KeyStore

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api", "byok_home")]

OLLAMA_KEY = "ollama"
AZURE_KEY = "azure-key-5e7a9c"


def _keys(sim: SimulatorServer) -> None:
    store = KeyStore.open()
    store.add_key(
        org="default",
        provider="ollama",
        secret=OLLAMA_KEY,
        protocol=Protocol.OPENAI,
        base_url=sim.base_url("openai"),
    )
    store.add_key(
        org="default",
        provider="azure",
        secret=AZURE_KEY,
        protocol=Protocol.OPENAI,
        base_url=sim.base_url("azure"),
    )


RECIPE = Recipe.model_validate(
    {
        "name": "compatible-keys",
        "inputs": {"ticket": {"type": "string"}},
        "steps": [
            {"id": "local", "model": "ollama:llama3.2", "prompt": "Tag: {{ inputs.ticket }}"},
            {
                "id": "cloud",
                "model": "azure:gpt-4o",
                "prompt": "Reply to {{ steps.local.output }}",
                "max_tokens": 200,
            },
        ],
    }
)


async def test_a_recipe_runs_on_a_local_server_and_azure_keys(sim: SimulatorServer) -> None:
    _keys(sim)

    result = await run_recipe(RECIPE, {"ticket": "charged twice"}, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    local, cloud = sim.requests
    assert (local.path, local.key_fingerprint) == (
        "/v1/chat/completions",
        key_fingerprint(OLLAMA_KEY),
    )
    assert local.body["max_tokens"] == 1024
    assert cloud.path == "/openai/deployments/gpt-4o/chat/completions"
    assert cloud.key_fingerprint == key_fingerprint(AZURE_KEY)
    rows = {row.step: row for row in result.usage}
    assert (rows["local"].provider, rows["cloud"].provider) == ("ollama", "azure")
    assert rows["local"].cost_usd is None  # no public price for a local model: null, not 0
    cloud_row = rows["cloud"]
    expected = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=cloud_row.input_tokens, output_tokens=cloud_row.output_tokens
        ),
        "gpt-4o",
        provider_id="azure",
    )
    assert cloud_row.cost_usd == expected.total_price


PINNED = "2025-04-01-preview"


async def test_an_azure_key_pins_its_api_version_in_its_base_url(sim: SimulatorServer) -> None:
    """The base URL's `api-version` is sent on every call; a key without one gets the default."""
    store = KeyStore.open()
    for name, base_url in (
        ("azure", f"{sim.base_url('azure')}/?api-version={PINNED}"),
        ("azure-default", sim.base_url("azure")),
    ):
        store.add_key(
            org="default",
            provider="azure",
            name=name,
            secret=AZURE_KEY,
            protocol=Protocol.OPENAI,
            base_url=base_url,
        )
    recipe = Recipe.model_validate(
        {
            "name": "azure-versions",
            "steps": [
                {"id": "pinned", "model": "azure:gpt-4o", "prompt": "Hello"},
                {
                    "id": "default",
                    "model": "azure-default:gpt-4o",
                    "prompt": "Hello",
                    "needs": ["pinned"],
                    "stream": True,
                },
            ],
        }
    )

    result = await run_recipe(recipe, {}, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    pinned, default = sim.requests
    assert pinned.path == default.path == "/openai/deployments/gpt-4o/chat/completions"
    assert pinned.query == {"api-version": PINNED}
    assert default.query == {"api-version": azure.API_VERSION}
    assert default.stream
    assert [row.step for row in result.usage] == ["pinned", "default"]
    assert all(row.cost_usd is not None and row.cost_usd > 0 for row in result.usage)
