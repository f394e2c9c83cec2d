"""A local stand-in for the Anthropic, OpenAI and Gemini APIs, on loopback.

It answers the same paths the official SDKs call (Azure OpenAI's and
OpenRouter's too), with deterministic replies, streamed or not, realistic
token usage, configurable latency and injected faults (error statuses with
retry hints, errors inside an HTTP 200 or mid-stream, dropped connections,
slow replies, invalid JSON), and records every call. The demo, the tests and
the benchmarks talk to it instead of a paid provider; `byok simulator --port N`
runs it standalone.

    Fault, FaultPlan     what goes wrong, for which calls, how many times
    SimulatorServer      the server in a background thread, with a Python API
    create_app           the ASGI app, for embedding in another server
    RecordedRequest      what a call looked like, for assertions
    instance_for         the deterministic JSON value a schema gets as structured output
"""

from __future__ import annotations

from providers.simulator.app import SimulatorState, create_app
from providers.simulator.faults import Fault, FaultKind, FaultPlan, PendingFault
from providers.simulator.instances import instance_for
from providers.simulator.recorder import RecordedRequest, Recorder, key_fingerprint
from providers.simulator.replies import count_tokens
from providers.simulator.server import SimulatorServer
from providers.simulator.settings import SimulatorSettings

__all__ = [
    "Fault",
    "FaultKind",
    "FaultPlan",
    "PendingFault",
    "RecordedRequest",
    "Recorder",
    "SimulatorServer",
    "SimulatorSettings",
    "SimulatorState",
    "count_tokens",
    "create_app",
    "instance_for",
    "key_fingerprint",
]
