"""A plain httpx client per test; the simulator itself is the suite's `sim` fixture.

`sim` (tests/conftest.py) is one session-wide server, reset before and after
every test, so these tests pay for one server start in total.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


@pytest.fixture
async def aclient() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as http:
        yield http
