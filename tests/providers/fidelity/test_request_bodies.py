"""Every request body our adapters send is one the official SDKs would send.

The bodies are captured by a separate server (the simulator), as they went
over the wire, then checked two ways:

1. against the SDK's own request types, strictly (unknown or missing fields,
   wrong literals, wrong JSON types): `anthropic.types.MessageCreateParams`,
   `openai.types.chat.CompletionCreateParams`, and for Gemini the pydantic
   models `google.genai.types.Content` and `GenerationConfig` (which forbid
   unknown fields themselves);
2. by parity: the SDK is given the same request and sends it to the same
   server; the two captured bodies must be equal.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import anthropic as anthropic_sdk
import openai as openai_sdk
import pytest
from anthropic._constants import ANTHROPIC_API_VERSION
from anthropic.types import MessageCreateParams
from google import genai
from google.genai import types as gtypes
from openai.types.chat import CompletionCreateParams

from providers import anthropic, azure
from providers.client import ProviderClient
from providers.endpoint import Endpoint
from providers.errors import ResponseError
from providers.secret import SecretKey
from providers.simulator import SimulatorServer
from providers.streaming import STREAM_MIN_MAX_TOKENS
from providers.types import ModelRequest, Protocol
from tests.providers.fidelity.typed_dicts import problems

KEY = "sk-fidelity-0123456789"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A support ticket",
    "properties": {
        "topic": {"type": "string", "enum": ["billing", "bug", "other"]},
        "summary": {"type": "string", "maxLength": 200},
        "priority": {"type": "integer", "minimum": 1, "maximum": 5},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
        "customer": {"$ref": "#/$defs/customer"},
        "due": {"type": "string", "format": "date"},
    },
    "required": ["topic", "summary", "priority"],
    "$defs": {
        "customer": {
            "type": "object",
            "properties": {"email": {"type": "string", "format": "email"}},
            "required": ["email"],
        }
    },
}

REQUESTS: dict[str, dict[str, Any]] = {
    "minimal": {},
    "system-stop-temperature": {
        "system": "You triage tickets.",
        "stop": ("END",),
        "temperature": 0.2,
    },
    "structured": {"system": "Extract.", "output_schema": SCHEMA},
    "streamed": {"stream": True, "stop": ("END", "STOP")},
    "long-generation": {"max_tokens": STREAM_MIN_MAX_TOKENS},
    "structured-streamed": {"output_schema": SCHEMA, "stream": True, "temperature": 1.0},
}


@dataclass(frozen=True)
class Target:
    """One kind of key: protocol, provider name, base URL path on the simulator, model."""

    protocol: Protocol
    provider: str
    path: str  # appended to the simulator's root to make the key's base URL
    model: str


TARGETS: dict[str, Target] = {
    "anthropic": Target(Protocol.ANTHROPIC, "anthropic", "", "claude-haiku-4-5"),
    "openai": Target(Protocol.OPENAI, "openai", "/v1", "gpt-4.1-mini"),
    "openai-reasoning": Target(Protocol.OPENAI, "openai", "/v1", "gpt-5-mini"),
    "ollama": Target(Protocol.OPENAI, "ollama", "/v1", "llama3.2"),
    "openrouter": Target(Protocol.OPENAI, "openrouter", "/api/v1", "openai/o4-mini"),
    "azure": Target(Protocol.OPENAI, "azure", "", "prod-gpt-5-mini"),
    "azure-v1": Target(Protocol.OPENAI, "azure", "/openai/v1", "prod-gpt-5-mini"),
    "google": Target(Protocol.GOOGLE, "google", "", "gemini-2.5-flash"),
}

CASES = [
    pytest.param(target, request, id=f"{name}-{kind}")
    for name, target in TARGETS.items()
    for kind, request in REQUESTS.items()
]


async def _send(
    client: ProviderClient, sim: SimulatorServer, target: Target, fields: dict[str, Any]
) -> Any:
    """Make the call with our client; return the body the simulator captured."""
    endpoint = Endpoint.for_protocol(
        target.protocol,
        SecretKey(KEY),
        base_url=sim.url + target.path,
        provider=target.provider,
    )
    request = ModelRequest(model=target.model, prompt="My invoice is wrong", **fields)
    # The reply is not under test here: a structured reply to the fitted schema
    # may break the step's stricter original, which is a ResponseError.
    with contextlib.suppress(ResponseError):
        await client.complete(endpoint, request)
    record = sim.requests[-1]
    assert record.status == 200, record
    return record.body


class SDKs:
    """The official clients, one per kind of key, built once: each costs a TLS context."""

    def __init__(self, sim: SimulatorServer) -> None:
        self.anthropic = anthropic_sdk.Anthropic(api_key=KEY, base_url=sim.url, max_retries=0)
        self.google = genai.Client(
            api_key=KEY, http_options=gtypes.HttpOptions(base_url=sim.url, api_version="v1beta")
        )
        self.openai = {
            name: _openai_client(sim, target)
            for name, target in TARGETS.items()
            if target.protocol is Protocol.OPENAI
        }

    def send(self, sim: SimulatorServer, target: Target, body: dict[str, Any]) -> Any:
        """Give the same request to the official SDK; return the body it sent."""
        streamed = sim.requests[-1].stream
        result: Any
        if target.protocol is Protocol.ANTHROPIC:
            result = self.anthropic.messages.create(**body)
        elif target.protocol is Protocol.GOOGLE:
            result = self._gemini(target.model, body, streamed=streamed)
        else:
            name = next(n for n, t in TARGETS.items() if t == target)
            result = self.openai[name].chat.completions.create(**body)
        if streamed:
            for _ in result:
                pass
        return sim.requests[-1].body

    def _gemini(self, model: str, body: dict[str, Any], *, streamed: bool) -> Any:
        config = gtypes.GenerateContentConfig.model_validate(
            {**body["generationConfig"], "systemInstruction": body.get("systemInstruction")}
        )
        contents: Any = [gtypes.Content.model_validate(c) for c in body["contents"]]
        models = self.google.models
        if streamed:
            return models.generate_content_stream(model=model, contents=contents, config=config)
        return models.generate_content(model=model, contents=contents, config=config)


def _openai_client(sim: SimulatorServer, target: Target) -> openai_sdk.OpenAI:
    if target.provider != "azure":
        return openai_sdk.OpenAI(api_key=KEY, base_url=sim.url + target.path, max_retries=0)
    if target.path:  # Azure's v1 API: the plain client at /openai/v1, Azure's key header
        return openai_sdk.OpenAI(
            api_key=KEY,
            base_url=sim.url + target.path,
            default_headers={"api-key": KEY},
            max_retries=0,
        )
    return openai_sdk.AzureOpenAI(
        api_key=KEY, azure_endpoint=sim.url, api_version=azure.API_VERSION, max_retries=0
    )


@pytest.fixture(scope="module")
def sdks(simulator: SimulatorServer) -> SDKs:
    return SDKs(simulator)


def _type_problems(target: Target, body: Any) -> list[str]:
    if target.protocol is Protocol.ANTHROPIC:
        return problems(body, MessageCreateParams)
    if target.protocol is Protocol.OPENAI:
        return problems(body, CompletionCreateParams)
    found = [f"$.{key}: not a request field" for key in body if key not in _GEMINI_FIELDS]
    for index, content in enumerate(body["contents"]):
        found += _pydantic_problems(gtypes.Content, content, f"$.contents[{index}]")
    if "systemInstruction" in body:
        found += _pydantic_problems(
            gtypes.Content, body["systemInstruction"], "$.systemInstruction"
        )
    found += _pydantic_problems(
        gtypes.GenerationConfig, body["generationConfig"], "$.generationConfig"
    )
    return found


_GEMINI_FIELDS = {"contents", "systemInstruction", "generationConfig"}


def _pydantic_problems(model: Any, value: Any, path: str) -> list[str]:
    try:
        model.model_validate(value)
    except ValueError as error:
        return [f"{path}: {error}"]
    return []


@pytest.mark.parametrize(("target", "fields"), CASES)
async def test_our_bodies_conform_to_the_sdks_request_types(
    provider_client: ProviderClient, sim: SimulatorServer, target: Target, fields: dict[str, Any]
) -> None:
    body = await _send(provider_client, sim, target, fields)

    assert _type_problems(target, body) == []


@pytest.mark.parametrize(("target", "fields"), CASES)
async def test_the_sdk_sends_the_same_body_for_the_same_request(
    provider_client: ProviderClient,
    sim: SimulatorServer,
    sdks: SDKs,
    target: Target,
    fields: dict[str, Any],
) -> None:
    ours = await _send(provider_client, sim, target, fields)
    ours_path = sim.requests[-1].path

    theirs = sdks.send(sim, target, ours)

    assert theirs == ours
    assert sim.requests[-1].path == ours_path
    assert sim.requests[-1].key_fingerprint == sim.requests[-2].key_fingerprint


def test_the_pinned_anthropic_version_is_the_sdks() -> None:
    assert anthropic.API_VERSION == ANTHROPIC_API_VERSION


def test_the_type_checker_catches_what_pydantic_lets_through() -> None:
    """The strict check is what makes test 1 meaningful: pydantic ignores these."""
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.5,
    }
    assert problems(body, MessageCreateParams) != []
    assert problems({**body, "messages": [{"role": "robot"}]}, MessageCreateParams) != []
    assert problems({"model": "m", "messages": "Hi"}, CompletionCreateParams) != []
