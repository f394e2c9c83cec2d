"""Plain-httpx requests in each provider's wire format, for driving the simulator.

Deliberately independent of the project's adapters: these tests pin down what
the simulator accepts and answers, which the adapter tests then rely on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from providers.simulator import SimulatorServer
from providers.types import Protocol

KEY = "sk-sim-test-0123456789abcdef"
MODELS = {
    Protocol.ANTHROPIC: "claude-haiku-4-5",
    Protocol.OPENAI: "gpt-5-mini",
    Protocol.GOOGLE: "gemini-2.5-flash",
}
MAX_TOKENS_FINISH = {
    Protocol.ANTHROPIC: "max_tokens",
    Protocol.OPENAI: "length",
    Protocol.GOOGLE: "MAX_TOKENS",
}
STOP_FINISH = {Protocol.ANTHROPIC: "end_turn", Protocol.OPENAI: "stop", Protocol.GOOGLE: "STOP"}


def build(
    sim: SimulatorServer,
    protocol: Protocol,
    prompt: str = "Hello there",
    *,
    model: str | None = None,
    system: str | None = None,
    max_tokens: int | None = 256,
    schema: Mapping[str, Any] | None = None,
    stop: Sequence[str] = (),
    key: str | None = KEY,
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(url, headers, body) of a minimal, valid call in `protocol`'s wire format."""
    model = model or MODELS[protocol]
    base = sim.base_url(protocol)
    if protocol is Protocol.ANTHROPIC:
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": prompt}],
        }
        if system is not None:
            body["system"] = system
        if stop:
            body["stop_sequences"] = list(stop)
        if schema is not None:
            body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        headers = {"anthropic-version": "2023-06-01"} | ({"x-api-key": key} if key else {})
        return f"{base}/v1/messages", headers, body
    if protocol is Protocol.OPENAI:
        messages = [{"role": "system", "content": system}] if system is not None else []
        body = {"model": model, "messages": [*messages, {"role": "user", "content": prompt}]}
        if max_tokens is not None:
            body["max_completion_tokens"] = max_tokens
        if stop:
            body["stop"] = list(stop)
        if schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema, "strict": True},
            }
        return f"{base}/chat/completions", {"authorization": f"Bearer {key}"} if key else {}, body
    config: dict[str, Any] = {}
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    if stop:
        config["stopSequences"] = list(stop)
    if schema is not None:
        config |= {"responseMimeType": "application/json", "responseJsonSchema": schema}
    body = {"contents": [{"role": "user", "parts": [{"text": prompt}]}], "generationConfig": config}
    if system is not None:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    url = f"{base}/v1beta/models/{model}:generateContent"
    return url, {"x-goog-api-key": key} if key else {}, body


def call(
    client: httpx.Client,
    sim: SimulatorServer,
    protocol: Protocol,
    prompt: str = "Hello there",
    **kw: Any,
) -> httpx.Response:
    """POST one call built by `build`."""
    url, headers, body = build(sim, protocol, prompt, **kw)
    return client.post(url, headers=headers, json=body)


async def acall(
    client: httpx.AsyncClient,
    sim: SimulatorServer,
    protocol: Protocol,
    prompt: str = "Hello there",
    **kw: Any,
) -> httpx.Response:
    """The async twin of `call`."""
    url, headers, body = build(sim, protocol, prompt, **kw)
    return await client.post(url, headers=headers, json=body)


def text_of(protocol: Protocol, payload: Mapping[str, Any]) -> str:
    """The reply text in a success body."""
    if protocol is Protocol.ANTHROPIC:
        return str(payload["content"][0]["text"])
    if protocol is Protocol.OPENAI:
        return str(payload["choices"][0]["message"]["content"])
    return str(payload["candidates"][0]["content"]["parts"][0]["text"])


def usage_of(protocol: Protocol, payload: Mapping[str, Any]) -> tuple[int, int]:
    """(input tokens, output tokens) in a success body."""
    if protocol is Protocol.ANTHROPIC:
        return payload["usage"]["input_tokens"], payload["usage"]["output_tokens"]
    if protocol is Protocol.OPENAI:
        return payload["usage"]["prompt_tokens"], payload["usage"]["completion_tokens"]
    usage = payload["usageMetadata"]
    return usage["promptTokenCount"], usage["candidatesTokenCount"]


def finish_of(protocol: Protocol, payload: Mapping[str, Any]) -> str:
    """The finish reason in a success body, in the provider's own words."""
    if protocol is Protocol.ANTHROPIC:
        return str(payload["stop_reason"])
    if protocol is Protocol.OPENAI:
        return str(payload["choices"][0]["finish_reason"])
    return str(payload["candidates"][0]["finishReason"])
