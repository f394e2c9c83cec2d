"""Structured calls get JSON that the request's schema accepts, or realistic breakage."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from providers.simulator import SimulatorServer
from providers.simulator.instances import instance_for
from providers.types import Protocol
from tests.providers.simulator.calls import (
    KEY,
    MAX_TOKENS_FINISH,
    build,
    call,
    finish_of,
    text_of,
    usage_of,
)

TRIAGE = {
    "type": "object",
    "properties": {"topic": {"type": "string"}, "urgent": {"type": "boolean"}},
    "required": ["topic", "urgent"],
    "additionalProperties": False,
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "recipe step": TRIAGE,
    "enum and formats": {
        "type": "object",
        "properties": {
            "priority": {"type": "string", "enum": ["low", "normal", "high"]},
            "email": {"type": "string", "format": "email"},
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "id": {"type": "string", "format": "uuid"},
            "ip": {"type": "string", "format": "ipv4"},
            "code": {"type": "string", "minLength": 12, "maxLength": 12},
        },
        "required": ["priority", "email", "when", "day", "id", "ip", "code"],
    },
    "numbers": {
        "type": "object",
        "properties": {
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "exclusive": {"type": "number", "exclusiveMinimum": 5, "exclusiveMaximum": 5.5},
            "count": {"type": "integer", "minimum": 3, "maximum": 4},
            "above": {"type": "integer", "exclusiveMinimum": 10},
            "below": {"type": "integer", "maximum": -50},
            "even": {"type": "integer", "multipleOf": 2, "minimum": 7},
        },
        "required": ["score", "exclusive", "count", "above", "below", "even"],
    },
    "arrays": {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3},
            "none": {"type": "array", "items": {"type": "integer"}, "maxItems": 0},
            "unique": {
                "type": "array",
                "items": {"type": "string", "enum": ["a", "b", "c"]},
                "minItems": 2,
                "uniqueItems": True,
            },
            "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}]},
        },
        "required": ["tags", "none", "unique", "pair"],
    },
    "nested": {
        "type": "object",
        "properties": {
            "customer": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "orders": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                            "required": ["sku", "qty"],
                        },
                    },
                },
                "required": ["name", "orders"],
            }
        },
        "required": ["customer"],
    },
    "combinators and const": {
        "type": "object",
        "properties": {
            "kind": {"const": "ticket"},
            "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "either": {"oneOf": [{"type": "integer", "minimum": 100}, {"type": "string"}]},
            "both": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
                ]
            },
            "nullable": {"type": ["null", "boolean"]},
        },
        "required": ["kind", "maybe", "either", "both", "nullable"],
    },
    "pydantic-style $defs": {
        "$defs": {
            "Item": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "child": {"$ref": "#/$defs/Item"}},
                "required": ["title"],
            }
        },
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Item"}},
        "required": ["root"],
    },
}


@pytest.mark.parametrize("schema", SCHEMAS.values(), ids=SCHEMAS.keys())
@pytest.mark.parametrize("seed", ["a", "b", "c", "d"])
def test_generated_objects_validate_against_their_schema(schema: dict[str, Any], seed: str) -> None:
    value = instance_for(schema, seed)

    Draft202012Validator(schema, format_checker=FormatChecker()).validate(value)


def test_generated_objects_are_deterministic_but_vary_with_the_seed() -> None:
    schema = SCHEMAS["numbers"]

    assert instance_for(schema, "seed") == instance_for(schema, "seed")
    assert len({json.dumps(instance_for(schema, str(n))) for n in range(5)}) > 1


def test_gemini_openapi_style_schemas_are_understood() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "label": {"type": "STRING", "enum": ["spam", "ham"]},
            "score": {"type": "NUMBER", "minimum": 0, "maximum": 1},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
        },
        "required": ["label", "score", "tags"],
    }

    value = instance_for(schema, "seed")

    assert value["label"] in ("spam", "ham")
    assert 0 <= value["score"] <= 1
    assert all(isinstance(tag, str) for tag in value["tags"])


@pytest.mark.parametrize("protocol", list(Protocol))
def test_each_protocol_returns_json_that_the_schema_accepts(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    for name, schema in SCHEMAS.items():
        response = call(client, sim, protocol, f"Extract {name}", schema=schema, max_tokens=4000)

        assert response.status_code == 200, name
        Draft202012Validator(schema).validate(json.loads(text_of(protocol, response.json())))


@pytest.mark.parametrize("protocol", list(Protocol))
def test_the_schema_counts_as_prompt_tokens(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    plain = call(client, sim, protocol, "Extract").json()
    structured = call(client, sim, protocol, "Extract", schema=TRIAGE).json()

    assert usage_of(protocol, structured)[0] > usage_of(protocol, plain)[0] + 10


@pytest.mark.parametrize("protocol", list(Protocol))
def test_structured_output_cut_by_max_tokens_is_invalid_json(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    body = call(client, sim, protocol, "Extract", schema=TRIAGE, max_tokens=4).json()

    assert finish_of(protocol, body) == MAX_TOKENS_FINISH[protocol]
    with pytest.raises(json.JSONDecodeError):
        json.loads(text_of(protocol, body))


def test_openai_json_object_mode_returns_an_object(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    url, headers, body = build(sim, Protocol.OPENAI)
    body["response_format"] = {"type": "json_object"}

    reply = client.post(url, headers=headers, json=body).json()

    assert isinstance(json.loads(text_of(Protocol.OPENAI, reply)), dict)


def test_gemini_refuses_a_schema_without_the_json_mime_type(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    url, headers, body = build(sim, Protocol.GOOGLE, schema=TRIAGE)
    del body["generationConfig"]["responseMimeType"]

    response = client.post(url, headers=headers, json=body)

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
def test_echo_puts_the_prompt_and_key_in_an_extra_member_of_structured_replies(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    plain = json.loads(
        text_of(protocol, call(client, sim, protocol, "Extract 4471", schema=TRIAGE).json())
    )
    sim.settings = replace(sim.settings, echo=True, echo_key=True)

    echoed = json.loads(
        text_of(protocol, call(client, sim, protocol, "Extract 4471", schema=TRIAGE).json())
    )

    assert "echo" not in plain
    assert echoed == {**plain, "echo": f"Prompt: Extract 4471 Key: {KEY}"}
    # The schema forbids additional members: an echoing reply fails validation.
    assert not Draft202012Validator(TRIAGE).is_valid(echoed)
