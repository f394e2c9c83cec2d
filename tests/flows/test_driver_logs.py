"""Database drivers stay quiet at DEBUG, in our processes and in Prefect's (the entry point).

The privacy suite (`tests/privacy/`) shows the effect end to end: no flow
parameter in `byok run`'s stderr or a Prefect server's log with every logger
at DEBUG. These check the two halves it relies on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from prefect.plugins import load_prefect_collections

from flows.driver_logs import PARAMETER_LOGGERS, quiet_parameter_loggers


@pytest.fixture
def driver_levels() -> Iterator[None]:
    """The drivers' and the root's levels put back after the test."""
    loggers = [logging.getLogger(name) for name in PARAMETER_LOGGERS]
    saved = [logger.level for logger in loggers]
    root = logging.getLogger().level
    yield
    for logger, level in zip(loggers, saved, strict=True):
        logger.setLevel(level)
    logging.getLogger().setLevel(root)


@pytest.mark.usefixtures("driver_levels")
def test_a_root_logger_at_debug_does_not_make_aiosqlite_log_statements() -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger("aiosqlite").setLevel(logging.NOTSET)
    quiet_parameter_loggers()
    assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("aiosqlite").isEnabledFor(logging.INFO)


@pytest.mark.usefixtures("driver_levels")
def test_a_level_set_on_purpose_is_kept() -> None:
    logging.getLogger("aiosqlite").setLevel(logging.DEBUG)
    quiet_parameter_loggers()
    assert logging.getLogger("aiosqlite").level == logging.DEBUG


def test_prefect_loads_our_collection_in_its_processes() -> None:
    loaded = load_prefect_collections()
    assert "byok-flows" in loaded
    assert not isinstance(loaded["byok-flows"], Exception)
