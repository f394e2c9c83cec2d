"""Anthropic Messages: request bodies and response/usage mapping from realistic replies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from providers import anthropic
from providers.anthropic_schema import UNSUPPORTED_KEYWORDS
from providers.endpoint import Endpoint
from providers.errors import ResponseError
from providers.secret import SecretKey
from providers.types import FinishReason, ModelRequest, Protocol, Usage

KEY = "sk-ant-api03-test-SECRET"

REPLY: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [
        {"type": "thinking", "thinking": "The user greets me.", "signature": "EqQBCgIYAh"},
        {"type": "text", "text": "Hello"},
        {"type": "text", "text": ", world"},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 12,
        "cache_creation_input_tokens": 1000,
        "cache_read_input_tokens": 2000,
        "output_tokens": 300,
        "service_tier": "standard",
    },
}


def test_request_targets_messages_with_key_and_pinned_version() -> None:
    endpoint = Endpoint.for_protocol(Protocol.ANTHROPIC, SecretKey(KEY))
    prepared = anthropic.build_request(
        ModelRequest(model="claude-haiku-4-5", prompt="Hi"), endpoint
    )

    assert prepared.method == "POST"
    assert prepared.url == "https://api.anthropic.com/v1/messages"
    assert prepared.headers["x-api-key"] == KEY
    assert prepared.headers["anthropic-version"] == anthropic.API_VERSION == "2026-10-21"
    assert prepared.headers["content-type"] == "application/json"


def test_minimal_body_has_no_optional_fields() -> None:
    body = anthropic.build_body(ModelRequest(model="claude-haiku-4-5", prompt="Hi", max_tokens=50))

    assert body == {
        "model": "claude-haiku-4-5",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "Hi"}],
    }


def test_body_carries_system_and_stop_sequences_but_no_temperature() -> None:
    request = ModelRequest(
        model="claude-haiku-4-5",
        prompt="Hi",
        system="You extract facts.",
        temperature=0.2,
        stop=("END",),
    )
    body = anthropic.build_body(request)

    assert body["system"] == "You extract facts."
    assert body["stop_sequences"] == ["END"]
    # API version 2026-10-21 has no sampling parameters: sending one is a 400.
    assert not {"temperature", "top_p", "top_k"} & body.keys()


def test_structured_output_sends_a_closed_copy_of_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"topic": {"type": "string"}, "urgent": {"type": "boolean"}},
        "required": ["topic"],
    }
    body = anthropic.build_body(
        ModelRequest(model="claude-haiku-4-5", prompt="Hi", output_schema=schema)
    )

    assert body["output_config"] == {
        "format": {
            "type": "json_schema",
            "schema": {**schema, "additionalProperties": False},
        }
    }
    assert "additionalProperties" not in schema  # the step's own schema is untouched


def test_structured_output_drops_what_anthropic_refuses_and_describes_it() -> None:
    schema = {
        "type": "object",
        "properties": {
            "priority": {"type": "integer", "minimum": 1, "maximum": 5, "description": "1 is low"},
            "summary": {"type": "string", "maxLength": 80},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "one_tag": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "due": {"type": "string", "format": "date"},
            "iban": {"type": "string", "format": "iban"},
            "extra": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "required": ["priority"],
    }
    original = json.loads(json.dumps(schema))

    sent = anthropic.build_body(
        ModelRequest(model="claude-haiku-4-5", prompt="Hi", output_schema=schema)
    )["output_config"]["format"]["schema"]

    props = sent["properties"]
    assert props["priority"] == {
        "type": "integer",
        "description": "1 is low\n\n{minimum: 1, maximum: 5}",
    }
    assert props["summary"] == {"type": "string", "description": "{maxLength: 80}"}
    assert "minItems" not in props["tags"]
    assert props["one_tag"]["minItems"] == 1  # 0 and 1 are supported
    assert props["due"]["format"] == "date"
    assert "format" not in props["iban"]
    assert props["extra"]["additionalProperties"] is False
    assert sent["additionalProperties"] is False
    assert schema == original  # the step's schema, which validates the reply, is untouched
    assert not _keywords(sent) & set(UNSUPPORTED_KEYWORDS)


def _keywords(node: Any) -> set[str]:
    """Every key used anywhere in a JSON value."""
    if isinstance(node, dict):
        return set(node).union(*(_keywords(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_keywords(v) for v in node))
    return set()


def test_a_streamed_call_asks_for_a_stream() -> None:
    body = anthropic.build_body(ModelRequest(model="claude-haiku-4-5", prompt="Hi"), stream=True)

    assert body["stream"] is True


def test_a_reply_is_not_an_in_band_error() -> None:
    assert anthropic.in_band_error(REPLY, {}) is None


def test_reply_maps_text_blocks_finish_and_ids() -> None:
    response = anthropic.parse_response(REPLY)

    assert response.text == "Hello, world"  # thinking blocks are not the answer
    assert response.finish_reason is FinishReason.STOP
    assert response.model == "claude-haiku-4-5-20251001"
    assert response.request_id == "msg_01XFDUDYJgAACzvnptvVoYEL"


def test_usage_folds_cache_reads_and_writes_into_input_tokens() -> None:
    assert anthropic.map_usage(REPLY["usage"]) == Usage(
        input_tokens=3012,
        cache_read_tokens=2000,
        cache_write_tokens=1000,
        output_tokens=300,
        reasoning_tokens=0,
    )  # the realistic table with 1-hour writes and thinking is in test_usage.py


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, Usage()),
        ({"input_tokens": 5, "output_tokens": 7}, Usage(input_tokens=5, output_tokens=7)),
        (
            {"input_tokens": 5, "cache_read_input_tokens": None, "output_tokens": 1},
            Usage(input_tokens=5, output_tokens=1),
        ),
    ],
    ids=["missing", "no-cache", "null-cache"],
)
def test_usage_tolerates_missing_counts(raw: Any, expected: Usage) -> None:
    assert anthropic.map_usage(raw) == expected


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", FinishReason.STOP),
        ("stop_sequence", FinishReason.STOP),
        ("max_tokens", FinishReason.MAX_TOKENS),
        ("model_context_window_exceeded", FinishReason.MAX_TOKENS),
        ("refusal", FinishReason.REFUSAL),
        ("tool_use", FinishReason.OTHER),
        (None, FinishReason.OTHER),
    ],
)
def test_stop_reasons(stop_reason: str | None, expected: FinishReason) -> None:
    assert anthropic.parse_response({**REPLY, "stop_reason": stop_reason}).finish_reason is expected


def test_reply_without_content_is_a_response_error_that_keeps_usage() -> None:
    body = {key: value for key, value in REPLY.items() if key != "content"}

    with pytest.raises(ResponseError, match="without a content list") as caught:
        anthropic.parse_response(body, provider="anthropic")

    assert caught.value.usage == anthropic.map_usage(REPLY["usage"])
