"""Live keys never reach a log record, in any common encoding, from any logger."""

from __future__ import annotations

import base64
import gc
import io
import json
import logging
from urllib.parse import quote

import pytest

from providers import redaction
from providers.secret import SecretKey

CANARY = "sk-canary-7f3e9a1c2b4d6e8f0a1b2c3d"


@pytest.fixture
def captured() -> logging.Logger:
    redaction.install()
    logger = logging.getLogger("test.redaction")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.handlers = [logging.StreamHandler(io.StringIO())]
    return logger


def _output(logger: logging.Logger) -> str:
    stream = logger.handlers[0].stream  # type: ignore[attr-defined]
    value: str = stream.getvalue()
    return value


@pytest.mark.parametrize(
    "form",
    [
        CANARY,
        quote(CANARY, safe=""),
        json.dumps(CANARY),
        CANARY.encode().hex(),
        base64.b64encode(f"user:{CANARY}".encode()).decode(),  # a Basic auth header
        base64.b64encode(f"ab{CANARY}".encode()).decode(),
        base64.urlsafe_b64encode(f"x{CANARY}!".encode()).decode(),
    ],
)
def test_every_encoding_of_a_live_key_is_redacted(captured: logging.Logger, form: str) -> None:
    key = SecretKey(CANARY)
    captured.warning("request failed: headers=%s", {"authorization": f"Bearer {form}"})
    text = _output(captured)
    assert redaction.REDACTED in text
    assert CANARY not in text
    assert form not in text
    del key


def test_tracebacks_are_redacted_too(captured: logging.Logger) -> None:
    key = SecretKey(CANARY)
    try:
        raise RuntimeError(f"server echoed x-api-key: {CANARY}")
    except RuntimeError:
        captured.exception("call failed")
    text = _output(captured)
    assert "RuntimeError" in text
    assert CANARY not in text
    del key


def test_a_collected_key_is_no_longer_tracked() -> None:
    key = SecretKey("sk-short-lived-0123456789")
    assert redaction.redact("sk-short-lived-0123456789") == redaction.REDACTED
    del key
    gc.collect()
    assert redaction.redact("sk-short-lived-0123456789") == "sk-short-lived-0123456789"


def test_ordinary_text_is_untouched(captured: logging.Logger) -> None:
    key = SecretKey(CANARY)
    captured.info("step %s finished with %d tokens", "extract", 42)
    assert _output(captured).strip() == "step extract finished with 42 tokens"
    del key


def test_a_key_too_short_to_be_real_does_not_mangle_text(captured: logging.Logger) -> None:
    key = SecretKey("k")
    captured.info("keys: %s", "kek key k")
    assert _output(captured).strip() == "keys: kek key k"
    del key


def test_an_equal_key_stays_redacted_when_an_earlier_copy_is_collected() -> None:
    # Each step resolves its own SecretKey for the same key: the first step's copy
    # being collected must not stop the redaction of the next step's.
    first = SecretKey("sk-canary-every-step-0123456789")
    second = SecretKey("sk-canary-every-step-0123456789")
    del first
    gc.collect()
    assert redaction.redact("echo sk-canary-every-step-0123456789") == f"echo {redaction.REDACTED}"
    del second


def test_a_key_created_after_a_redaction_is_redacted_from_the_next_record(
    captured: logging.Logger,
) -> None:
    early = SecretKey("sk-canary-early-0123456789abc")
    captured.info("first %s", "sk-canary-early-0123456789abc")
    late = SecretKey("sk-canary-late-0123456789abcde")
    captured.info(
        "then %s and %s", "sk-canary-early-0123456789abc", "sk-canary-late-0123456789abcde"
    )
    text = _output(captured)
    assert "canary-early" not in text
    assert "canary-late" not in text
    assert text.count(redaction.REDACTED) == 3
    del early, late
