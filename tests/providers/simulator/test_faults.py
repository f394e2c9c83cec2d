"""Injected faults look to a client exactly like the real failure would."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from pydantic import ValidationError

from providers.simulator import Fault, FaultKind, SimulatorServer
from providers.types import Protocol
from tests.providers.simulator.calls import MODELS, build, call, text_of

ALL = list(Protocol)


def test_anthropic_rate_limit_has_its_error_body_and_retry_after(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.error(429, retry_after_s=3))

    response = call(client, sim, Protocol.ANTHROPIC)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["request-id"].startswith("req_")
    assert response.json() == {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "Simulated error 429 injected by the byok simulator.",
        },
    }


def test_openai_rate_limit_has_its_error_body_and_retry_hints(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.error(429, retry_after_s=1.5, retry_after_ms=1500))

    response = call(client, sim, Protocol.OPENAI)

    assert response.status_code == 429
    assert (response.headers["retry-after"], response.headers["retry-after-ms"]) == ("1.5", "1500")
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "requests",
        "rate_limit_exceeded",
        None,
    )


def test_gemini_rate_limit_states_the_wait_in_retry_info(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.error(429, retry_after_s=7))

    response = call(client, sim, Protocol.GOOGLE)

    assert response.status_code == 429
    assert "retry-after" not in response.headers
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert error["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}
    ]


@pytest.mark.parametrize(
    ("protocol", "status", "expected"),
    [
        (Protocol.ANTHROPIC, 529, ("error", "type", "overloaded_error")),
        (Protocol.ANTHROPIC, 500, ("error", "type", "api_error")),
        (Protocol.OPENAI, 500, ("error", "type", "server_error")),
        (Protocol.OPENAI, 401, ("error", "code", "invalid_api_key")),
        (Protocol.GOOGLE, 503, ("error", "status", "UNAVAILABLE")),
        (Protocol.GOOGLE, 400, ("error", "status", "INVALID_ARGUMENT")),
    ],
)
def test_each_status_gets_the_provider_error_type(
    sim: SimulatorServer,
    client: httpx.Client,
    protocol: Protocol,
    status: int,
    expected: tuple[str, str, str],
) -> None:
    sim.inject(Fault.error(status))

    response = call(client, sim, protocol)

    outer, field, value = expected
    assert response.status_code == status
    assert response.json()[outer][field] == value
    assert "retry-after" not in response.headers


def test_error_type_code_and_message_can_be_chosen(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(
        Fault.error(429, error_type="insufficient_quota", message="You exceeded your quota.")
    )

    response = call(client, sim, Protocol.OPENAI)

    assert response.json()["error"] == {
        "message": "You exceeded your quota.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }


@pytest.mark.parametrize("protocol", ALL)
def test_a_dropped_connection_is_a_transport_error(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    sim.inject(Fault.drop())

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        call(client, sim, protocol)

    assert call(client, sim, protocol).status_code == 200
    dropped, answered = sim.requests
    assert (dropped.status, dropped.fault) == (None, FaultKind.DROP)
    assert (answered.status, answered.fault) == (200, None)


@pytest.mark.parametrize("protocol", ALL)
def test_invalid_json_arrives_with_status_200(
    sim: SimulatorServer, client: httpx.Client, protocol: Protocol
) -> None:
    sim.inject(Fault.invalid_json())

    response = call(client, sim, protocol)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_a_slow_reply_trips_the_client_timeout_without_waiting_it_out(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.slow(10_000))
    url, headers, body = build(sim, Protocol.ANTHROPIC)
    started = time.monotonic()

    with pytest.raises(httpx.ReadTimeout):
        client.post(url, headers=headers, json=body, timeout=0.2)

    assert time.monotonic() - started < 5  # the client gave up; nobody waited 10 s
    assert call(client, sim, Protocol.ANTHROPIC).status_code == 200


def test_a_slow_reply_within_the_timeout_is_answered_late(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.slow(80))

    response = call(client, sim, Protocol.OPENAI)

    assert response.status_code == 200
    record = sim.requests[-1]
    assert record.fault is FaultKind.SLOW
    assert record.ended - record.started >= 0.08


def test_a_fault_fires_for_the_next_n_calls_only(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.error(503, times=2))

    statuses = [call(client, sim, Protocol.OPENAI).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert sim.pending_faults == ()


def test_a_fault_without_a_limit_fires_until_cleared(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.error(500, times=None))

    statuses = [call(client, sim, Protocol.GOOGLE).status_code for _ in range(3)]
    assert sim.clear_faults() == 1
    statuses.append(call(client, sim, Protocol.GOOGLE).status_code)

    assert statuses == [500, 500, 500, 200]


def test_a_fault_targets_only_its_provider_and_model(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.error(500, provider="openai", model="gpt-5-mini"))

    other_protocol = call(client, sim, Protocol.ANTHROPIC, model="gpt-5-mini")
    other_model = call(client, sim, Protocol.OPENAI, model="gpt-5-nano")
    target = call(client, sim, Protocol.OPENAI, model="gpt-5-mini")

    assert (other_protocol.status_code, other_model.status_code) == (200, 200)
    assert target.status_code == 500


def test_gemini_faults_match_the_model_in_the_url(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.error(429, model=MODELS[Protocol.GOOGLE]))

    assert call(client, sim, Protocol.GOOGLE, model="gemini-2.5-pro").status_code == 200
    assert call(client, sim, Protocol.GOOGLE).status_code == 429


def test_faults_fire_in_the_order_they_were_added(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.inject(Fault.error(429), Fault.invalid_json())

    first = call(client, sim, Protocol.ANTHROPIC)
    second = call(client, sim, Protocol.ANTHROPIC)
    third = call(client, sim, Protocol.ANTHROPIC)

    assert first.status_code == 429
    assert second.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        second.json()
    assert text_of(Protocol.ANTHROPIC, third.json()).startswith("[sim ")


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "status"},
        {"kind": "slow"},
        {"kind": "drop", "retry_after_s": 1},
        {"kind": "status", "status": 200},
        {"kind": "status", "status": 429, "times": 0},
        {"kind": "explode"},
        {"kind": "drop", "provider": "cohere"},
        {"kind": "drop", "surprise": True},
    ],
)
def test_a_fault_that_makes_no_sense_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Fault.model_validate(fields)
