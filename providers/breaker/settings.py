"""The breaker policy a worker uses, from its environment (read once per run).

    BYOK_BREAKER              `on` (default) or `off`
    BYOK_BREAKER_FAILURES     consecutive health failures that open it (default 5)
    BYOK_BREAKER_FAILURE_RATE share of failed calls in the window that opens it (0.5)
    BYOK_BREAKER_MIN_CALLS    calls the window needs before the rate counts (20)
    BYOK_BREAKER_WINDOW_S     seconds the counts are kept before starting over (60)
    BYOK_BREAKER_COOL_DOWN_S  seconds an open breaker refuses every call (30)
    BYOK_BREAKER_PROBES       calls let through to test a recovering provider (1)
    BYOK_BREAKER_REFRESH_S    seconds a run may admit calls to a closed breaker on the
                              state it last read or wrote, without reading it again
                              (1; 0 reads the shared row before every call)

Every worker sharing a database should use the same values: the state is
shared, the policy is each worker's own. `BYOK_BREAKER_REFRESH_S` is not
part of the policy: it says how stale a run's view of the shared state may
be (another worker's opening of a breaker reaches a run within that many
seconds), not how the breaker behaves, so workers may differ in it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import TypeVar

from providers.breaker.policy import BreakerPolicy, ConsecutiveFailures, FailureRate

__all__ = ["DEFAULT_REFRESH_S", "BreakerSettingsError", "policy_from_env", "refresh_from_env"]

N = TypeVar("N", int, float)

_DEFAULTS = BreakerPolicy()

DEFAULT_REFRESH_S = 1.0
"""How long a run trusts the closed breaker it last read or wrote (`BreakerHook`)."""


class BreakerSettingsError(ValueError):
    """A BYOK_BREAKER_* variable has a value the breaker cannot use."""


def policy_from_env(environ: Mapping[str, str] | None = None) -> BreakerPolicy | None:
    """The configured policy, or None when `BYOK_BREAKER=off`."""
    env = os.environ if environ is None else environ
    switch = env.get("BYOK_BREAKER", "on").strip().lower()
    if switch in ("off", "0", "false", "no"):
        return None
    if switch not in ("on", "1", "true", "yes"):
        raise BreakerSettingsError(f"BYOK_BREAKER must be 'on' or 'off', got {switch!r}")
    failures = _read(env, "BYOK_BREAKER_FAILURES", int, 5, minimum=1)
    rate = _read(env, "BYOK_BREAKER_FAILURE_RATE", float, 0.5, minimum=0.01, maximum=1.0)
    min_calls = _read(env, "BYOK_BREAKER_MIN_CALLS", int, 20, minimum=1)
    return BreakerPolicy(
        trip=ConsecutiveFailures(failures) | FailureRate(rate, min_calls=min_calls),
        window_s=_read(env, "BYOK_BREAKER_WINDOW_S", float, _DEFAULTS.window_s, minimum=1.0),
        cool_down_s=_read(
            env, "BYOK_BREAKER_COOL_DOWN_S", float, _DEFAULTS.cool_down_s, minimum=0.1
        ),
        probes=_read(env, "BYOK_BREAKER_PROBES", int, _DEFAULTS.probes, minimum=1),
        probe_lease_s=_DEFAULTS.probe_lease_s,
    )


def refresh_from_env(environ: Mapping[str, str] | None = None) -> float:
    """`BYOK_BREAKER_REFRESH_S`: how long a run admits from the closed breaker it last saw."""
    env = os.environ if environ is None else environ
    return _read(env, "BYOK_BREAKER_REFRESH_S", float, DEFAULT_REFRESH_S, minimum=0.0)


def _read(
    env: Mapping[str, str],
    name: str,
    kind: Callable[[str], N],
    default: N,
    *,
    minimum: float,
    maximum: float = math.inf,
) -> N:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw.strip())
    except ValueError:
        raise BreakerSettingsError(f"{name} must be {what}, got {raw!r}") from None
    if not (math.isfinite(value) and minimum <= value <= maximum):
        bounds = f"at least {minimum:g}"
        if maximum < math.inf:
            bounds += f" and at most {maximum:g}"
        raise BreakerSettingsError(f"{name} must be {bounds}, got {raw!r}")
    return value
