"""Circuit breakers shared by every worker: stop calling a provider that keeps failing.

One breaker per (provider, model, vault key id), its state in the BYOK
database so a whole fleet of workers opens, probes and closes it together.

errors.py    CircuitOpenError: the call was refused without being sent
policy.py    trip conditions (ConsecutiveFailures | FailureRate), BreakerPolicy
state.py     the pure state machine: admit() and record()
models.py    the `circuit_breakers` table (migrations/versions, branch "breaker")
store.py     BreakerStore: atomic compare-and-set changes, reads for the CLI
events.py    transitions as Prefect events (byok.breaker.opened, …)
settings.py  BYOK_BREAKER_* environment variables → BreakerPolicy
hook.py      BreakerHook: the call hook the engine wires first
"""

from typing import TYPE_CHECKING

from providers.breaker.errors import CircuitOpenError
from providers.breaker.policy import (
    DEFAULT_BREAKER_POLICY,
    BreakerPolicy,
    ConsecutiveFailures,
    FailureCounts,
    FailureRate,
    TripAny,
    TripCondition,
)
from providers.breaker.state import Admission, Breaker, BreakerKey, CallResult, Circuit
from providers.lazy import lazy_attributes

if TYPE_CHECKING:
    from providers.breaker.store import BreakerContentionError, BreakerStore, Change

__all__ = [
    "DEFAULT_BREAKER_POLICY",
    "Admission",
    "Breaker",
    "BreakerContentionError",
    "BreakerKey",
    "BreakerPolicy",
    "BreakerStore",
    "CallResult",
    "Change",
    "Circuit",
    "CircuitOpenError",
    "ConsecutiveFailures",
    "FailureCounts",
    "FailureRate",
    "TripAny",
    "TripCondition",
]


# The store (SQLAlchemy) is imported on first use, so reading the state machine is cheap.
_STORE = "providers.breaker.store"
__getattr__ = lazy_attributes(
    __name__, {"BreakerContentionError": _STORE, "BreakerStore": _STORE, "Change": _STORE}
)
