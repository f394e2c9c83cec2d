"""Per-key rate and concurrency limits, shared by every worker through Prefect.

Providers limit each key (requests per minute, calls in flight); many workers
sharing one key only stay under those limits together if they count
together. Prefect's global concurrency limits do that on the Prefect server,
so this hook uses them, by name, per vault key id:

    byok-key-<key id>        calls in flight with the key (a slot is held
                             for the duration of each HTTP call)
    byok-key-<key id>-rate   calls per period (a rate limit: create it with
                             `--slot-decay-per-second`)

Optional twice over: the hook does nothing unless the worker has
`BYOK_KEY_LIMITS=on`, and then only applies the limits that exist (created
with `prefect gcl create …`), looked up once per run. A call waits for its
slot as long as the limit requires; the wait shows in the Prefect UI's
concurrency-limit page and events, not as a failure.
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import concurrency, rate_limit
from prefect.exceptions import ObjectNotFound

if TYPE_CHECKING:
    from flows.engine.hooks import CallInfo, CallOutcome, RunInfo

__all__ = ["KeyLimitsHook", "concurrency_limit_name", "limits_enabled", "rate_limit_name"]

LIMITS_ENV = "BYOK_KEY_LIMITS"


def concurrency_limit_name(key_id: str) -> str:
    """The global concurrency limit on calls in flight with one key."""
    return f"byok-key-{key_id}"


def rate_limit_name(key_id: str) -> str:
    """The global concurrency limit used as a rate limit for one key."""
    return f"byok-key-{key_id}-rate"


def limits_enabled() -> bool:
    """Whether `BYOK_KEY_LIMITS` turns per-key limits on in this worker."""
    value = os.environ.get(LIMITS_ENV, "off").strip().lower()
    if value in ("on", "1", "true", "yes"):
        return True
    if value in ("off", "0", "false", "no", ""):
        return False
    raise ValueError(f"{LIMITS_ENV} must be 'on' or 'off', got {value!r}")


class KeyLimitsHook:
    """Holds the key's Prefect concurrency slot around each call, after its rate slot."""

    def __init__(self, *, enabled: bool | None = None) -> None:
        self._enabled = limits_enabled() if enabled is None else enabled
        self._exists: dict[str, bool] = {}
        self._held: dict[int, AsyncExitStack] = {}

    async def before_call(self, call: CallInfo) -> None:
        """Wait for the key's rate slot, then take a concurrency slot for the call."""
        if not self._enabled:
            return
        key_id = call.endpoint.key_id
        rate, in_flight = rate_limit_name(key_id), concurrency_limit_name(key_id)
        if await self._exists_(rate):
            await rate_limit(rate, occupy=1)
        if await self._exists_(in_flight):
            stack = AsyncExitStack()
            slot = concurrency(in_flight, occupy=1, raise_on_lease_renewal_failure=False)
            await stack.enter_async_context(slot)
            self._held[id(call)] = stack

    async def after_call(self, call: CallInfo, outcome: CallOutcome) -> None:  # noqa: ARG002
        """Give the concurrency slot back, whatever the outcome."""
        stack = self._held.pop(id(call), None)
        if stack is not None:
            await stack.aclose()

    async def after_run(self, run: RunInfo) -> None:
        """Slots are released per call: nothing left at the end of a run."""

    async def _exists_(self, name: str) -> bool:
        if name not in self._exists:
            async with get_client() as client:
                try:
                    await client.read_global_concurrency_limit_by_name(name)
                except ObjectNotFound:
                    self._exists[name] = False
                else:
                    self._exists[name] = True
        return self._exists[name]
