"""Redacting live provider keys from every log record, in any common encoding.

Keys are never logged on purpose; this is the net under that rule. Every
`SecretKey` alive in the process registers here (weakly: a key collected by
the garbage collector is forgotten), and a log-record factory installed by
`install()` rewrites each record as it is created, before any handler (console,
file, Prefect's API log handler) can see it: the message is formatted and
redacted, and a traceback is rendered and redacted into `exc_text`, which
formatters reuse instead of rendering the exception again.

Encodings covered: the raw text, URL-quoted, JSON-escaped, hex, and base64
(standard and URL-safe, at each of the three alignments a key can have inside
a longer base64 string, as in a Basic auth header).

Keys are tracked by identity, not equality. Every step resolves its own
`SecretKey`, and equal keys used to share one entry of a `WeakSet`: once the
first step's key object was collected, the entry went with it, and a later
step's equal key was no longer redacted. The forms of a key are computed once,
when it registers, and the pattern of all live keys is built again only after
a key registers or is collected, not for every log record.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

__all__ = [
    "REDACTED",
    "install",
    "redact",
    "redact_secrets",
    "redactor",
    "register",
    "variants",
]

REDACTED = "[redacted key]"
_MIN_FRAGMENT = 8  # shorter base64 fragments would redact ordinary words
# (bytes before the key in its 3-byte group, first base64 char that is key-only)
_BASE64_ALIGNMENTS = ((0, 0), (1, 2), (2, 3))


@dataclass(frozen=True, slots=True)
class _Tracked:
    ref: weakref.ReferenceType[Any]
    forms: frozenset[str]  # what `variants` gives for it, long enough to match


@dataclass(slots=True)
class _Live:
    """The live keys by `id`, and the pattern of their forms while the set is unchanged."""

    keys: dict[int, _Tracked] = field(default_factory=dict)
    changed: bool = False  # a key registered or was collected since `pattern` was built
    pattern: re.Pattern[str] | None = None


_live = _Live()
# Reentrant: a key collected while this thread holds the lock runs `_collected`.
_lock = threading.RLock()
_installed = False


def register(secret: Any) -> None:
    """Start redacting `secret` (an object with `reveal()`) while it is alive."""
    tracked = _Tracked(weakref.ref(secret, _collected), _usable(variants(secret.reveal())))
    with _lock:
        _live.keys[id(secret)] = tracked  # an id is reused only after its key was collected
        _live.changed = True


def _collected(_: weakref.ReferenceType[Any]) -> None:
    # Runs inside garbage collection, maybe in the middle of `_pattern_of_live`:
    # only flag the change; the dead entry is dropped when the pattern is rebuilt.
    _live.changed = True


def variants(raw: str) -> set[str]:
    """The forms a key can take in text: raw, quoted, escaped, hex, base64 fragments."""
    forms = {raw, quote(raw, safe=""), json.dumps(raw)[1:-1], raw.encode().hex()}
    data = raw.encode()
    for offset, start in _BASE64_ALIGNMENTS:
        # Inside a longer base64 string the key starts at one of three byte
        # alignments; only the characters of whole groups made of key bytes
        # are the same whatever surrounds the key.
        end = (offset + len(data)) // 3 * 4
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            stable = encode(b"\0" * offset + data).decode()[start:end]
            if len(stable) >= _MIN_FRAGMENT:
                forms.add(stable)
    return {form for form in forms if form}


def redact(text: str) -> str:
    """`text` with every form of every live key replaced by `REDACTED`, in one pass."""
    if not text:
        return text
    pattern = _pattern_of_live()
    return pattern.sub(REDACTED, text) if pattern else text


def _pattern_of_live() -> re.Pattern[str] | None:
    """The pattern of every live key's forms, rebuilt only after the live set changed."""
    with _lock:
        if _live.changed:
            _live.changed = False  # set again by a registration or collection from here on
            for ident, tracked in list(_live.keys.items()):
                if tracked.ref() is None:
                    _live.keys.pop(ident, None)
            forms: set[str] = set()
            for tracked in list(_live.keys.values()):
                forms |= tracked.forms
            _live.pattern = _compile(forms)
        return _live.pattern


def redact_secrets(text: str, secrets: Iterable[Any]) -> str:
    """`text` with every form of just these `secrets` (objects with `reveal()`) redacted."""
    return redactor(secrets)(text)


def redactor(secrets: Iterable[Any]) -> Callable[[str], str]:
    """A function redacting every form of these `secrets` from a text, pattern built once.

    For many texts and the same keys (every string of a structured output).
    """
    pattern = _pattern_for(secrets)

    def redact_text(text: str) -> str:
        return pattern.sub(REDACTED, text) if pattern and text else text

    return redact_text


def _pattern_for(secrets: Iterable[Any]) -> re.Pattern[str] | None:
    forms: set[str] = set()
    for secret in secrets:
        forms |= _usable(variants(secret.reveal()))
    return _compile(forms)


def _usable(forms: set[str]) -> frozenset[str]:
    # Forms shorter than a fragment would redact ordinary words: no real key is that short.
    return frozenset(form for form in forms if len(form) >= _MIN_FRAGMENT)


def _compile(forms: set[str]) -> re.Pattern[str] | None:
    longest_first = sorted(forms, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, longest_first))) if longest_first else None


def install() -> None:
    """Wrap the process's log-record factory once; idempotent."""
    global _installed  # noqa: PLW0603 - one factory per process is the point
    with _lock:
        if _installed:
            return
        _installed = True
    inner = logging.getLogRecordFactory()
    logging.setLogRecordFactory(_redacting_factory(inner))


def _redacting_factory(inner: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    formatter = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = inner(*args, **kwargs)
        if not _live.keys:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: let logging report it as usual
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    return factory
