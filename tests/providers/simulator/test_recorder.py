"""What the simulator remembers about each call, and what it never keeps."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace

import httpx

from providers.simulator import RecordedRequest, Recorder, SimulatorServer, key_fingerprint
from providers.types import Protocol
from tests.providers.simulator.calls import KEY, acall, build, call


def test_each_call_is_recorded_with_its_body_and_a_key_fingerprint(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    _, _, sent = build(sim, Protocol.ANTHROPIC, "Classify this")

    response = call(client, sim, Protocol.ANTHROPIC, "Classify this")

    (record,) = sim.requests
    assert record.protocol is Protocol.ANTHROPIC
    assert (record.model, record.path, record.status) == ("claude-haiku-4-5", "/v1/messages", 200)
    assert record.body == sent
    assert record.request_id == response.headers["request-id"]
    assert record.key_fingerprint == hashlib.sha256(KEY.encode()).hexdigest()
    assert record.key_fingerprint == key_fingerprint(KEY)
    assert record.key_in_url is False
    assert record.started <= record.ended


def test_the_raw_key_and_the_prompt_stay_out_of_the_record_repr(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    call(client, sim, Protocol.OPENAI, "private prompt text")

    (record,) = sim.requests

    assert KEY not in repr(record)
    assert "private prompt text" not in repr(record)
    assert KEY not in str(record.to_json())


def test_a_rotated_key_shows_up_as_a_new_fingerprint(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    call(client, sim, Protocol.GOOGLE, key="old-key")
    call(client, sim, Protocol.GOOGLE, key="new-key")

    old, new = sim.requests

    assert (old.key_fingerprint, new.key_fingerprint) == (
        key_fingerprint("old-key"),
        key_fingerprint("new-key"),
    )


async def test_concurrent_calls_overlap_in_time(
    sim: SimulatorServer, aclient: httpx.AsyncClient
) -> None:
    sim.settings = replace(sim.settings, latency_ms=150)

    responses = await asyncio.gather(*(acall(aclient, sim, protocol) for protocol in Protocol))

    assert [r.status_code for r in responses] == [200, 200, 200]
    records = sim.requests
    assert len(records) == 3
    assert max(r.started for r in records) < min(r.ended for r in records)
    assert all(r.ended - r.started >= 0.15 for r in records)


def test_latency_can_differ_per_provider(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.settings = replace(sim.settings, provider_latency_ms={Protocol.GOOGLE: 100})

    call(client, sim, Protocol.GOOGLE)
    call(client, sim, Protocol.ANTHROPIC)

    slow, fast = sim.requests
    assert slow.ended - slow.started >= 0.1
    assert fast.ended - fast.started < slow.ended - slow.started


def test_records_are_numbered_in_order_of_arrival(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    for protocol in Protocol:
        call(client, sim, protocol)

    records = sim.requests

    assert [r.protocol for r in records] == list(Protocol)
    assert [r.seq for r in records] == sorted(r.seq for r in records)
    assert sim.clear_requests() == 3
    assert sim.requests == ()


def test_the_recorder_keeps_only_the_newest_records() -> None:
    recorder = Recorder(max_records=2)
    template = _record(seq=0)

    for _ in range(3):
        recorder.add(replace(template, seq=recorder.next_seq()))

    assert [r.seq for r in recorder.requests()] == [2, 3]


def _record(seq: int) -> RecordedRequest:
    return RecordedRequest(
        seq=seq,
        protocol=Protocol.OPENAI,
        model="m",
        path="/v1/chat/completions",
        started=0.0,
        ended=0.0,
        key_fingerprint=None,
        key_in_url=False,
        body=None,
        status=200,
        fault=None,
        request_id=None,
    )
