"""Breaker transitions as Prefect events, so Prefect Automations can alert on them.

    byok.breaker.opened       closed or half-open → open
    byok.breaker.half-opened  open → half-open (the cool-down is over, probing)
    byok.breaker.closed       half-open → closed (the probes succeeded)

The resource is the breaker, `byok.breaker.<provider>.<model>.<key id>`, with
its parts as labels; the payload holds the counts and times. Ids and numbers
only: an automation can match `byok.breaker.opened` for resource
`byok.breaker.openai.*` and page someone, and nothing in the event can leak
a key or content. Only the worker whose compare-and-set made the transition
emits it, so each transition is announced once however many workers raced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect.events import emit_event

from providers.breaker.state import Breaker, BreakerKey, Circuit

__all__ = ["EVENT_NAMES", "Emit", "emit_transition", "transition_event"]

EVENT_NAMES = {
    Circuit.OPEN: "byok.breaker.opened",
    Circuit.HALF_OPEN: "byok.breaker.half-opened",
    Circuit.CLOSED: "byok.breaker.closed",
}

Emit = Callable[[BreakerKey, Breaker, Breaker], None]
"""How a transition is announced: (key, before, after); injected in tests."""


def transition_event(key: BreakerKey, before: Breaker, after: Breaker) -> dict[str, Any]:
    """The keyword arguments of `prefect.events.emit_event` for one transition."""
    return {
        "event": EVENT_NAMES[after.circuit],
        "resource": {
            "prefect.resource.id": key.resource_id,
            "prefect.resource.name": f"{key.provider}:{key.model}",
            "byok.provider": key.provider,
            "byok.model": key.model,
            "byok.key-id": key.key_id,
        },
        "payload": {
            "from": before.circuit.value,
            "to": after.circuit.value,
            "reason": after.reason,
            "last_failure": after.last_failure,
            "consecutive_failures": after.consecutive_failures,
            "window_calls": after.window_calls,
            "window_failures": after.window_failures,
            "times_opened": after.times_opened,
            "retry_at": after.retry_at,
        },
    }


def emit_transition(key: BreakerKey, before: Breaker, after: Breaker) -> None:
    """Send the transition to Prefect's event stream (a no-op with no Prefect API)."""
    emit_event(**transition_event(key, before, after))
