"""Streamed replies follow each provider's event sequence and say what the whole reply says."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from providers.simulator import Fault, FaultKind, SimulatorServer
from providers.types import Protocol
from tests.providers.simulator.calls import build, call, text_of, usage_of

ALL = list(Protocol)


@dataclass(frozen=True)
class Event:
    name: str | None
    data: Any  # parsed JSON, or the raw text when it is not JSON


def _parse(body: str) -> list[Event]:
    """Split a text/event-stream body by hand: independent of the project's decoder."""
    events = []
    for block in body.strip().split("\n\n"):
        name, data = None, ""
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data = value
        try:
            events.append(Event(name, json.loads(data)))
        except ValueError:
            events.append(Event(name, data))
    return events


def _stream(
    client: httpx.Client, sim: SimulatorServer, protocol: Protocol, *, usage: bool = True, **kw: Any
) -> tuple[httpx.Response, list[Event]]:
    url, headers, body = build(sim, protocol, **kw)
    if protocol is Protocol.GOOGLE:
        url = url.replace(":generateContent", ":streamGenerateContent?alt=sse")
    else:
        body["stream"] = True
    if protocol is Protocol.OPENAI and usage:
        body["stream_options"] = {"include_usage": True}
    response = client.post(url, headers=headers, json=body)
    return response, _parse(response.text)


def _text(protocol: Protocol, events: list[Event]) -> str:
    if protocol is Protocol.ANTHROPIC:
        return "".join(e.data["delta"]["text"] for e in events if e.name == "content_block_delta")
    if protocol is Protocol.OPENAI:
        return "".join(
            e.data["choices"][0]["delta"].get("content") or ""
            for e in events
            if isinstance(e.data, dict) and e.data.get("choices")
        )
    return "".join(e.data["candidates"][0]["content"]["parts"][0]["text"] for e in events)


@pytest.mark.parametrize("protocol", ALL, ids=lambda p: p.value)
def test_a_stream_says_what_the_whole_reply_says(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    whole = call(client, sim, protocol, "Tell me about the harbour").json()

    response, events = _stream(client, sim, protocol, prompt="Tell me about the harbour")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert _text(protocol, events) == text_of(protocol, whole)
    assert len(events) > 3  # the text arrives in pieces
    assert sim.requests[-1].stream
    assert not sim.requests[-2].stream


def test_anthropic_events_come_in_the_messages_api_order(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    whole = call(client, sim, Protocol.ANTHROPIC).json()

    _, events = _stream(client, sim, Protocol.ANTHROPIC)

    names = [e.name for e in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert all(e.data["type"] == e.name for e in events)
    start, delta = events[0].data["message"], events[-2].data
    assert start["usage"]["input_tokens"] == whole["usage"]["input_tokens"]
    assert start["stop_reason"] is None
    assert delta["delta"]["stop_reason"] == whole["stop_reason"]
    assert delta["usage"]["output_tokens"] == whole["usage"]["output_tokens"]  # cumulative


def test_openai_usage_chunk_only_when_asked(sim: SimulatorServer, client: httpx.Client) -> None:
    whole = call(client, sim, Protocol.OPENAI).json()

    _, with_usage = _stream(client, sim, Protocol.OPENAI)
    _, without = _stream(client, sim, Protocol.OPENAI, usage=False)

    assert with_usage[-1].data == without[-1].data == "[DONE]"
    usage_chunk = with_usage[-2].data
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == whole["usage"]
    assert all(e.data["usage"] is None for e in with_usage[:-2])
    assert all("usage" not in e.data for e in without[:-1])
    assert without[-2].data["choices"][0]["finish_reason"] == "stop"
    assert with_usage[0].data["choices"][0]["delta"]["role"] == "assistant"


def test_gemini_last_event_has_the_finish_and_the_final_usage(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    whole = call(client, sim, Protocol.GOOGLE).json()

    _, events = _stream(client, sim, Protocol.GOOGLE)

    assert usage_of(Protocol.GOOGLE, events[-1].data) == usage_of(Protocol.GOOGLE, whole)
    assert events[-1].data["candidates"][0]["finishReason"] == "STOP"
    assert all("finishReason" not in e.data["candidates"][0] for e in events[:-1])
    counts = [e.data["usageMetadata"]["candidatesTokenCount"] for e in events]
    assert counts == sorted(counts)


def test_gemini_without_alt_sse_streams_one_json_array(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    url, headers, body = build(sim, Protocol.GOOGLE)
    response = client.post(
        url.replace(":generateContent", ":streamGenerateContent"), headers=headers, json=body
    )

    chunks = response.json()
    assert isinstance(chunks, list)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_openai_refuses_stream_options_without_a_stream(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    url, headers, body = build(sim, Protocol.OPENAI)
    body["stream_options"] = {"include_usage": True}

    response = client.post(url, headers=headers, json=body)

    assert response.status_code == 400
    assert "stream_options" in response.json()["error"]["message"]


# -- errors inside an HTTP 200 -----------------------------------------------------


def _error_of(protocol: Protocol, event: Event) -> tuple[Any, Any]:
    """(status or code, type) of a stream's error event."""
    error = event.data["error"]
    if protocol is Protocol.ANTHROPIC:
        assert event.name == "error"
        assert event.data["type"] == "error"
        return None, error["type"]
    if protocol is Protocol.OPENAI:
        return error["code"], error["type"]
    return error["code"], error["status"]


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        (Protocol.ANTHROPIC, (None, "overloaded_error")),
        (Protocol.OPENAI, (529, "server_error")),  # OpenRouter's numeric code
        (Protocol.GOOGLE, (529, "INTERNAL")),
    ],
    ids=["anthropic", "openai", "google"],
)
def test_an_in_band_fault_ends_a_stream_with_the_providers_error_event(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol, expected: tuple[Any, Any]
) -> None:
    sim.inject(Fault.in_band(529))

    response, events = _stream(client, sim, protocol)

    assert response.status_code == 200
    assert _error_of(protocol, events[-1]) == expected
    assert _text(protocol, events[:-1])  # some text arrived before the error
    assert sim.requests[-1].fault is FaultKind.IN_BAND
    assert sim.requests[-1].status == 200


@pytest.mark.parametrize("protocol", ALL, ids=lambda p: p.value)
def test_an_in_band_fault_on_a_whole_reply_is_an_error_body_with_status_200(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    sim.inject(Fault.in_band(502, message="upstream failed"))

    response = call(client, sim, protocol)

    assert response.status_code == 200
    assert response.json()["error"]["message"] == "upstream failed"


def test_an_in_band_fault_needs_a_status_and_takes_no_delay() -> None:
    with pytest.raises(ValueError, match="status"):
        Fault(kind=FaultKind.IN_BAND)
    with pytest.raises(ValueError, match="delay_ms"):
        Fault(kind=FaultKind.IN_BAND, status=500, delay_ms=10)


@pytest.mark.parametrize("protocol", ALL, ids=lambda p: p.value)
def test_an_invalid_json_fault_cuts_a_stream_short(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    _, whole = _stream(client, sim, protocol)
    sim.inject(Fault.invalid_json())

    response, cut = _stream(client, sim, protocol)

    assert response.status_code == 200
    assert 0 < len(cut) < len(whole)
    assert [e.name for e in cut] == [e.name for e in whole[: len(cut)]]
    assert _text(protocol, whole).startswith(_text(protocol, cut))
