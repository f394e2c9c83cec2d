"""Fault injection: which of the next calls fail, and how.

A `Fault` says what goes wrong (an HTTP error with the provider's own error
body, an error inside an HTTP 200, a dropped connection, a slow reply, or a
200 whose body is not JSON),
which calls it targets (a protocol, a model, or all), and for how many of the
next matching calls it fires (`times`, or `None` for every call). A
`FaultPlan` holds the faults in the order they were added; each call consumes
the first one that matches it, so "two 429s, then one dropped connection" is
three `add`s.

Faults are pydantic models so the control API (`POST /_sim/faults`) and
Python callers share one validation, with errors that name the bad field.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from providers.types import Protocol

__all__ = ["Fault", "FaultKind", "FaultPlan", "PendingFault"]


class FaultKind(StrEnum):
    """What goes wrong with a call."""

    STATUS = "status"  # an HTTP error status with the provider's error body
    IN_BAND = "in_band"  # HTTP 200, then the error: mid-stream, or as the body (OpenRouter)
    DROP = "drop"  # the TCP connection is closed without any response
    SLOW = "slow"  # the reply is held back by `delay_ms`, then sent normally
    INVALID_JSON = "invalid_json"  # status 200 with a body cut off mid-JSON (or a stream cut short)


class Fault(BaseModel):
    """One injected failure and the calls it applies to.

    `kind="status"` answers with the error status. `kind="in_band"` answers
    HTTP 200 and sends the error afterwards, as providers do once a reply has
    started: a streamed call gets its first piece of text, then the
    protocol's error event (Anthropic `event: error`, an OpenAI chunk with an
    `error` object, a Gemini google.rpc.Status); an unstreamed call gets the
    error object as its 200 body, which is how OpenRouter reports a model
    that failed after accepting the call. `status` is the error's status
    (OpenAI's in-band `code` carries it as a number, as OpenRouter's does).

    Retry hints only make sense with an error: `retry_after_s` becomes
    a `retry-after` header for Anthropic and OpenAI and a
    `google.rpc.RetryInfo` detail for Gemini; `retry_after_ms` becomes a
    `retry-after-ms` header (OpenAI's millisecond hint) for any protocol.
    `error_type` overrides the protocol's default error type for the status
    (Anthropic `error.type`, OpenAI `error.type`, Gemini `error.status`), and
    `code` the finer cause: OpenAI's `error.code` (e.g. `insufficient_quota`),
    Anthropic's `error.details.error_code` (e.g. `enforced_spend_limit_reached`),
    Gemini's `google.rpc.ErrorInfo` reason (e.g. `API_KEY_INVALID`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    provider: Protocol | None = None
    model: str | None = None
    times: int | None = Field(default=1, ge=1)
    status: int | None = Field(default=None, ge=400, le=599)
    error_type: str | None = None
    code: str | None = None
    message: str | None = None
    retry_after_s: float | None = Field(default=None, ge=0)
    retry_after_ms: int | None = Field(default=None, ge=0)
    delay_ms: int | None = Field(default=None, ge=1, le=600_000)

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Self:
        is_error = self.kind in (FaultKind.STATUS, FaultKind.IN_BAND)
        if is_error != (self.status is not None):
            raise ValueError(
                "`status` is required for kinds 'status' and 'in_band' and only allowed there"
            )
        if (self.kind is FaultKind.SLOW) != (self.delay_ms is not None):
            raise ValueError("`delay_ms` is required for kind 'slow' and only allowed there")
        extras = (self.retry_after_s, self.retry_after_ms, self.error_type, self.code, self.message)
        if not is_error and any(value is not None for value in extras):
            raise ValueError(
                "retry hints, `error_type`, `code` and `message` only apply to kinds "
                "'status' and 'in_band'"
            )
        return self

    @classmethod
    def error(
        cls,
        status: int,
        *,
        retry_after_s: float | None = None,
        retry_after_ms: int | None = None,
        error_type: str | None = None,
        code: str | None = None,
        message: str | None = None,
        provider: Protocol | str | None = None,
        model: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """An HTTP error with the provider-shaped body, e.g. `Fault.error(429, retry_after_s=2)`."""
        return cls.model_validate(
            {
                "kind": FaultKind.STATUS,
                "status": status,
                "retry_after_s": retry_after_s,
                "retry_after_ms": retry_after_ms,
                "error_type": error_type,
                "code": code,
                "message": message,
                "provider": provider,
                "model": model,
                "times": times,
            }
        )

    @classmethod
    def in_band(
        cls,
        status: int,
        *,
        retry_after_s: float | None = None,
        error_type: str | None = None,
        code: str | None = None,
        message: str | None = None,
        provider: Protocol | str | None = None,
        model: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """HTTP 200, then an error: mid-stream, or as the body, e.g. `Fault.in_band(529)`."""
        return cls.model_validate(
            {
                "kind": FaultKind.IN_BAND,
                "status": status,
                "retry_after_s": retry_after_s,
                "error_type": error_type,
                "code": code,
                "message": message,
                "provider": provider,
                "model": model,
                "times": times,
            }
        )

    @classmethod
    def drop(
        cls,
        *,
        provider: Protocol | str | None = None,
        model: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Close the connection without answering: clients see a transport error."""
        return cls.model_validate(
            {"kind": FaultKind.DROP, "provider": provider, "model": model, "times": times}
        )

    @classmethod
    def slow(
        cls,
        delay_ms: int,
        *,
        provider: Protocol | str | None = None,
        model: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Hold the reply back for `delay_ms`, e.g. to trip a client timeout."""
        return cls.model_validate(
            {
                "kind": FaultKind.SLOW,
                "delay_ms": delay_ms,
                "provider": provider,
                "model": model,
                "times": times,
            }
        )

    @classmethod
    def invalid_json(
        cls,
        *,
        provider: Protocol | str | None = None,
        model: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Answer 200 with a body cut off mid-JSON; a stream ends before its last event."""
        return cls.model_validate(
            {"kind": FaultKind.INVALID_JSON, "provider": provider, "model": model, "times": times}
        )

    def matches(self, protocol: Protocol, model: str | None) -> bool:
        """Whether a call with this protocol and model is one this fault targets."""
        if self.provider is not None and self.provider != protocol:
            return False
        return self.model is None or self.model == model


@dataclass(frozen=True, slots=True)
class PendingFault:
    """A fault still in the plan; `remaining` is `None` when it never runs out."""

    fault: Fault
    remaining: int | None

    def to_json(self) -> dict[str, Any]:
        """The control API's view: the fault's fields plus `remaining`."""
        return {
            **self.fault.model_dump(mode="json", exclude_none=True),
            "remaining": self.remaining,
        }


class FaultPlan:
    """The ordered faults still to fire; safe to use from any thread."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._lock = threading.Lock()
        self._pending: list[PendingFault] = []
        self.add(*faults)

    def add(self, *faults: Fault) -> None:
        """Append faults; they fire after the ones already planned."""
        with self._lock:
            self._pending.extend(PendingFault(fault, fault.times) for fault in faults)

    def clear(self) -> int:
        """Remove every pending fault; returns how many were removed."""
        with self._lock:
            count = len(self._pending)
            self._pending.clear()
            return count

    def pending(self) -> tuple[PendingFault, ...]:
        """A snapshot of the faults still to fire, in firing order."""
        with self._lock:
            return tuple(self._pending)

    def take(self, protocol: Protocol, model: str | None) -> Fault | None:
        """Consume one use of the first fault matching this call, if any."""
        with self._lock:
            for index, pending in enumerate(self._pending):
                if not pending.fault.matches(protocol, model):
                    continue
                if pending.remaining is None:
                    return pending.fault
                if pending.remaining <= 1:
                    del self._pending[index]
                else:
                    self._pending[index] = PendingFault(pending.fault, pending.remaining - 1)
                return pending.fault
            return None
