"""How the simulator behaves on every call: added latency and the echo switches.

Settings are a frozen value swapped as a whole (`SimulatorServer.settings =
...`), so a request handled on the server thread never sees half an update.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from providers.types import Protocol

__all__ = ["SimulatorSettings"]


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    """Per-call behaviour of the simulator.

    `latency_ms` delays every provider call before it is answered, like a
    network round trip; `provider_latency_ms` overrides it for one protocol.

    The echo switches make the simulator behave like a careless provider or
    proxy, for privacy tests that must prove such text never reaches storage.
    All are off by default, so that a leaked reply or error never carries a
    prompt or a key unless a test asks for it:

    * `echo` appends the last user message to text replies (and puts it in
      an extra `echo` member of structured object replies);
    * `echo_key` appends the API key the call was made with to text replies
      (and to that `echo` member);
    * `echo_errors` appends the last user message and the API key to the
      message of every error body (as "Incorrect API key provided: sk-…" does).
    """

    latency_ms: float = 0.0
    provider_latency_ms: Mapping[Protocol, float] = field(default_factory=dict)
    echo: bool = False
    echo_key: bool = False
    echo_errors: bool = False

    def __post_init__(self) -> None:
        delays = [self.latency_ms, *self.provider_latency_ms.values()]
        if any(delay < 0 for delay in delays):
            raise ValueError("simulator latency cannot be negative: use 0 for none")

    def latency_s(self, protocol: Protocol) -> float:
        """Seconds to wait before answering a call made with `protocol`."""
        return self.provider_latency_ms.get(protocol, self.latency_ms) / 1000.0
