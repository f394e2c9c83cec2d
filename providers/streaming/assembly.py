"""What every protocol's stream assembler shares: the parts of a reply seen so far.

A protocol module (`anthropic`, `openai`, `google` in this package) reads its
own events and fills an `Assembly`; `result()` then builds the same
`ModelResponse` a non-streamed call returns. A stream that ends before the
protocol's last event (a proxy cut it, the server died) is a dropped
connection, retryable like any other, and carries the usage counted so far
so that the ledger can still record what the call reported.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from providers.errors import ProviderConnectionError
from providers.streaming.sse import ServerSentEvent
from providers.types import FinishReason, ModelResponse, Usage

__all__ = ["Assembly"]


class Assembly(ABC):
    """The reply of one streamed call, built up event by event.

    `headers` are the HTTP response's, for the wait hints of an error that
    arrives in the stream. `feed` raises the `ProviderError` such an error
    stands for.
    """

    def __init__(
        self, *, provider: str, key_id: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        self.provider = provider
        self.key_id = key_id
        self.headers: Mapping[str, str] = headers or {}
        self.usage = Usage()
        self.finish: FinishReason | None = None
        self.model = ""
        self.request_id: str | None = None
        self.done = False  # the protocol's last event arrived: stop reading
        self._text: list[str] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r}, done={self.done})"

    @abstractmethod
    def feed(self, event: ServerSentEvent) -> None:
        """Take one event; raise `ProviderError` if it is an error event."""

    @property
    def complete(self) -> bool:
        """Whether the reply is whole (by default: its last event arrived)."""
        return self.done

    def append(self, text: str | None) -> None:
        """Add a piece of the answer's text."""
        if text:
            self._text.append(text)

    def text(self) -> str:
        """The answer's text so far."""
        return "".join(self._text)

    def usage_reported(self) -> Usage | None:
        """The usage counted so far, None while the stream has reported none.

        Attached to an error that ends the stream, so that a call that failed
        after reporting usage is still billed in the ledger.
        """
        return self.usage if self.usage != Usage() else None

    def result(self) -> ModelResponse:
        """The assembled reply; `ProviderConnectionError` if the stream ended early."""
        if not self.complete:
            raise ProviderConnectionError(
                f"{self.provider} ended the stream before the reply was complete; "
                "the call can be retried",
                provider=self.provider,
                error_type="truncated_stream",
                usage=self.usage,
            )
        return ModelResponse(
            text=self.text(),
            usage=self.usage,
            finish_reason=self.finish or FinishReason.OTHER,
            model=self.model,
            request_id=self.request_id,
        )
