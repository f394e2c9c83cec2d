"""Counting the API requests Prefect's client had to retry, to measure those runs again.

Prefect's test server keeps its database in SQLite and answers a write that
collides with its own background writes (the previous run's events) with
`503 database is locked`; the client then waits about 2 s (exponential
back-off from 2 s, with jitter) and retries. Which variant's run hits it
depends on what ran just before, so one such run in a handful moves a median
by a second and says nothing about the variant. The client logs each retry at
DEBUG on `prefect.client`; a filter there counts them (and lets no DEBUG line
through, so the console and the captured logs stay as they were).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PrefectRetries", "counting_prefect_retries"]

_LOGGER = "prefect.client"
_RETRY = "Another attempt will be made"


class PrefectRetries(logging.Filter):
    """A filter for `prefect.client` that counts retried requests."""

    def __init__(self, passes_from: int) -> None:
        super().__init__()
        self.count = 0
        self._passes_from = passes_from

    def __call__(self) -> int:
        """How many requests Prefect's client has retried so far."""
        return self.count

    def filter(self, record: logging.LogRecord) -> bool:
        """Count a retry; pass only what the logger's own level let through before."""
        if _RETRY in record.getMessage():
            self.count += 1
        return record.levelno >= self._passes_from


@contextmanager
def counting_prefect_retries() -> Iterator[PrefectRetries]:
    """Count Prefect client retries inside the block."""
    logger = logging.getLogger(_LOGGER)
    level = logger.level
    retries = PrefectRetries(passes_from=logger.getEffectiveLevel())
    logger.addFilter(retries)
    logger.setLevel(logging.DEBUG)
    try:
        yield retries
    finally:
        logger.setLevel(level)
        logger.removeFilter(retries)
