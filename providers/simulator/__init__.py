"""A local stand-in for the Anthropic, OpenAI and Gemini APIs, on loopback.

It answers the same paths the official SDKs call, with deterministic replies,
realistic token usage, configurable latency and injected faults (error
statuses with retry hints, dropped connections, slow replies, invalid JSON),
and records every call. The demo, the tests and the benchmarks talk to it
instead of a paid provider; `byok simulator --port N` runs it standalone.

    Fault, FaultPlan     what goes wrong, for which calls, how many times
    SimulatorServer      the server in a background thread, with a Python API
    create_app           the ASGI app, for embedding in another server
    RecordedRequest      what a call looked like, for assertions
"""

from __future__ import annotations

from providers.simulator.app import SimulatorState, create_app
from providers.simulator.faults import Fault, FaultKind, FaultPlan, PendingFault
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
    "key_fingerprint",
]
