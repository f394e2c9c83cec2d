"""The HTTP control API: what a test or a script uses when the simulator runs elsewhere."""

from __future__ import annotations

import httpx
import pytest

from providers.simulator import SimulatorServer
from providers.types import Protocol
from tests.providers.simulator.calls import KEY, call


def test_faults_posted_over_http_fire_and_count_down(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    posted = client.post(
        f"{sim.url}/_sim/faults",
        json={
            "kind": "status",
            "status": 429,
            "provider": "openai",
            "times": 2,
            "retry_after_s": 1,
        },
    )

    assert posted.status_code == 201
    assert posted.json()["faults"] == [
        {
            "kind": "status",
            "provider": "openai",
            "times": 2,
            "status": 429,
            "retry_after_s": 1.0,
            "remaining": 2,
        }
    ]
    assert call(client, sim, Protocol.OPENAI).status_code == 429
    assert client.get(f"{sim.url}/_sim/faults").json()["faults"][0]["remaining"] == 1


@pytest.mark.parametrize(
    "payload",
    [
        [{"kind": "drop"}, {"kind": "slow", "delay_ms": 10}],
        {"faults": [{"kind": "drop"}, {"kind": "slow", "delay_ms": 10}]},
    ],
)
def test_several_faults_can_be_posted_at_once(
    sim: SimulatorServer, client: httpx.Client, payload: object
) -> None:
    response = client.post(f"{sim.url}/_sim/faults", json=payload)

    assert response.status_code == 201
    assert [f["kind"] for f in response.json()["faults"]] == ["drop", "slow"]


def test_deleting_faults_clears_the_plan(sim: SimulatorServer, client: httpx.Client) -> None:
    client.post(f"{sim.url}/_sim/faults", json={"kind": "drop", "times": None})

    response = client.delete(f"{sim.url}/_sim/faults")

    assert response.json() == {"cleared": 1}
    assert client.get(f"{sim.url}/_sim/faults").json() == {"faults": []}
    assert call(client, sim, Protocol.ANTHROPIC).status_code == 200


@pytest.mark.parametrize(
    ("payload", "mentions"),
    [
        ({"kind": "status"}, "`status` is required"),
        ({"kind": "slow", "delay_ms": 0}, "delay_ms"),
        ({"kind": "drop", "provider": "cohere"}, "provider"),
        ({"kind": "drop", "retries": 3}, "retries"),
    ],
)
def test_an_invalid_fault_is_refused_with_the_reason(
    sim: SimulatorServer, client: httpx.Client, payload: object, mentions: str
) -> None:
    response = client.post(f"{sim.url}/_sim/faults", json=payload)

    assert response.status_code == 400
    assert mentions in response.json()["error"]
    assert sim.pending_faults == ()


def test_a_fault_body_that_is_not_json_is_refused(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    response = client.post(f"{sim.url}/_sim/faults", content=b"drop please")

    assert response.status_code == 400
    assert "must be JSON" in response.json()["error"]


def test_recorded_requests_are_listed_with_fingerprints_never_keys(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    call(client, sim, Protocol.GOOGLE, "Hello")

    response = client.get(f"{sim.url}/_sim/requests")

    (record,) = response.json()["requests"]
    assert record["protocol"] == "google"
    assert record["model"] == "gemini-2.5-flash"
    assert record["status"] == 200
    assert record["key_in_url"] is False
    assert len(record["key_fingerprint"]) == 64
    assert record["body"]["contents"][0]["parts"][0]["text"] == "Hello"
    assert KEY not in response.text


def test_deleting_requests_empties_the_record(sim: SimulatorServer, client: httpx.Client) -> None:
    call(client, sim, Protocol.OPENAI)

    assert client.delete(f"{sim.url}/_sim/requests").json() == {"cleared": 1}
    assert client.get(f"{sim.url}/_sim/requests").json() == {"requests": []}


def test_control_calls_are_not_recorded_as_provider_calls(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    assert client.get(f"{sim.url}/_sim/health").json() == {"ok": True}
    client.get(f"{sim.url}/_sim/faults")

    assert sim.requests == ()
