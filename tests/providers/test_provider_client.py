"""ProviderClient end to end over httpx.MockTransport: I/O, pooling, error translation."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from providers.client import ADAPTERS, ProviderClient
from providers.endpoint import Endpoint
from providers.errors import (
    AuthenticationError,
    InvalidRequestError,
    OverloadedError,
    ProviderConnectionError,
    RateLimitError,
    ResponseError,
)
from providers.secret import SecretKey
from providers.types import FinishReason, ModelRequest, Protocol, Usage
from providers.wire import PreparedRequest

SECRET = "sk-test-SECRET-9f8e7d"
PROMPT = "my private ticket text"
SCHEMA = {
    "type": "object",
    "properties": {"topic": {"type": "string"}},
    "required": ["topic"],
}

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def _endpoint(protocol: Protocol, key: str = SECRET, **kwargs: Any) -> Endpoint:
    return Endpoint.for_protocol(protocol, SecretKey(key), key_id="key_42", **kwargs)


def _openai_reply(content: str | None, finish_reason: str = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "gpt-5-mini-2025-08-07",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 30, "completion_tokens": 12},
        **extra,
    }


def _recording(handler: Handler) -> tuple[ProviderClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        result = handler(request)
        return await result if not isinstance(result, httpx.Response) else result

    return ProviderClient(transport=httpx.MockTransport(record)), seen


async def test_openai_call_round_trip() -> None:
    client, seen = _recording(lambda _: httpx.Response(200, json=_openai_reply("Hello")))
    async with client:
        response = await client.complete(
            _endpoint(Protocol.OPENAI), ModelRequest(model="gpt-5-mini", prompt=PROMPT)
        )

    assert (response.text, response.finish_reason) == ("Hello", FinishReason.STOP)
    assert response.usage == Usage(input_tokens=30, output_tokens=12)
    assert str(seen[0].url) == "https://api.openai.com/v1/chat/completions"
    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"
    assert json.loads(seen[0].content)["messages"] == [{"role": "user", "content": PROMPT}]


async def test_gemini_key_travels_in_a_header_not_the_url() -> None:
    reply = {
        "candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1},
        "modelVersion": "gemini-2.5-flash",
    }
    client, seen = _recording(lambda _: httpx.Response(200, json=reply))
    async with client:
        await client.complete(
            _endpoint(Protocol.GOOGLE), ModelRequest(model="gemini-2.5-flash", prompt="Hi")
        )

    assert SECRET not in str(seen[0].url)
    assert seen[0].url.params.get("key") is None
    assert seen[0].headers["x-goog-api-key"] == SECRET


async def test_one_pooled_http_client_per_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[str] = []

    class CountingClient(httpx.AsyncClient):
        def __init__(self, **kwargs: Any) -> None:
            created.append("client")
            super().__init__(**kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", CountingClient)
    client, seen = _recording(lambda _: httpx.Response(200, json=_openai_reply("ok")))
    request = ModelRequest(model="gpt-4o", prompt="Hi")
    local = "http://127.0.0.1:11434/v1"
    async with client:
        await client.complete(_endpoint(Protocol.OPENAI, "sk-first"), request)
        await client.complete(_endpoint(Protocol.OPENAI, "sk-second"), request)
        await client.complete(_endpoint(Protocol.OPENAI, base_url=local), request)
        await client.complete(_endpoint(Protocol.OPENAI, base_url=local), request)

    assert len(created) == 2
    # Keys are per call, not per pooled client: a rotated key is used at once.
    assert [r.headers["authorization"] for r in seen[:2]] == ["Bearer sk-first", "Bearer sk-second"]


async def test_error_reply_is_translated_with_the_key_id() -> None:
    body = {
        "error": {
            "message": f"Incorrect API key provided: {SECRET}",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }
    client, _ = _recording(lambda _: httpx.Response(401, json=body))
    async with client:
        with pytest.raises(AuthenticationError) as caught:
            await client.complete(
                _endpoint(Protocol.OPENAI), ModelRequest(model="gpt-4o", prompt="Hi")
            )

    assert "key 'key_42'" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET.encode() not in pickle.dumps(caught.value)


async def test_error_reply_carries_the_providers_wait_hint() -> None:
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    client, _ = _recording(lambda _: httpx.Response(429, json=body, headers={"retry-after": "5"}))
    async with client:
        with pytest.raises(RateLimitError) as caught:
            await client.complete(
                _endpoint(Protocol.ANTHROPIC), ModelRequest(model="claude-haiku-4-5", prompt="Hi")
            )

    assert caught.value.retry_after_s == 5.0
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("failure", "expected", "text"),
    [
        (
            httpx.ConnectError("refused"),
            ProviderConnectionError,
            "connection failed (ConnectError)",
        ),
        (httpx.ReadTimeout("timed out"), ProviderConnectionError, "timed out (ReadTimeout)"),
        (
            httpx.RemoteProtocolError("Server disconnected"),
            ProviderConnectionError,
            "connection failed (RemoteProtocolError)",
        ),
        (httpx.UnsupportedProtocol("ftp://"), InvalidRequestError, "check the key's base URL"),
    ],
    ids=["connect", "read-timeout", "dropped", "bad-url"],
)
async def test_transport_failures_become_provider_errors_naming_only_the_host(
    failure: httpx.HTTPError, expected: type[Exception], text: str
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    client = ProviderClient(transport=httpx.MockTransport(fail))
    endpoint = _endpoint(Protocol.OPENAI, base_url="https://user:pw@llm.example.com:8443/v1")
    async with client:
        with pytest.raises(expected) as caught:
            await client.complete(endpoint, ModelRequest(model="gpt-4o", prompt=PROMPT))

    message = str(caught.value)
    assert text in message
    assert "llm.example.com:8443" in message
    assert "/v1" not in message
    assert "pw" not in message
    assert caught.value.__cause__ is failure  # kept for debugging, never pickled
    assert pickle.loads(pickle.dumps(caught.value)).__cause__ is None  # noqa: S301


async def test_the_whole_call_is_bounded_by_timeout_s() -> None:
    never = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        await never.wait()
        return httpx.Response(200)

    client = ProviderClient(transport=httpx.MockTransport(hang))
    async with client:
        with pytest.raises(ProviderConnectionError, match=r"no reply within 0\.05 s"):
            await client.complete(
                _endpoint(Protocol.OPENAI),
                ModelRequest(model="gpt-4o", prompt="Hi"),
                timeout_s=0.05,
            )


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>Welcome to nginx</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
    ],
    ids=["html", "json-array"],
)
async def test_a_2xx_reply_that_is_not_a_json_object_is_a_response_error(
    reply: httpx.Response,
) -> None:
    client, _ = _recording(lambda _: reply)
    async with client:
        with pytest.raises(
            ResponseError, match="not a JSON object: check the key's base URL"
        ) as caught:
            await client.complete(
                _endpoint(Protocol.OPENAI), ModelRequest(model="gpt-4o", prompt="Hi")
            )

    assert caught.value.status == 200
    assert caught.value.__context__ is None


async def test_structured_step_returns_the_parsed_object() -> None:
    client, seen = _recording(
        lambda _: httpx.Response(200, json=_openai_reply('{"topic": "billing"}'))
    )
    async with client:
        response = await client.complete(
            _endpoint(Protocol.OPENAI),
            ModelRequest(model="gpt-5-mini", prompt="Hi", output_schema=SCHEMA),
        )

    assert response.parsed == {"topic": "billing"}
    assert json.loads(seen[0].content)["response_format"]["json_schema"]["strict"] is True


async def test_structured_step_cut_off_raises_with_usage_for_the_ledger() -> None:
    reply = _openai_reply('{"topic": "my private tic', finish_reason="length")
    client, _ = _recording(lambda _: httpx.Response(200, json=reply))
    async with client:
        with pytest.raises(ResponseError) as caught:
            await client.complete(
                _endpoint(Protocol.OPENAI),
                ModelRequest(model="gpt-5-mini", prompt="Hi", output_schema=SCHEMA),
            )

    assert str(caught.value).startswith(
        "openai returned output that is not valid JSON for the step's schema "
        "(finish_reason=max_tokens)"
    )
    assert "private" not in str(caught.value)
    assert caught.value.usage == Usage(input_tokens=30, output_tokens=12)


async def test_invalid_output_schema_is_refused_without_a_paid_call() -> None:
    client, seen = _recording(lambda _: httpx.Response(200, json=_openai_reply("{}")))
    async with client:
        with pytest.raises(InvalidRequestError, match="not a valid JSON Schema"):
            await client.complete(
                _endpoint(Protocol.OPENAI),
                ModelRequest(model="gpt-4o", prompt="Hi", output_schema={"type": 5}),
            )

    assert seen == []


async def test_reply_without_a_model_name_reports_the_requested_model() -> None:
    reply = _openai_reply("ok")
    del reply["model"]
    client, _ = _recording(lambda _: httpx.Response(200, json=reply))
    async with client:
        response = await client.complete(
            _endpoint(Protocol.OPENAI, base_url="http://127.0.0.1:8000/v1", provider="vllm"),
            ModelRequest(model="qwen3", prompt="Hi"),
        )

    assert response.model == "qwen3"


async def test_a_key_no_header_can_carry_is_refused_without_echoing_it() -> None:
    client, seen = _recording(lambda _: httpx.Response(200, json=_openai_reply("ok")))
    async with client:
        with pytest.raises(AuthenticationError, match="byok keys rotate") as caught:
            await client.complete(
                _endpoint(Protocol.OPENAI, key="sk-abc\nInjected: 1"),
                ModelRequest(model="gpt-4o", prompt="Hi"),
            )

    assert "sk-abc" not in str(caught.value)
    assert seen == []


async def test_a_closed_client_refuses_new_calls() -> None:
    client = ProviderClient(transport=httpx.MockTransport(lambda _: httpx.Response(200)))
    await client.aclose()

    with pytest.raises(RuntimeError, match="closed"):
        await client.complete(_endpoint(Protocol.OPENAI), ModelRequest(model="gpt-4o", prompt="Hi"))


async def test_a_client_stays_on_its_event_loop() -> None:
    client, _ = _recording(lambda _: httpx.Response(200, json=_openai_reply("ok")))
    request = ModelRequest(model="gpt-4o", prompt="Hi")
    async with client:
        await client.complete(_endpoint(Protocol.OPENAI), request)

        def on_another_loop() -> None:
            asyncio.run(client.complete(_endpoint(Protocol.OPENAI), request))

        with pytest.raises(RuntimeError, match="create one per event loop"):
            await asyncio.to_thread(on_another_loop)


def test_every_protocol_has_an_adapter() -> None:
    assert set(ADAPTERS) == set(Protocol)


def test_prepared_requests_hide_the_key_and_refuse_pickling() -> None:
    prepared = ADAPTERS[Protocol.ANTHROPIC].build_request(
        ModelRequest(model="claude-haiku-4-5", prompt=PROMPT), _endpoint(Protocol.ANTHROPIC)
    )

    assert repr(prepared) == "PreparedRequest(POST https://api.anthropic.com/v1/messages)"
    assert isinstance(prepared, PreparedRequest)
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(prepared)


async def test_a_text_step_whose_reply_a_safety_filter_withheld_fails_saying_so() -> None:
    blocked = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 11, "totalTokenCount": 11},
        "modelVersion": "gemini-2.5-flash",
    }
    client, _ = _recording(lambda _: httpx.Response(200, json=blocked))
    async with client:
        with pytest.raises(
            ResponseError, match="withheld the reply with its safety filter"
        ) as caught:
            await client.complete(
                _endpoint(Protocol.GOOGLE), ModelRequest(model="gemini-2.5-flash", prompt=PROMPT)
            )

    assert caught.value.usage == Usage(input_tokens=11)
    assert not caught.value.retryable


async def test_a_text_step_gets_a_refusal_as_its_text() -> None:
    reply = _openai_reply(None)
    reply["choices"][0]["message"]["refusal"] = "I can't help with that."
    client, _ = _recording(lambda _: httpx.Response(200, json=reply))
    async with client:
        response = await client.complete(
            _endpoint(Protocol.OPENAI), ModelRequest(model="gpt-5-mini", prompt="Hi")
        )

    assert (response.text, response.finish_reason) == (
        "I can't help with that.",
        FinishReason.REFUSAL,
    )


async def test_an_anthropic_error_body_sent_with_200_is_an_error() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": PROMPT}}
    client, _ = _recording(lambda _: httpx.Response(200, json=body))
    async with client:
        with pytest.raises(OverloadedError) as caught:
            await client.complete(
                _endpoint(Protocol.ANTHROPIC), ModelRequest(model="claude-haiku-4-5", prompt="Hi")
            )

    assert PROMPT not in str(caught.value)
