"""OpenAI-compatible endpoints via a key's protocol and base URL: Azure, routers, local servers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from providers import anthropic, azure, google, openai
from providers.client import ProviderClient
from providers.endpoint import Endpoint
from providers.errors import AuthenticationError, RateLimitError, ServerError
from providers.secret import SecretKey
from providers.simulator import Fault, SimulatorServer, key_fingerprint
from providers.types import ModelRequest, Protocol
from tests.providers.bodies import OPENAI_COMPLETION

SECRET = "azure-key-0123456789abcdef"


def _endpoint(base_url: str, provider: str = "azure", key: str = SECRET) -> Endpoint:
    return Endpoint.for_protocol(
        Protocol.OPENAI, SecretKey(key), base_url=base_url, provider=provider, key_id="key_az"
    )


# -- Azure OpenAI ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (
            "https://contoso.openai.azure.com",
            "https://contoso.openai.azure.com/openai/deployments/prod-gpt/chat/completions"
            f"?api-version={azure.API_VERSION}",
        ),
        (
            "https://contoso.openai.azure.com/openai",
            "https://contoso.openai.azure.com/openai/deployments/prod-gpt/chat/completions"
            f"?api-version={azure.API_VERSION}",
        ),
        (
            "https://contoso.openai.azure.com?api-version=2025-04-01-preview",
            "https://contoso.openai.azure.com/openai/deployments/prod-gpt/chat/completions"
            "?api-version=2025-04-01-preview",
        ),
        (
            "https://contoso.openai.azure.com/openai/v1",
            "https://contoso.openai.azure.com/openai/v1/chat/completions",
        ),
        (
            "https://gateway.example.com/azure",
            "https://gateway.example.com/azure/openai/deployments/prod-gpt/chat/completions"
            f"?api-version={azure.API_VERSION}",
        ),
        (
            "https://gateway.example.com/azure/openai/?region=eu&api-version=2025-04-01-preview",
            "https://gateway.example.com/azure/openai/deployments/prod-gpt/chat/completions"
            "?region=eu&api-version=2025-04-01-preview",
        ),
        (
            "https://contoso.openai.azure.com/openai/v1?region=eu",
            "https://contoso.openai.azure.com/openai/v1/chat/completions?region=eu",
        ),
    ],
    ids=[
        "resource",
        "resource-openai",
        "pinned-version",
        "v1-api",
        "behind-a-gateway",
        "gateway-parameters-kept",
        "v1-api-parameters-kept",
    ],
)
def test_azure_urls(base_url: str, expected: str) -> None:
    prepared = openai.build_request(
        ModelRequest(model="prod-gpt", prompt="Hi"), _endpoint(base_url)
    )

    assert prepared.url == expected
    assert prepared.headers["api-key"] == SECRET
    assert "authorization" not in prepared.headers


def test_deployment_names_cannot_escape_the_deployment_path() -> None:
    prepared = openai.build_request(
        ModelRequest(model="../../admin?x=1", prompt="Hi"),
        _endpoint("https://contoso.openai.azure.com"),
    )

    assert "/openai/deployments/..%2F..%2Fadmin%3Fx%3D1/chat/completions?" in prepared.url


@pytest.mark.parametrize(
    ("provider", "base_url", "is_azure"),
    [
        ("azure", "https://gateway.example.com", True),
        ("azure-eu", "https://contoso-eu.openai.azure.com", True),
        ("foundry", "https://contoso.services.ai.azure.com", True),
        ("cogsvc", "https://contoso.cognitiveservices.azure.com", True),
        ("openai", "https://api.openai.com/v1", False),
        ("ollama", "http://127.0.0.1:11434/v1", False),
        ("evil", "https://openai.azure.com.evil.example", False),
    ],
)
def test_a_key_is_azure_by_provider_name_or_azure_host(
    provider: str, base_url: str, is_azure: bool
) -> None:
    assert azure.is_azure(_endpoint(base_url, provider)) is is_azure


def test_azure_gets_max_completion_tokens_and_other_servers_max_tokens() -> None:
    request = ModelRequest(model="m", prompt="Hi", max_tokens=77)
    bodies = {
        name: openai.build_request(request, _endpoint(url, name)).json
        for name, url in [
            ("openai", "https://api.openai.com/v1"),
            ("azure", "https://contoso.openai.azure.com"),
            ("ollama", "http://127.0.0.1:11434/v1"),
            ("groq", "https://api.groq.com/openai/v1"),
        ]
    }

    assert bodies["openai"]["max_completion_tokens"] == bodies["azure"]["max_completion_tokens"]
    assert bodies["ollama"]["max_tokens"] == bodies["groq"]["max_tokens"] == 77
    assert "max_tokens" not in bodies["azure"]
    assert "max_completion_tokens" not in bodies["ollama"]


async def test_azure_through_the_simulator_streamed_and_not(sim: SimulatorServer) -> None:
    endpoint = _endpoint(sim.base_url("azure"))
    async with ProviderClient() as client:
        whole = await client.complete(endpoint, ModelRequest(model="prod-gpt", prompt="Hi"))
        streamed = await client.complete(
            endpoint, ModelRequest(model="prod-gpt", prompt="Hi", stream=True)
        )

    assert whole.text == streamed.text
    assert whole.usage == streamed.usage
    first, second = sim.requests
    assert first.path == second.path == "/openai/deployments/prod-gpt/chat/completions"
    assert first.key_fingerprint == key_fingerprint(SECRET)
    assert (first.stream, second.stream) == (False, True)


async def test_azure_errors_are_classified_by_status(sim: SimulatorServer) -> None:
    sim.inject(Fault.error(429, retry_after_s=6), Fault.error(401))
    endpoint = _endpoint(sim.base_url("azure"))
    async with ProviderClient() as client:
        with pytest.raises(RateLimitError) as limited:
            await client.complete(endpoint, ModelRequest(model="prod-gpt", prompt="Hi"))
        with pytest.raises(AuthenticationError, match="key 'key_az'"):
            await client.complete(endpoint, ModelRequest(model="prod-gpt", prompt="Hi"))

    assert limited.value.retry_after_s == 6.0


# -- routers and local servers ---------------------------------------------------------------


async def test_openrouter_error_in_a_200_body_is_an_error_with_its_status() -> None:
    body = {
        "error": {
            "code": 502,
            "message": "anthropic/claude-sonnet-4.5 is temporarily unavailable",
            "metadata": {"provider_name": "Anthropic", "raw": "upstream said: prompt was ..."},
        },
        "user_id": "user_2abc",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    endpoint = _endpoint("https://openrouter.ai/api/v1", "openrouter")
    async with ProviderClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ServerError) as caught:
            await client.complete(
                endpoint, ModelRequest(model="anthropic/claude-sonnet-4.5", prompt="Hi")
            )

    assert caught.value.status == 502
    assert caught.value.retryable
    assert "HTTP 200 with an in-band 502 error" in str(caught.value)
    assert "upstream said" not in str(caught.value)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"code": 429, "message": "Rate limit exceeded: free-models-per-day"}, RateLimitError),
        ({"code": "429", "message": "Azure-style string code"}, RateLimitError),
        ({"message": "boom", "type": "server_error", "code": None}, ServerError),
        ({"message": "?", "code": "something_new"}, ServerError),
    ],
    ids=["openrouter-number", "string-number", "openai-type", "unknown"],
)
def test_in_band_errors_take_the_status_their_code_stands_for(
    error: dict[str, Any], expected: type[Exception]
) -> None:
    found = openai.in_band_error({"error": error}, {}, provider="openrouter")

    assert type(found) is expected


def test_a_reply_with_a_null_error_field_is_not_an_error() -> None:
    assert openai.in_band_error({**OPENAI_COMPLETION, "error": None}, {}) is None


async def test_a_local_server_key_gets_max_tokens_and_its_own_base_url(
    sim: SimulatorServer,
) -> None:
    endpoint = _endpoint(sim.base_url("openai"), "ollama", key="ollama")
    async with ProviderClient() as client:
        response = await client.complete(
            endpoint, ModelRequest(model="llama3.2", prompt="Hi", max_tokens=50)
        )

    assert response.text
    call = sim.requests[-1]
    assert call.path == "/v1/chat/completions"
    assert call.body["max_tokens"] == 50
    assert "max_completion_tokens" not in call.body


# -- reasoning models: no `stop`, applied by the client ------------------------------------


def test_reasoning_models_are_not_sent_stop_or_temperature() -> None:
    body = openai.build_body(
        ModelRequest(model="o4-mini", prompt="Hi", stop=("END",), temperature=0.1)
    )

    assert "stop" not in body
    assert "temperature" not in body


async def test_stop_sequences_are_applied_to_the_reply_when_the_model_cannot_take_them() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        reply = json.loads(json.dumps(OPENAI_COMPLETION))
        reply["choices"][0]["message"]["content"] = "Billing. END of reply"
        return httpx.Response(200, json=reply)

    async with ProviderClient(transport=httpx.MockTransport(handler)) as client:
        response = await client.complete(
            _endpoint("https://api.openai.com/v1", "openai"),
            ModelRequest(model="gpt-5-mini", prompt="Hi", stop=("END", "Billing.")),
        )

    assert "stop" not in seen[0]
    assert response.text == ""  # cut at the earliest stop sequence, as providers cut


# -- base URLs with a query string, for every protocol ------------------------------------


@pytest.mark.parametrize(
    ("protocol", "stream", "expected"),
    [
        (Protocol.OPENAI, False, "https://gw.example.com/v1/chat/completions?route=eu"),
        (Protocol.ANTHROPIC, True, "https://gw.example.com/v1/v1/messages?route=eu"),
        (
            Protocol.GOOGLE,
            False,
            "https://gw.example.com/v1/v1beta/models/m:generateContent?route=eu",
        ),
        (
            Protocol.GOOGLE,
            True,
            "https://gw.example.com/v1/v1beta/models/m:streamGenerateContent?route=eu&alt=sse",
        ),
    ],
    ids=["openai", "anthropic", "google", "google-stream"],
)
def test_a_base_url_query_is_kept_after_the_adapters_path(
    protocol: Protocol, stream: bool, expected: str
) -> None:
    adapter = {Protocol.OPENAI: openai, Protocol.ANTHROPIC: anthropic, Protocol.GOOGLE: google}
    endpoint = Endpoint.for_protocol(
        protocol,
        SecretKey("sk-x"),
        base_url="https://gw.example.com/v1/?route=eu",
        provider="gateway",
    )

    prepared = adapter[protocol].build_request(
        ModelRequest(model="m", prompt="Hi"), endpoint, stream=stream
    )

    assert prepared.url == expected
    assert "sk-x" not in prepared.url
