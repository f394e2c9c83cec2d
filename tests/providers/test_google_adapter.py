"""Gemini generateContent: request bodies and response/usage mapping from realistic replies."""

from __future__ import annotations

from typing import Any

import pytest

from providers import google
from providers.endpoint import Endpoint
from providers.errors import ResponseError
from providers.secret import SecretKey
from providers.types import FinishReason, ModelRequest, Protocol, Usage

KEY = "AIzaSy-test-SECRET"

REPLY: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "**Greeting** The user says hi.", "thought": True},
                    {"text": "Hello"},
                    {"text": ", world"},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 1200,
        "candidatesTokenCount": 80,
        "totalTokenCount": 1530,
        "cachedContentTokenCount": 1000,
        "thoughtsTokenCount": 220,
        "toolUsePromptTokenCount": 30,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1200}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mCx2aPjzMsy5nvgPz8fQ8Qo",
}


def test_key_goes_in_a_header_never_in_the_url() -> None:
    endpoint = Endpoint.for_protocol(Protocol.GOOGLE, SecretKey(KEY))
    prepared = google.build_request(ModelRequest(model="gemini-2.5-flash", prompt="Hi"), endpoint)

    assert prepared.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert KEY not in prepared.url
    assert prepared.headers["x-goog-api-key"] == KEY


def test_a_streamed_call_uses_stream_generate_content_with_sse() -> None:
    endpoint = Endpoint.for_protocol(Protocol.GOOGLE, SecretKey(KEY))
    request = ModelRequest(model="gemini-2.5-flash", prompt="Hi")

    prepared = google.build_request(request, endpoint, stream=True)

    assert prepared.url.endswith("/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    assert prepared.json == google.build_body(request)  # the URL decides, not the body


def test_model_names_cannot_escape_the_model_path() -> None:
    endpoint = Endpoint.for_protocol(Protocol.GOOGLE, SecretKey(KEY))
    request = ModelRequest(model="models/../../evil?x=1", prompt="Hi")

    url = google.build_request(request, endpoint).url

    assert url.endswith("/v1beta/models/..%2F..%2Fevil%3Fx%3D1:generateContent")


def test_minimal_body() -> None:
    body = google.build_body(ModelRequest(model="gemini-2.5-flash", prompt="Hi", max_tokens=64))

    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "generationConfig": {"maxOutputTokens": 64},
    }


def test_body_carries_system_instruction_and_generation_config() -> None:
    schema = {"type": "object", "properties": {"topic": {"type": "string"}}}
    request = ModelRequest(
        model="gemini-2.5-flash",
        prompt="Hi",
        system="You extract facts.",
        temperature=0.0,
        stop=("END",),
        output_schema=schema,
    )
    body = google.build_body(request)

    assert body["systemInstruction"] == {"parts": [{"text": "You extract facts."}]}
    assert body["generationConfig"] == {
        "maxOutputTokens": 1024,
        "temperature": 0.0,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }


def test_reply_skips_thought_parts() -> None:
    response = google.parse_response(REPLY)

    assert response.text == "Hello, world"
    assert response.finish_reason is FinishReason.STOP
    assert response.model == "gemini-2.5-flash"
    assert response.request_id == "mCx2aPjzMsy5nvgPz8fQ8Qo"


def test_usage_adds_thoughts_to_output_and_tool_prompts_to_input() -> None:
    assert google.map_usage(REPLY["usageMetadata"]) == Usage(
        input_tokens=1230,
        cache_read_tokens=1000,
        cache_write_tokens=0,
        output_tokens=300,
        reasoning_tokens=220,
    )


@pytest.mark.parametrize(
    ("finish_reason", "expected"),
    [
        ("STOP", FinishReason.STOP),
        ("MAX_TOKENS", FinishReason.MAX_TOKENS),
        ("SAFETY", FinishReason.SAFETY),
        ("BLOCKLIST", FinishReason.SAFETY),
        ("PROHIBITED_CONTENT", FinishReason.SAFETY),
        ("SPII", FinishReason.SAFETY),
        ("RECITATION", FinishReason.SAFETY),
        ("MALFORMED_FUNCTION_CALL", FinishReason.OTHER),
    ],
)
def test_finish_reasons(finish_reason: str, expected: FinishReason) -> None:
    body = {**REPLY, "candidates": [{**REPLY["candidates"][0], "finishReason": finish_reason}]}

    assert google.parse_response(body).finish_reason is expected


def test_all_budget_spent_thinking_gives_empty_text_cut_off() -> None:
    body = {
        "candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}],
        "usageMetadata": {"promptTokenCount": 9, "thoughtsTokenCount": 64, "totalTokenCount": 73},
        "modelVersion": "gemini-2.5-flash",
    }
    response = google.parse_response(body)

    assert (response.text, response.finish_reason) == ("", FinishReason.MAX_TOKENS)
    assert response.usage == Usage(input_tokens=9, output_tokens=64, reasoning_tokens=64)


def test_blocked_prompt_is_a_safety_finish_with_usage() -> None:
    body = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 14, "totalTokenCount": 14},
        "modelVersion": "gemini-2.5-flash",
    }
    response = google.parse_response(body)

    assert response.finish_reason is FinishReason.SAFETY
    assert response.text == ""
    assert response.usage == Usage(input_tokens=14)


def test_reply_without_candidates_or_block_reason_is_a_response_error() -> None:
    with pytest.raises(ResponseError, match="without candidates") as caught:
        google.parse_response({"usageMetadata": {"promptTokenCount": 3}})

    assert caught.value.usage == Usage(input_tokens=3)
