"""Streamed calls: SSE decoding, assembly per protocol, mid-stream errors, cut streams."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from providers.client import ADAPTERS, STREAMS, ProviderClient
from providers.endpoint import Endpoint
from providers.errors import (
    OverloadedError,
    ProviderConnectionError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from providers.secret import SecretKey
from providers.simulator import Fault, SimulatorServer
from providers.streaming import (
    STREAM_MIN_MAX_TOKENS,
    ServerSentEvent,
    SSEDecoder,
    aiter_events,
    wants_stream,
)
from providers.streaming.anthropic import AnthropicStream
from providers.streaming.google import GoogleStream
from providers.streaming.openai import OpenAIStream
from providers.types import FinishReason, ModelRequest, Protocol, Usage
from tests.providers.bodies import (
    ANTHROPIC_MESSAGE,
    ANTHROPIC_STREAM,
    GEMINI_RESPONSE,
    GEMINI_STREAM,
    OPENAI_COMPLETION,
    OPENAI_STREAM,
    sse,
    wire,
)

SECRET = "sk-stream-SECRET-5150"
MODELS = {
    Protocol.ANTHROPIC: "claude-sonnet-4-5",
    Protocol.OPENAI: "gpt-5-mini",
    Protocol.GOOGLE: "gemini-2.5-flash",
}
STREAMED = {
    Protocol.ANTHROPIC: ANTHROPIC_STREAM,
    Protocol.OPENAI: OPENAI_STREAM,
    Protocol.GOOGLE: GEMINI_STREAM,
}


# -- the SSE decoder ------------------------------------------------------------


def _decode(text: str) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [decoder.feed(line) for line in text.split("\n")]
    return [event for event in events if event is not None]


def test_decoder_follows_the_event_stream_format() -> None:
    stream = (
        ": keep-alive comment\n"
        "event: content_block_delta\n"
        'data: {"a":\n'
        "data: 1}\n"
        "id: 7\n"
        "retry: 1000\n"
        "\n"
        "data:no space after the colon\n"
        "\n"
        "event: ping\n"
        "\n"  # no data: not dispatched
        "data: [DONE]\n"
        "\n"
        "data: a partial event at the end is discarded"
    )

    assert _decode(stream) == [
        ServerSentEvent("content_block_delta", '{"a":\n1}'),
        ServerSentEvent("message", "no space after the colon"),
        ServerSentEvent("message", "[DONE]"),
    ]


async def test_decoder_reads_httpx_lines_with_any_line_ending() -> None:
    async def lines() -> AsyncIterator[str]:
        response = httpx.Response(200, content=b"data: 1\r\n\r\ndata: 2\r\rdata: 3\n\n")
        async for line in response.aiter_lines():
            yield line

    assert [event.data async for event in aiter_events(lines())] == ["1", "2", "3"]


def test_event_repr_and_json_never_show_more_than_asked() -> None:
    event = ServerSentEvent("message", '{"text": "private output"}')

    assert "private" not in repr(event)
    assert event.json() == {"text": "private output"}
    assert ServerSentEvent("message", "[DONE]").json() is None


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
def test_an_assembly_never_shows_the_text_it_holds(protocol: Protocol) -> None:
    assembly = _assemble(protocol, STREAMED[protocol])

    assert "Billing" not in repr(assembly)
    assert "Billing" not in repr(assembly.result())


# -- assembling each protocol's stream -------------------------------------------


def _assemble(protocol: Protocol, events: list[ServerSentEvent]) -> Any:
    assembly = STREAMS[protocol](provider=protocol.value, key_id="key_9")
    for event in events:
        assembly.feed(event)
    return assembly


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
def test_a_stream_assembles_to_the_same_response_as_the_unstreamed_reply(
    protocol: Protocol,
) -> None:
    whole = {
        Protocol.ANTHROPIC: ANTHROPIC_MESSAGE,
        Protocol.OPENAI: OPENAI_COMPLETION,
        Protocol.GOOGLE: GEMINI_RESPONSE,
    }[protocol]
    expected = ADAPTERS[protocol].parse_response(whole, provider=protocol.value)

    streamed = _assemble(protocol, STREAMED[protocol]).result()

    assert streamed.text == expected.text == "Billing: charged twice."
    assert streamed.usage == expected.usage
    assert (streamed.finish_reason, streamed.model) == (expected.finish_reason, expected.model)


def test_anthropic_usage_agrees_with_the_sdks_own_accumulator() -> None:
    snapshot = None
    for event in ANTHROPIC_STREAM:
        if event.event != "ping":
            snapshot = accumulate_event(
                event=json.loads(event.data), current_snapshot=snapshot, json_bufs={}
            )
    assert snapshot is not None
    sdk = snapshot.usage
    thinking = sdk.output_tokens_details.thinking_tokens if sdk.output_tokens_details else 0
    cache_1h = sdk.cache_creation.ephemeral_1h_input_tokens if sdk.cache_creation else 0

    ours = _assemble(Protocol.ANTHROPIC, ANTHROPIC_STREAM).result()

    written = sdk.cache_creation_input_tokens or 0
    read = sdk.cache_read_input_tokens or 0
    assert ours.usage == Usage(
        input_tokens=sdk.input_tokens + written + read,
        cache_read_tokens=read,
        cache_write_tokens=written,
        cache_write_1h_tokens=cache_1h,
        output_tokens=sdk.output_tokens,
        reasoning_tokens=thinking,
    )
    texts = [block.text for block in snapshot.content if block.type == "text"]
    assert ours.text == "".join(texts)


def test_anthropic_message_delta_counts_replace_earlier_ones() -> None:
    start = ANTHROPIC_STREAM[0]
    later = sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens"},
            "usage": {"output_tokens": 7},  # absent counts keep the message_start values
        },
    )
    assembly = _assemble(Protocol.ANTHROPIC, [start, later, sse("message_stop", {})])

    assert assembly.usage.output_tokens == 7
    assert assembly.usage.cache_read_tokens == 12000
    assert assembly.result().finish_reason is FinishReason.MAX_TOKENS


def test_openai_usage_agrees_with_the_sdks_own_accumulator() -> None:
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for event in OPENAI_STREAM[:-1]:
        state.handle_chunk(ChatCompletionChunk.model_validate(json.loads(event.data)))
    final = state.get_final_completion()
    assert final.usage is not None
    assert final.usage.completion_tokens_details is not None
    assert final.usage.prompt_tokens_details is not None

    ours = _assemble(Protocol.OPENAI, OPENAI_STREAM).result()

    assert ours.text == final.choices[0].message.content
    assert ours.usage == Usage(
        input_tokens=final.usage.prompt_tokens,
        cache_read_tokens=final.usage.prompt_tokens_details.cached_tokens or 0,
        output_tokens=final.usage.completion_tokens,
        reasoning_tokens=final.usage.completion_tokens_details.reasoning_tokens or 0,
    )


def test_openai_refusal_streams_as_the_text_with_a_refusal_finish() -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> ServerSentEvent:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse(None, {"id": "c", "model": "gpt-5", "choices": [choice]})

    events = [chunk({"refusal": "I can't "}), chunk({"refusal": "help."}, "stop")]
    response = _assemble(Protocol.OPENAI, events).result()

    assert (response.text, response.finish_reason) == ("I can't help.", FinishReason.REFUSAL)


def test_groq_usage_in_x_groq_and_no_done_marker() -> None:
    events = [
        sse(None, {"id": "c", "model": "llama-3.3-70b", "choices": [{"delta": {"content": "Hi"}}]}),
        sse(
            None,
            {
                "id": "c",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "x_groq": {"usage": {"prompt_tokens": 12, "completion_tokens": 2}},
            },
        ),
    ]
    response = _assemble(Protocol.OPENAI, events).result()  # complete without [DONE]

    assert response.usage == Usage(input_tokens=12, output_tokens=2)


def test_gemini_blocked_prompt_completes_the_stream_with_a_safety_finish() -> None:
    blocked = sse(
        None,
        {
            "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        },
    )
    response = _assemble(Protocol.GOOGLE, [blocked]).result()

    assert (response.text, response.finish_reason) == ("", FinishReason.SAFETY)
    assert response.usage == Usage(input_tokens=9)


# -- errors inside a stream ------------------------------------------------------

ECHO = f"prompt 'my private ticket' with key {SECRET}"
MID_STREAM_ERRORS: dict[Protocol, ServerSentEvent] = {
    Protocol.ANTHROPIC: sse(
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": f"Overloaded {ECHO}"}},
    ),
    Protocol.OPENAI: sse(
        None,
        {"error": {"message": ECHO, "type": "server_error", "param": None, "code": None}},
    ),
    Protocol.GOOGLE: sse(
        None,
        {"error": {"code": 503, "message": ECHO, "status": "UNAVAILABLE"}},
    ),
}
MID_STREAM_CLASSES = {
    Protocol.ANTHROPIC: OverloadedError,
    Protocol.OPENAI: ServerError,
    Protocol.GOOGLE: OverloadedError,
}


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
def test_an_error_mid_stream_raises_like_the_same_error_sent_as_a_status(
    protocol: Protocol,
) -> None:
    assembly = STREAMS[protocol](provider=protocol.value, key_id="key_9")
    assembly.feed(STREAMED[protocol][0])

    with pytest.raises(MID_STREAM_CLASSES[protocol]) as caught:
        assembly.feed(MID_STREAM_ERRORS[protocol])

    error = caught.value
    assert error.retryable
    assert "HTTP 200 with an in-band" in str(error)
    assert SECRET not in str(error)
    assert "private" not in str(error)
    assert SECRET.encode() not in pickle.dumps(error)


def test_a_mid_stream_error_keeps_the_usage_reported_before_it() -> None:
    assembly = AnthropicStream(provider="anthropic")
    assembly.feed(ANTHROPIC_STREAM[0])  # message_start: the prompt's counts

    with pytest.raises(OverloadedError) as caught:
        assembly.feed(MID_STREAM_ERRORS[Protocol.ANTHROPIC])

    assert caught.value.usage == Usage(
        input_tokens=15021,
        cache_read_tokens=12000,
        cache_write_tokens=3000,
        cache_write_1h_tokens=2000,
        output_tokens=1,
    )


def test_a_spend_limit_mid_stream_is_not_retryable() -> None:
    body = {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "spend limit",
            "details": {"error_code": "enforced_spend_limit_reached"},
        },
    }
    with pytest.raises(QuotaExceededError) as caught:
        AnthropicStream(provider="anthropic").feed(sse("error", body))

    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("protocol", "cut"),
    [(Protocol.ANTHROPIC, 9), (Protocol.OPENAI, 3), (Protocol.GOOGLE, 1)],
    ids=["anthropic", "openai", "google"],
)
def test_a_stream_cut_before_its_end_is_a_retryable_connection_error(
    protocol: Protocol, cut: int
) -> None:
    assembly = _assemble(protocol, STREAMED[protocol][:cut])

    with pytest.raises(ProviderConnectionError, match="ended the stream before") as caught:
        assembly.result()

    assert caught.value.retryable


# -- when to stream ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "max_tokens", "expected"),
    [
        (None, 1024, False),
        (None, STREAM_MIN_MAX_TOKENS - 1, False),
        (None, STREAM_MIN_MAX_TOKENS, True),
        (False, 64_000, False),
        (True, 50, True),
    ],
)
def test_long_generations_stream_unless_the_request_says_otherwise(
    stream: bool | None, max_tokens: int, expected: bool
) -> None:
    request = ModelRequest(model="m", prompt="p", max_tokens=max_tokens, stream=stream)
    assert wants_stream(request) is expected


# -- the client reading streams over HTTP -------------------------------------------


def _endpoint(protocol: Protocol) -> Endpoint:
    return Endpoint.for_protocol(protocol, SecretKey(SECRET), key_id="key_9")


def _streaming(body: bytes, seen: list[httpx.Request] | None = None) -> ProviderClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    return ProviderClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
async def test_client_streams_long_generations_and_assembles_the_reply(
    protocol: Protocol,
) -> None:
    seen: list[httpx.Request] = []
    request = ModelRequest(model=MODELS[protocol], prompt="Hi", max_tokens=STREAM_MIN_MAX_TOKENS)
    async with _streaming(wire(STREAMED[protocol]), seen) as client:
        response = await client.complete(_endpoint(protocol), request)

    assert response.text == "Billing: charged twice."
    sent = json.loads(seen[0].content)
    if protocol is Protocol.GOOGLE:
        assert seen[0].url.path.endswith(":streamGenerateContent")
        assert seen[0].url.params["alt"] == "sse"
    else:
        assert sent["stream"] is True
    if protocol is Protocol.OPENAI:
        assert sent["stream_options"] == {"include_usage": True}


async def test_a_server_that_ignores_the_stream_request_is_read_as_a_plain_reply() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=OPENAI_COMPLETION)

    async with ProviderClient(transport=httpx.MockTransport(handler)) as client:
        response = await client.complete(
            _endpoint(Protocol.OPENAI), ModelRequest(model="qwen3", prompt="Hi", stream=True)
        )

    assert response.usage.cache_read_tokens == 1920


async def test_an_error_status_on_a_stream_request_is_classified_as_usual() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"type": "error", "error": {"type": "rate_limit_error", "message": ECHO}}
        return httpx.Response(429, json=body, headers={"retry-after": "4"})

    async with ProviderClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.complete(
                _endpoint(Protocol.ANTHROPIC),
                ModelRequest(model="claude-haiku-4-5", prompt="Hi", stream=True),
            )

    assert caught.value.retry_after_s == 4.0


async def test_a_connection_dropped_mid_stream_carries_the_usage_reported_so_far() -> None:
    head = wire(ANTHROPIC_STREAM[:3])

    class Dropping(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield head
            raise httpx.ReadError("connection reset by peer")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Dropping(), headers={"content-type": "text/event-stream"})

    async with ProviderClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ProviderConnectionError, match="connection failed") as caught:
            await client.complete(
                _endpoint(Protocol.ANTHROPIC),
                ModelRequest(model="claude-haiku-4-5", prompt="Hi", stream=True),
            )

    assert caught.value.usage is not None
    assert caught.value.usage.input_tokens == 15021


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
async def test_the_client_raises_a_mid_stream_error_with_its_usage(protocol: Protocol) -> None:
    body = wire([*STREAMED[protocol][:1], MID_STREAM_ERRORS[protocol]])
    async with _streaming(body) as client:
        with pytest.raises(MID_STREAM_CLASSES[protocol]) as caught:
            await client.complete(
                _endpoint(protocol), ModelRequest(model=MODELS[protocol], prompt="Hi", stream=True)
            )

    assert caught.value.provider == protocol.value
    assert SECRET not in str(caught.value)


def test_every_protocol_has_a_stream_assembler() -> None:
    assert set(STREAMS) == set(Protocol)
    assert {STREAMS[p] for p in Protocol} == {AnthropicStream, OpenAIStream, GoogleStream}


async def test_streamed_and_whole_calls_share_one_pooled_client_per_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[httpx.AsyncClient] = []

    class Counting(httpx.AsyncClient):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            created.append(self)

    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("stream"):
            return httpx.Response(
                200, content=wire(OPENAI_STREAM), headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(200, json=OPENAI_COMPLETION)

    monkeypatch.setattr(httpx, "AsyncClient", Counting)
    async with ProviderClient(transport=httpx.MockTransport(handler)) as client:
        for stream in (False, True, False, True):
            await client.complete(
                _endpoint(Protocol.OPENAI), ModelRequest(model="gpt-5", prompt="Hi", stream=stream)
            )

    assert len(created) == 1


async def test_a_stalled_stream_is_bounded_by_the_steps_timeout_and_keeps_its_usage() -> None:
    head = wire(ANTHROPIC_STREAM[:3])
    never = asyncio.Event()

    class Stalling(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield head
            await never.wait()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Stalling(), headers={"content-type": "text/event-stream"})

    async with ProviderClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ProviderConnectionError, match=r"no reply within 0\.05 s") as caught:
            await client.complete(
                _endpoint(Protocol.ANTHROPIC),
                ModelRequest(model="claude-haiku-4-5", prompt="Hi", stream=True),
                timeout_s=0.05,
            )

    assert caught.value.usage is not None
    assert caught.value.usage.cache_read_tokens == 12000


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
async def test_a_stream_the_server_cuts_short_is_a_retryable_error(
    provider_client: ProviderClient, sim: SimulatorServer, protocol: Protocol
) -> None:
    sim.inject(Fault.invalid_json())
    endpoint = Endpoint.for_protocol(protocol, SecretKey(SECRET), base_url=sim.base_url(protocol))

    with pytest.raises(ProviderConnectionError, match="ended the stream before") as caught:
        await provider_client.complete(
            endpoint, ModelRequest(model=MODELS[protocol], prompt="Hi", stream=True)
        )

    assert caught.value.retryable
