"""Structured steps: schema adaptation for strict modes, parsing and validation of replies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from providers.closed_schema import close_objects
from providers.errors import InvalidRequestError, ResponseError
from providers.structured import check_output_schema, parse_structured
from providers.types import FinishReason, ModelResponse, Usage

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"topic": {"type": "string"}, "urgent": {"type": "boolean"}},
    "required": ["topic", "urgent"],
}
USAGE = Usage(input_tokens=120, output_tokens=400)


def _response(text: str, finish: FinishReason = FinishReason.STOP) -> ModelResponse:
    return ModelResponse(text=text, usage=USAGE, finish_reason=finish, model="m")


def test_valid_reply_is_parsed() -> None:
    response = parse_structured(
        _response('{"topic": "billing", "urgent": true}'), SCHEMA, provider="openai"
    )

    assert response.parsed == {"topic": "billing", "urgent": True}
    assert response.usage == USAGE


def test_cut_off_reply_says_so_without_showing_the_output() -> None:
    reply = _response('{"topic": "my secret ticket te', FinishReason.MAX_TOKENS)

    with pytest.raises(ResponseError) as caught:
        parse_structured(reply, SCHEMA, provider="openai")

    assert str(caught.value) == (
        "openai returned output that is not valid JSON for the step's schema "
        "(finish_reason=max_tokens): the output was cut off: raise the step's max_tokens"
    )
    assert caught.value.error_type == "invalid_json"
    assert caught.value.usage == USAGE  # billed even though unusable
    assert caught.value.__context__ is None  # no JSONDecodeError (it holds the reply)


def test_reply_that_breaks_the_schema_names_the_rule_not_the_value() -> None:
    reply = _response('{"topic": "my secret ticket", "urgent": "very"}')

    with pytest.raises(ResponseError) as caught:
        parse_structured(reply, SCHEMA, provider="google")

    message = str(caught.value)
    assert message.startswith(
        "google returned JSON that does not match the step's schema "
        "(type at properties/urgent/type, finish_reason=stop)"
    )
    assert "secret" not in message
    assert "very" not in message
    assert caught.value.error_type == "schema_mismatch"
    assert caught.value.usage == USAGE


@pytest.mark.parametrize(
    ("finish", "kind", "text"),
    [
        (FinishReason.REFUSAL, "refusal", "anthropic refused to produce the structured output"),
        (FinishReason.SAFETY, "safety", "anthropic blocked the structured output"),
    ],
)
def test_refused_or_blocked_reply_raises_even_if_it_parses(
    finish: FinishReason, kind: str, text: str
) -> None:
    reply = _response('{"topic": "x", "urgent": false}', finish)

    with pytest.raises(ResponseError, match=text) as caught:
        parse_structured(reply, SCHEMA, provider="anthropic")

    assert caught.value.error_type == kind
    assert caught.value.usage == USAGE


def test_invalid_schema_is_refused_before_any_call() -> None:
    with pytest.raises(InvalidRequestError, match="not a valid JSON Schema") as caught:
        check_output_schema(
            {"type": "object", "properties": {"x": {"type": "strng"}}}, provider="openai"
        )

    assert caught.value.error_type == "invalid_output_schema"


def test_closing_objects_reaches_nested_and_referenced_schemas() -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
            "owner": {
                "anyOf": [
                    {"type": "null"},
                    {"type": "object", "properties": {"n": {"type": "string"}}},
                ]
            },
        },
        "$defs": {"item": {"type": "object", "properties": {"sku": {"type": "string"}}}},
    }
    original = copy.deepcopy(schema)

    closed = close_objects(schema, require_all=True)

    assert closed.closed is True
    assert closed.schema["additionalProperties"] is False
    assert closed.schema["required"] == ["items", "owner"]
    assert closed.schema["$defs"]["item"]["additionalProperties"] is False
    assert closed.schema["$defs"]["item"]["required"] == ["sku"]
    owner = closed.schema["properties"]["owner"]["anyOf"][1]
    assert (owner["additionalProperties"], owner["required"]) == (False, ["n"])
    assert schema == original


def test_closing_without_require_all_keeps_optional_properties_optional() -> None:
    closed = close_objects({"type": "object", "properties": {"a": {"type": "string"}}})

    assert closed.schema == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "additionalProperties": False,
    }


def test_objects_that_choose_their_own_additional_properties_are_left_open() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"counts": {"type": "object", "additionalProperties": {"type": "integer"}}},
    }
    closed = close_objects(schema, require_all=True)

    assert closed.closed is False
    assert closed.schema["properties"]["counts"] == schema["properties"]["counts"]


def test_a_reply_to_the_closed_schema_still_validates_against_the_original() -> None:
    closed = close_objects(SCHEMA, require_all=True).schema
    response = parse_structured(_response('{"topic": "a", "urgent": false}'), closed, provider="x")

    assert parse_structured(response, SCHEMA, provider="x").parsed == response.parsed
