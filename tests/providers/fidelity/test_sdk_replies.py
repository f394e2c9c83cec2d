"""Replies and streams parse as the official SDKs parse them.

Two directions: the SDKs' own response types accept the realistic bodies the
adapter tests are built on (so those cannot drift from the real shapes), and
the SDKs, driven against the simulator, read the same text, usage and finish
from a call as our client does, streamed or not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic as anthropic_sdk
import openai as openai_sdk
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from google import genai
from google.genai import types as gtypes
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import TypeAdapter

from providers.client import ProviderClient
from providers.endpoint import Endpoint
from providers.secret import SecretKey
from providers.simulator import SimulatorServer
from providers.types import FinishReason, ModelRequest, ModelResponse, Protocol, Usage
from tests.providers.bodies import (
    ANTHROPIC_MESSAGE,
    ANTHROPIC_STREAM,
    GEMINI_RESPONSE,
    GEMINI_STREAM,
    OPENAI_COMPLETION,
    OPENAI_STREAM,
    OPENROUTER_COMPLETION,
)

KEY = "sk-fidelity-replies-42"
PROMPT = "Summarise: my invoice is wrong and I was charged twice"
MODELS = {
    Protocol.ANTHROPIC: "claude-haiku-4-5",
    Protocol.OPENAI: "gpt-5-mini",
    Protocol.GOOGLE: "gemini-2.5-flash",
}


# -- the fixtures are real shapes -------------------------------------------------


def test_the_sdks_accept_the_realistic_bodies() -> None:
    message = Message.model_validate(ANTHROPIC_MESSAGE)
    assert message.usage.cache_creation is not None
    assert message.usage.cache_creation.ephemeral_1h_input_tokens == 2000
    assert message.usage.output_tokens_details is not None

    for body in (OPENAI_COMPLETION, OPENROUTER_COMPLETION):
        completion = ChatCompletion.model_validate(body)
        assert completion.usage is not None
        assert completion.usage.prompt_tokens_details is not None

    # google-genai's models forbid unknown fields: a made-up field would fail here.
    response = gtypes.GenerateContentResponse.model_validate(GEMINI_RESPONSE)
    assert response.usage_metadata is not None
    assert response.usage_metadata.tool_use_prompt_token_count == 325


def test_the_sdks_accept_the_realistic_streams() -> None:
    events = TypeAdapter[Any](RawMessageStreamEvent)
    for event in ANTHROPIC_STREAM:
        if event.event != "ping":
            assert events.validate_python(json.loads(event.data)).type == event.event
    for event in OPENAI_STREAM[:-1]:
        ChatCompletionChunk.model_validate(json.loads(event.data))
    for event in GEMINI_STREAM:
        gtypes.GenerateContentResponse.model_validate(json.loads(event.data))


# -- the SDKs and our client read the same call the same way -----------------------


def _ours(protocol: Protocol, sim: SimulatorServer) -> Endpoint:
    return Endpoint.for_protocol(protocol, SecretKey(KEY), base_url=sim.base_url(protocol))


def _anthropic(sim: SimulatorServer, *, stream: bool) -> tuple[str, Usage, str | None]:
    client = anthropic_sdk.Anthropic(api_key=KEY, base_url=sim.url, max_retries=0)
    request: dict[str, Any] = {
        "model": MODELS[Protocol.ANTHROPIC],
        "max_tokens": 256,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if stream:
        with client.messages.stream(**request) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**request)
    u = message.usage
    written, read = u.cache_creation_input_tokens or 0, u.cache_read_input_tokens or 0
    usage = Usage(
        input_tokens=u.input_tokens + written + read,
        cache_read_tokens=read,
        cache_write_tokens=written,
        output_tokens=u.output_tokens,
    )
    text = "".join(block.text for block in message.content if block.type == "text")
    return text, usage, message.stop_reason


def _openai(sim: SimulatorServer, *, stream: bool) -> tuple[str, Usage, str | None]:
    client = openai_sdk.OpenAI(api_key=KEY, base_url=sim.base_url("openai"), max_retries=0)
    messages: Any = [{"role": "user", "content": PROMPT}]
    model = MODELS[Protocol.OPENAI]
    if stream:
        with client.chat.completions.stream(
            model=model, messages=messages, stream_options={"include_usage": True}
        ) as events:
            completion: Any = events.get_final_completion()
    else:
        completion = client.chat.completions.create(model=model, messages=messages)
    u = completion.usage
    usage = Usage(
        input_tokens=u.prompt_tokens,
        cache_read_tokens=u.prompt_tokens_details.cached_tokens or 0,
        output_tokens=u.completion_tokens,
        reasoning_tokens=u.completion_tokens_details.reasoning_tokens or 0,
    )
    choice = completion.choices[0]
    return choice.message.content or "", usage, choice.finish_reason


def _gemini(sim: SimulatorServer, *, stream: bool) -> tuple[str, Usage, str | None]:
    client = genai.Client(
        api_key=KEY, http_options=gtypes.HttpOptions(base_url=sim.url, api_version="v1beta")
    )
    model = MODELS[Protocol.GOOGLE]
    chunks: Iterator[gtypes.GenerateContentResponse]
    if stream:
        chunks = client.models.generate_content_stream(model=model, contents=PROMPT)
    else:
        chunks = iter([client.models.generate_content(model=model, contents=PROMPT)])
    text, last = "", None
    for chunk in chunks:
        text += chunk.text or ""
        last = chunk
    assert last is not None
    assert last.usage_metadata is not None
    assert last.candidates
    u = last.usage_metadata
    thoughts = u.thoughts_token_count or 0
    usage = Usage(
        input_tokens=(u.prompt_token_count or 0) + (u.tool_use_prompt_token_count or 0),
        cache_read_tokens=u.cached_content_token_count or 0,
        output_tokens=(u.candidates_token_count or 0) + thoughts,
        reasoning_tokens=thoughts,
    )
    finish = last.candidates[0].finish_reason
    return text, usage, finish.value if finish is not None else None


SDK_CALLS = {Protocol.ANTHROPIC: _anthropic, Protocol.OPENAI: _openai, Protocol.GOOGLE: _gemini}
STOPPED = {Protocol.ANTHROPIC: "end_turn", Protocol.OPENAI: "stop", Protocol.GOOGLE: "STOP"}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
async def test_the_sdk_and_our_client_read_the_same_reply(
    provider_client: ProviderClient, sim: SimulatorServer, protocol: Protocol, stream: bool
) -> None:
    text, usage, finish = SDK_CALLS[protocol](sim, stream=stream)
    assert sim.requests[-1].stream is stream

    ours: ModelResponse = await provider_client.complete(
        _ours(protocol, sim), ModelRequest(model=MODELS[protocol], prompt=PROMPT, stream=stream)
    )

    assert sim.requests[-1].stream is stream
    assert ours.text == text
    assert ours.usage == usage
    assert finish == STOPPED[protocol]
    assert ours.finish_reason is FinishReason.STOP
