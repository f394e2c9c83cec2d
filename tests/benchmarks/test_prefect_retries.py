"""The harness counts Prefect client retries without letting Prefect's DEBUG lines out."""

from __future__ import annotations

import logging

import pytest

from tests.benchmarks.prefect_retries import counting_prefect_retries


def test_retries_are_counted_and_debug_lines_stay_hidden(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("prefect.client")
    with caplog.at_level(logging.INFO, logger="prefect.client"):
        with counting_prefect_retries() as retries:
            logger.debug("Connecting to API at http://127.0.0.1:1/api/")
            logger.debug(
                "Received response with retryable status code 503. Another attempt will "
                "be made in 2.1s. This is attempt 1/6."
            )
            logger.warning("still shown")
        assert retries() == 1
        assert logger.level == logging.INFO  # the level it had before

    assert [r.getMessage() for r in caplog.records if r.name == "prefect.client"] == ["still shown"]
