"""Each protocol answers like its provider: reply shape, usage, cut-offs, refusals."""

from __future__ import annotations

import math
from dataclasses import replace

import httpx
import pytest

from providers.simulator import SimulatorServer
from providers.types import Protocol
from tests.providers.simulator.calls import (
    KEY,
    MAX_TOKENS_FINISH,
    MODELS,
    STOP_FINISH,
    build,
    call,
    finish_of,
    text_of,
    usage_of,
)

ALL = list(Protocol)


def test_anthropic_reply_has_the_messages_api_shape(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    response = call(client, sim, Protocol.ANTHROPIC)

    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    body = response.json()
    assert body["id"].startswith("msg_")
    assert (body["type"], body["role"], body["model"]) == (
        "message",
        "assistant",
        "claude-haiku-4-5",
    )
    assert body["content"][0]["type"] == "text"
    assert body["content"][0]["text"].startswith("[sim claude-haiku-4-5] reply ")
    assert (body["stop_reason"], body["stop_sequence"]) == ("end_turn", None)
    assert set(body["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    assert body["usage"]["cache_read_input_tokens"] == 0


def test_openai_reply_has_the_chat_completions_shape(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    response = call(client, sim, Protocol.OPENAI)

    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["id"].startswith("chatcmpl-")
    assert (body["object"], body["model"]) == ("chat.completion", "gpt-5-mini")
    assert isinstance(body["created"], int)
    choice = body["choices"][0]
    assert (choice["index"], choice["finish_reason"]) == (0, "stop")
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["refusal"] is None
    assert choice["message"]["content"].startswith("[sim gpt-5-mini] reply ")
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_gemini_reply_has_the_generate_content_shape(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    response = call(client, sim, Protocol.GOOGLE)

    assert response.status_code == 200
    body = response.json()
    candidate = body["candidates"][0]
    assert (candidate["index"], candidate["finishReason"]) == (0, "STOP")
    assert candidate["content"]["role"] == "model"
    assert candidate["content"]["parts"][0]["text"].startswith("[sim gemini-2.5-flash] reply ")
    usage = body["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert body["modelVersion"] == "gemini-2.5-flash"
    assert body["responseId"]


@pytest.mark.parametrize("protocol", ALL)
def test_usage_counts_about_four_characters_per_token(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    system, prompt = "You are terse." * 3, "x" * 401

    body = call(client, sim, protocol, prompt, system=system).json()

    input_tokens, output_tokens = usage_of(protocol, body)
    assert input_tokens == math.ceil((len(system) + 1 + len(prompt)) / 4)
    assert output_tokens == math.ceil(len(text_of(protocol, body)) / 4)


@pytest.mark.parametrize("protocol", ALL)
def test_the_same_request_gets_the_same_reply(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    first = call(client, sim, protocol, "Summarise the ticket").json()
    second = call(client, sim, protocol, "Summarise the ticket").json()
    other = call(client, sim, protocol, "Summarise the invoice").json()

    assert text_of(protocol, first) == text_of(protocol, second)
    assert usage_of(protocol, first) == usage_of(protocol, second)
    assert text_of(protocol, other) != text_of(protocol, first)


def test_a_prompt_gets_the_same_reply_through_every_protocol(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    replies = {
        protocol: call(client, sim, protocol, "Same words", model="shared-model", system="Be kind")
        for protocol in Protocol
    }

    texts = {text_of(p, r.json()) for p, r in replies.items()}
    usages = {usage_of(p, r.json()) for p, r in replies.items()}
    assert len(texts) == 1
    assert len(usages) == 1


@pytest.mark.parametrize("protocol", ALL)
def test_replies_never_contain_the_prompt_unless_echo_is_on(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    prompt = "my secret ticket number 4471"

    plain = call(client, sim, protocol, prompt).json()
    sim.settings = replace(sim.settings, echo=True)
    echoed = call(client, sim, protocol, prompt).json()

    assert prompt not in text_of(protocol, plain)
    assert text_of(protocol, echoed).endswith(f"Prompt: {prompt}")


@pytest.mark.parametrize("protocol", ALL)
def test_max_tokens_cuts_the_reply_and_says_so(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    full = call(client, sim, protocol, "Tell me everything").json()

    cut = call(client, sim, protocol, "Tell me everything", max_tokens=3).json()

    assert finish_of(protocol, full) == STOP_FINISH[protocol]
    assert finish_of(protocol, cut) == MAX_TOKENS_FINISH[protocol]
    assert usage_of(protocol, cut)[1] == 3
    assert text_of(protocol, cut) == text_of(protocol, full)[:12]


@pytest.mark.parametrize("protocol", ALL)
def test_a_stop_sequence_ends_the_reply_before_it(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    body = call(client, sim, protocol, stop=["reply"]).json()

    assert text_of(protocol, body) == f"[sim {MODELS[protocol]}] "
    if protocol is Protocol.ANTHROPIC:
        assert (body["stop_reason"], body["stop_sequence"]) == ("stop_sequence", "reply")
    else:
        assert finish_of(protocol, body) == STOP_FINISH[protocol]


@pytest.mark.parametrize(
    ("protocol", "status", "error"),
    [
        (Protocol.ANTHROPIC, 401, {"type": "authentication_error"}),
        (Protocol.OPENAI, 401, {"type": "invalid_request_error"}),
        (Protocol.GOOGLE, 403, {"status": "PERMISSION_DENIED", "code": 403}),
    ],
)
def test_a_call_without_a_key_is_refused_like_the_provider_would(
    sim: SimulatorServer,
    client: httpx.Client,
    protocol: Protocol,
    status: int,
    error: dict[str, object],
) -> None:
    response = call(client, sim, protocol, key=None)

    assert response.status_code == status
    assert error.items() <= response.json()["error"].items()
    assert sim.requests[-1].key_fingerprint is None


def test_anthropic_requires_the_version_header(sim: SimulatorServer, client: httpx.Client) -> None:
    url, _, body = build(sim, Protocol.ANTHROPIC)

    response = client.post(url, headers={"x-api-key": KEY}, json=body)

    assert response.status_code == 400
    assert response.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "anthropic-version: header is required",
        },
    }


@pytest.mark.parametrize(
    ("protocol", "drop_field", "error_path"),
    [
        (Protocol.ANTHROPIC, "max_tokens", ("error", "type")),
        (Protocol.OPENAI, "messages", ("error", "type")),
        (Protocol.GOOGLE, "contents", ("error", "status")),
    ],
)
def test_a_malformed_body_gets_a_400_in_the_provider_shape(
    sim: SimulatorServer,
    client: httpx.Client,
    protocol: Protocol,
    drop_field: str,
    error_path: tuple[str, str],
) -> None:
    url, headers, body = build(sim, protocol)
    del body[drop_field]

    response = client.post(url, headers=headers, json=body)

    assert response.status_code == 400
    outer, inner = error_path
    assert response.json()[outer][inner] in ("invalid_request_error", "INVALID_ARGUMENT")
    assert drop_field in response.json()[outer]["message"]


@pytest.mark.parametrize("protocol", ALL)
def test_a_body_that_is_not_json_gets_a_400(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    url, headers, _ = build(sim, protocol)

    response = client.post(url, headers=headers, content=b"{not json")

    assert response.status_code == 400
    assert sim.requests[-1].body is None


def test_a_gemini_key_in_the_url_works_but_is_recorded(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    url, _, body = build(sim, Protocol.GOOGLE, key=None)

    in_url = client.post(url, params={"key": KEY}, json=body)
    in_header = call(client, sim, Protocol.GOOGLE)

    assert (in_url.status_code, in_header.status_code) == (200, 200)
    first, second = sim.requests
    assert (first.key_in_url, second.key_in_url) == (True, False)
    assert first.key_fingerprint == second.key_fingerprint
    assert KEY not in first.path
    assert "key" not in first.query  # the record never holds a raw key
    assert KEY not in str(first.to_json())
