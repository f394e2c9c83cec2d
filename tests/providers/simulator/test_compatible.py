"""Azure's and OpenRouter's URLs, the echo switches, and Anthropic's versioned sampling rule."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from providers.simulator import Fault, SimulatorServer, key_fingerprint
from providers.types import Protocol
from tests.providers.simulator.calls import KEY, build, call, text_of

AZURE_BODY: dict[str, Any] = {"messages": [{"role": "user", "content": "Hi"}]}


def _azure(client: httpx.Client, sim: SimulatorServer, path: str, **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", {"api-key": KEY})
    return client.post(f"{sim.base_url('azure')}{path}", headers=headers, json=kw or AZURE_BODY)


def test_azure_deployment_route_uses_the_api_key_header_and_the_path(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    response = _azure(client, sim, "/openai/deployments/prod-gpt/chat/completions?api-version=v")

    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "prod-gpt"
    assert body["prompt_filter_results"][0]["content_filter_results"] == {}
    assert response.headers["apim-request-id"].startswith("req_")
    record = sim.requests[-1]
    assert (record.model, record.key_fingerprint) == ("prod-gpt", key_fingerprint(KEY))


def test_azure_needs_an_api_version_and_a_key(sim: SimulatorServer, client: httpx.Client) -> None:
    path = "/openai/deployments/prod-gpt/chat/completions"

    missing_version = _azure(client, sim, path)
    missing_key = _azure(client, sim, f"{path}?api-version=v", headers={})

    assert missing_version.status_code == 404
    assert missing_version.json() == {"error": {"code": "404", "message": "Resource not found"}}
    assert missing_key.status_code == 401


def test_azure_v1_route_takes_the_deployment_from_the_body(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    response = _azure(client, sim, "/openai/v1/chat/completions", model="prod-gpt", **AZURE_BODY)

    assert response.status_code == 200
    assert response.json()["model"] == "prod-gpt"


def test_azure_errors_have_azures_shape(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.inject(Fault.error(429, retry_after_s=5, message="Requests have exceeded the limit"))

    response = _azure(client, sim, "/openai/deployments/d/chat/completions?api-version=v")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "error": {"code": "429", "message": "Requests have exceeded the limit"}
    }


def test_openrouters_path_speaks_the_openai_protocol(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    url, headers, body = build(sim, Protocol.OPENAI, model="anthropic/claude-sonnet-4.5")

    response = client.post(url.replace("/v1/", "/api/v1/"), headers=headers, json=body)

    assert response.status_code == 200
    assert sim.requests[-1].path == "/api/v1/chat/completions"


# -- echo switches --------------------------------------------------------------------

PROMPT = "my private ticket text"


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
def test_nothing_is_echoed_by_default(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    reply = call(client, sim, protocol, PROMPT)
    sim.inject(Fault.error(400))
    error = call(client, sim, protocol, PROMPT)

    for response in (reply, error):
        assert PROMPT not in response.text
        assert KEY not in response.text


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
def test_echo_errors_puts_the_prompt_and_key_in_every_error_body(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    sim.settings = replace(sim.settings, echo_errors=True)
    sim.inject(Fault.error(429), Fault.in_band(500))

    injected = call(client, sim, protocol, PROMPT)
    in_band = call(client, sim, protocol, PROMPT)
    refused = call(client, sim, protocol, PROMPT, max_tokens=-1)  # a request the API rejects

    for response in (injected, in_band, refused):
        assert PROMPT in response.text
        assert KEY in response.text
    assert call(client, sim, protocol, PROMPT).status_code == 200  # replies stay clean


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
def test_echo_and_echo_key_put_the_prompt_and_key_in_replies(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    sim.settings = replace(sim.settings, echo=True, echo_key=True)

    text = text_of(protocol, call(client, sim, protocol, PROMPT).json())

    assert text.endswith(f"Prompt: {PROMPT} Key: {KEY}")


def test_the_server_takes_the_echo_switches() -> None:
    server = SimulatorServer(echo=True, echo_key=True, echo_errors=True)

    assert (server.settings.echo, server.settings.echo_key, server.settings.echo_errors) == (
        True,
        True,
        True,
    )


# -- provider-specific error details -----------------------------------------------------


def test_an_anthropic_fault_code_is_the_error_code_in_details(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.error(429, code="enforced_spend_limit_reached"))

    error = call(client, sim, Protocol.ANTHROPIC).json()["error"]

    assert error["type"] == "rate_limit_error"
    assert error["details"] == {"error_code": "enforced_spend_limit_reached"}


def test_a_gemini_fault_code_is_an_error_info_reason(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.error(400, code="API_KEY_INVALID"))

    error = call(client, sim, Protocol.GOOGLE).json()["error"]

    assert error["status"] == "INVALID_ARGUMENT"
    assert {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
    } in error["details"]


@pytest.mark.parametrize(
    ("version", "status"), [("2023-06-01", 200), ("2026-10-21", 400), ("2027-01-01", 400)]
)
def test_anthropic_refuses_sampling_parameters_from_version_2026_10_21(
    sim: SimulatorServer, client: httpx.Client, version: str, status: int
) -> None:
    url, headers, body = build(sim, Protocol.ANTHROPIC)

    response = client.post(
        url, headers={**headers, "anthropic-version": version}, json={**body, "temperature": 0.5}
    )

    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["message"] == "temperature: Extra inputs are not permitted"
