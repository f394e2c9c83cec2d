"""A record of every provider call the simulator received, for tests to inspect.

Tests use it to check what an adapter actually sent (body, key placement,
which key) and when (monotonic start and end, to see calls overlap). The raw
key is never stored: only its SHA-256 fingerprint, which a test compares with
`key_fingerprint("the key it configured")`. Bodies do hold prompts, which is
why the record lives in memory only, is bounded, and is never logged.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from providers.simulator.faults import FaultKind
from providers.types import Protocol

__all__ = ["RecordedRequest", "Recorder", "key_fingerprint"]


def key_fingerprint(key: str) -> str:
    """SHA-256 hex digest of an API key: comparable, not reversible."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One call as the simulator saw it.

    `started`/`ended` are `time.monotonic()` values taken on arrival and just
    before the reply was sent (or the connection dropped). `status` is `None`
    when no response was sent (dropped connection, or the client went away
    during a delay). `body` is the parsed JSON body, `None` if it was not JSON.
    `stream` is whether the call asked for a streamed reply. `query` holds
    the URL's query parameters except any that look like a credential (e.g.
    Gemini's `key`, see `providers.urls`), so no raw key is recorded.
    """

    seq: int
    protocol: Protocol
    model: str | None
    path: str
    started: float
    ended: float
    key_fingerprint: str | None
    key_in_url: bool
    body: Any
    status: int | None
    fault: FaultKind | None
    request_id: str | None
    stream: bool = False
    query: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        # The body holds the prompt: keep it out of reprs and assertion output.
        return (
            f"RecordedRequest(seq={self.seq}, protocol={self.protocol.value}, "
            f"model={self.model!r}, status={self.status}, fault={self.fault})"
        )

    def to_json(self) -> dict[str, Any]:
        """The control API's view of the record (`GET /_sim/requests`)."""
        return {
            "seq": self.seq,
            "protocol": self.protocol.value,
            "model": self.model,
            "path": self.path,
            "started": self.started,
            "ended": self.ended,
            "key_fingerprint": self.key_fingerprint,
            "key_in_url": self.key_in_url,
            "status": self.status,
            "fault": None if self.fault is None else self.fault.value,
            "request_id": self.request_id,
            "stream": self.stream,
            "query": dict(self.query),
            "body": self.body,
        }


class Recorder:
    """Keeps the last `max_records` calls, oldest dropped first; thread-safe."""

    def __init__(self, max_records: int = 10_000) -> None:
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self._lock = threading.Lock()
        self._records: deque[RecordedRequest] = deque(maxlen=max_records)
        self._seq = 0

    def next_seq(self) -> int:
        """A number for the next call, in order of arrival (starts at 1)."""
        with self._lock:
            self._seq += 1
            return self._seq

    def add(self, record: RecordedRequest) -> None:
        """Store a finished call."""
        with self._lock:
            self._records.append(record)

    def requests(self) -> tuple[RecordedRequest, ...]:
        """The stored calls in order of arrival."""
        with self._lock:
            return tuple(sorted(self._records, key=lambda record: record.seq))

    def clear(self) -> int:
        """Forget every stored call; returns how many were forgotten."""
        with self._lock:
            count = len(self._records)
            self._records.clear()
            return count
