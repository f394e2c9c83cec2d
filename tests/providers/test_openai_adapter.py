"""OpenAI Chat Completions: request bodies and response/usage mapping from realistic replies."""

from __future__ import annotations

from typing import Any

import pytest

from providers import openai
from providers.endpoint import Endpoint
from providers.errors import ResponseError
from providers.secret import SecretKey
from providers.types import FinishReason, ModelRequest, Protocol, Usage

KEY = "sk-proj-test-SECRET"

REPLY: dict[str, Any] = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-5-mini-2025-08-07",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello, world",
                "refusal": None,
                "annotations": [],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1500,
        "completion_tokens": 700,
        "total_tokens": 2200,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 576,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": None,
}


def _reply(message: dict[str, Any], finish_reason: str) -> dict[str, Any]:
    return {**REPLY, "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]}


def test_request_targets_chat_completions_with_bearer_key() -> None:
    endpoint = Endpoint.for_protocol(Protocol.OPENAI, SecretKey(KEY))
    prepared = openai.build_request(ModelRequest(model="gpt-5-mini", prompt="Hi"), endpoint)

    assert prepared.url == "https://api.openai.com/v1/chat/completions"
    assert prepared.headers["authorization"] == f"Bearer {KEY}"


def test_custom_base_url_is_used_for_compatible_servers() -> None:
    endpoint = Endpoint.for_protocol(
        Protocol.OPENAI, SecretKey("ollama"), base_url="http://127.0.0.1:11434/v1/"
    )
    prepared = openai.build_request(ModelRequest(model="llama3.2", prompt="Hi"), endpoint)

    assert prepared.url == "http://127.0.0.1:11434/v1/chat/completions"


def test_body_puts_the_system_message_first() -> None:
    request = ModelRequest(model="gpt-4.1-mini", prompt="Hi", system="Be brief.", stop=("END",))
    body = openai.build_body(request)

    assert body == {
        "model": "gpt-4.1-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "max_completion_tokens": 1024,
        "stop": ["END"],
    }


@pytest.mark.parametrize(
    ("model", "sent"),
    [
        ("gpt-4.1-mini", True),
        ("gpt-4o", True),
        ("llama3.2", True),
        ("gpt-5", False),
        ("gpt-5-mini", False),
        ("gpt-5.1", False),
        ("o1", False),
        ("o3-mini", False),
        ("o4-mini-2025-04-16", False),
        ("openai/gpt-5-nano", False),
    ],
)
def test_temperature_and_stop_are_dropped_for_reasoning_models(model: str, sent: bool) -> None:
    body = openai.build_body(ModelRequest(model=model, prompt="Hi", temperature=0.3, stop=("END",)))

    assert ("temperature" in body) is sent
    assert ("stop" in body) is sent  # the client applies the stop sequences itself


def test_a_streamed_call_asks_for_usage_in_the_last_chunk() -> None:
    body = openai.build_body(ModelRequest(model="gpt-4o", prompt="Hi"), stream=True)

    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})


def test_no_temperature_is_sent_unless_the_step_sets_one() -> None:
    assert "temperature" not in openai.build_body(ModelRequest(model="gpt-4o", prompt="Hi"))


def test_structured_output_uses_strict_json_schema_with_every_property_required() -> None:
    schema = {
        "type": "object",
        "properties": {
            "topic": {"type": "string"},
            "tags": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        },
        "required": ["topic"],
    }
    body = openai.build_body(ModelRequest(model="gpt-5-mini", prompt="Hi", output_schema=schema))

    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "output",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {
                    "topic": {"type": "string"},
                    "tags": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}},
                            "additionalProperties": False,
                            "required": ["name"],
                        },
                    },
                },
                "required": ["topic", "tags"],
                "additionalProperties": False,
            },
        },
    }


def test_schema_that_cannot_be_closed_goes_non_strict_as_written() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    body = openai.build_body(ModelRequest(model="gpt-5-mini", prompt="Hi", output_schema=schema))

    assert body["response_format"]["json_schema"]["strict"] is False
    assert body["response_format"]["json_schema"]["schema"] == schema


def test_reply_maps_text_finish_and_ids() -> None:
    response = openai.parse_response(REPLY)

    assert response.text == "Hello, world"
    assert response.finish_reason is FinishReason.STOP
    assert response.model == "gpt-5-mini-2025-08-07"
    assert response.request_id == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"


def test_usage_totals_already_include_cached_and_reasoning_tokens() -> None:
    assert openai.map_usage(REPLY["usage"]) == Usage(
        input_tokens=1500,
        cache_read_tokens=1024,
        cache_write_tokens=0,
        output_tokens=700,
        reasoning_tokens=576,
    )


def test_usage_without_details_from_a_compatible_server() -> None:
    raw = {"prompt_tokens": 26, "completion_tokens": 8, "total_tokens": 34}

    assert openai.map_usage(raw) == Usage(input_tokens=26, output_tokens=8)


@pytest.mark.parametrize(
    ("finish_reason", "expected"),
    [
        ("stop", FinishReason.STOP),
        ("length", FinishReason.MAX_TOKENS),
        ("content_filter", FinishReason.SAFETY),
        ("tool_calls", FinishReason.OTHER),
    ],
)
def test_finish_reasons(finish_reason: str, expected: FinishReason) -> None:
    message = {"role": "assistant", "content": "x"}

    assert openai.parse_response(_reply(message, finish_reason)).finish_reason is expected


def test_refusal_is_reported_with_the_models_explanation_as_text() -> None:
    message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    response = openai.parse_response(_reply(message, "stop"))

    assert response.finish_reason is FinishReason.REFUSAL
    assert response.text == "I can't help with that."


def test_reply_without_choices_is_a_response_error_that_keeps_usage() -> None:
    with pytest.raises(ResponseError, match="ollama returned a reply without choices") as caught:
        openai.parse_response({**REPLY, "choices": []}, provider="ollama")

    assert caught.value.provider == "ollama"
    assert caught.value.usage == openai.map_usage(REPLY["usage"])
