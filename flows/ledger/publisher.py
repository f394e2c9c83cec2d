"""Sending a run's cost artifact while Prefect finishes the run, when someone waits after it.

Storing a keyed table artifact costs a `prefect server` on PostgreSQL 20–50 ms
(its insert and the key's collection update), as much as the rest of a short
run's end. Sent from the flow body, all of it sat on the run's critical path.
Two ways of moving it were measured and dropped (alternating with the inline
send on a 10-step chain against that server): a Prefect state hook saved
nothing, because hooks run before the engine finishes the run; a worker
thread was slower, because its blocking client waited for the GIL behind the
engine's own work (96 ms per artifact instead of ~30).

What is left is the run's own event loop: when the caller is `run_recipe`
(`byok run`, `byok demo`, Python callers), the flow body starts sending the
artifact as a task on the loop and returns; Prefect records the final state
and tears the run down meanwhile, and `run_recipe` returns only once the
artifact was sent (or its failure logged), so the caller finds it. A flow run
that nobody in its process waits for (a deployment's worker, `byok serve`)
sends it from the flow body as before: its process may end with the run, and
asyncio cancels the tasks it leaves behind.

The background send uses a client of its own, created in the caller's context
(its Prefect settings, no run context): the run's client is closed as the run
ends. Prefect builds a TLS context for each client it opens (~20 ms of CPU
loading the CA file, more than sending the artifact), so the client gets the
same context Prefect would build, built once per CA file.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.actions import ArtifactCreate

__all__ = ["collect_artifacts", "publish"]

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Collector:
    """Where a waiting caller gathers its runs' artifact sends."""

    context: contextvars.Context  # the caller's: its settings, no run context
    sending: list[asyncio.Task[None]] = field(default_factory=list)


_collector: contextvars.ContextVar[_Collector | None] = contextvars.ContextVar(
    "byok_artifact_collector", default=None
)


@asynccontextmanager
async def collect_artifacts() -> AsyncIterator[None]:
    """Runs started inside the block send their artifact in the background; wait at its end."""
    collector = _Collector(contextvars.copy_context())
    token = _collector.set(collector)
    try:
        yield
    finally:
        _collector.reset(token)
        await asyncio.gather(*collector.sending)  # each send logs its own failure


async def publish(artifact: ArtifactCreate, run_client: PrefectClient | None) -> None:
    """Send `artifact`: in the background if a caller collects it, else now with `run_client`."""
    collector = _collector.get()
    if collector is None:
        await _send(artifact, run_client)
        return
    loop = asyncio.get_running_loop()
    collector.sending.append(loop.create_task(_send(artifact, None), context=collector.context))


async def _send(artifact: ArtifactCreate, client: PrefectClient | None) -> None:
    try:
        if client is not None:
            await client.create_artifact(artifact=artifact)
            return
        from prefect.client.orchestration import get_client

        async with get_client(httpx_settings=_shared_tls()) as own:
            await own.create_artifact(artifact=artifact)
    except Exception as error:
        # Ids and the error's type only: its text may quote the request.
        _log.warning(
            "could not publish the cost artifact of flow run %s (%s); the ledger has every call",
            artifact.flow_run_id,
            type(error).__name__,
        )


def _shared_tls() -> dict[str, Any] | None:
    """The TLS context Prefect would build for a client, built once per CA file."""
    import certifi
    from prefect.settings import PREFECT_API_SSL_CERT_FILE, PREFECT_API_TLS_INSECURE_SKIP_VERIFY

    if PREFECT_API_TLS_INSECURE_SKIP_VERIFY.value():
        return None  # Prefect's own unverified context: nothing to save worth the risk
    return {"verify": _verifying_context(PREFECT_API_SSL_CERT_FILE.value() or certifi.where())}


@cache
def _verifying_context(cafile: str) -> ssl.SSLContext:
    # What `PrefectClient.__init__` builds for every client it opens.
    return ssl.create_default_context(cafile=cafile)
