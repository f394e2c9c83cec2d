"""Prefect API clients kept open across the recipe runs of one event loop.

Every flow run Prefect starts outside a client context opens two API clients
of its own, an async one for the run and a sync one to look up the server's
default result storage, and each builds a TLS context from certifi's CA bundle
(about 16 ms of CPU apiece, even for a plain-HTTP API) and a new connection
pool. A process that runs recipes one after another (a service embedding
`run_recipe`, the benchmarks) paid that on every run: about 3 ms of CPU per
step of a 10-step chain. Prefect reuses the clients of an enclosing
`AsyncClientContext` and `SyncClientContext` (for the async one, if it belongs
to the running loop), so `run_recipe` runs each flow inside copies of
contexts that hold one pair of clients per event loop and API.

The pair is opened by an async generator of the loop, so the loop's
`shutdown_asyncgens` (which `asyncio.run` calls on the way out) closes both
clients. Clients are per API (URL, credentials, TLS settings): a change of
`PREFECT_API_URL` gets its own pair, never the old server's.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prefect.context import AsyncClientContext, SyncClientContext
from prefect.settings import get_current_settings

__all__ = ["reused_prefect_clients"]


class _HeldClients:
    """One async and one sync client for one API, held open by an async generator."""

    def __init__(self, by_api: dict[str, _HeldClients], identity: str) -> None:
        self.async_context = AsyncClientContext()
        self.sync_context = SyncClientContext()
        self._holder = self._keep_open(by_api, identity)
        self._opened = False
        self._failed = False
        self._opening = asyncio.Lock()

    async def open(self) -> None:
        """Start both clients once; later calls return at once."""
        async with self._opening:
            if self._failed:  # a caller that waited on a failed start
                raise RuntimeError("Prefect's API clients could not be started; try again")
            if not self._opened:
                try:
                    await anext(self._holder)
                except BaseException:
                    self._failed = True  # the holder has already forgotten itself
                    raise
                self._opened = True

    async def _keep_open(
        self, by_api: dict[str, _HeldClients], identity: str
    ) -> AsyncIterator[None]:
        # Suspended at `yield` for the loop's lifetime; the loop's shutdown_asyncgens
        # resumes it with aclose(), which closes both clients and forgets them (the
        # client refers to its loop, so a remembered pair would keep the loop alive).
        try:
            async with self.async_context.client:
                with self.sync_context.client:
                    yield
        finally:
            if by_api.get(identity) is self:
                del by_api[identity]


_held: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _HeldClients]] = (
    weakref.WeakKeyDictionary()
)


def _api_identity() -> str:
    """What a client is bound to: the API URL, its credentials and TLS settings (hashed)."""
    api = get_current_settings().api
    parts = (
        str(api.url or ""),
        api.key.get_secret_value() if api.key else "",
        api.auth_string.get_secret_value() if api.auth_string else "",
        str(api.tls_insecure_skip_verify),
        str(api.ssl_cert_file or ""),
    )
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@asynccontextmanager
async def reused_prefect_clients() -> AsyncIterator[None]:
    """Make flow runs started inside use this loop's held clients for the current API.

    A caller that already entered a Prefect client context keeps its own.
    """
    if AsyncClientContext.get() is not None or SyncClientContext.get() is not None:
        yield
        return
    loop = asyncio.get_running_loop()
    by_api = _held.setdefault(loop, {})
    identity = _api_identity()
    held = by_api.get(identity)
    if held is None:
        held = by_api[identity] = _HeldClients(by_api, identity)
    await held.open()
    # Copies share the clients; entering one makes it current for this call only.
    async with held.async_context.model_copy():
        with held.sync_context.model_copy():
            yield
