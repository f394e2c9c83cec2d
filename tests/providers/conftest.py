"""One `ProviderClient` per test module: building its TLS context costs ~90 ms per client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from providers.client import ProviderClient


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def provider_client() -> AsyncIterator[ProviderClient]:
    """A pooled client for the module's tests (they all run on the session's loop)."""
    async with ProviderClient() as client:
        yield client
