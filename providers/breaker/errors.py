"""The error a refused call raises: the breaker is open, nothing was sent.

    ProviderError            (providers.errors)
    └── CircuitOpenError     the breaker for this provider, model and key is open

It is a `ProviderError` so everything that handles provider failures (step
failure messages, pickling between processes) handles it too, but it is not
`retryable`: asking again at once would only be refused again. The engine
tries the step's next fallback model instead (`flows.engine.retry`).
"""

from __future__ import annotations

from providers.errors import ProviderError

__all__ = ["CircuitOpenError"]


class CircuitOpenError(ProviderError):
    """The call was refused without touching the network: its breaker is open.

    `retry_after_s` is how long until the breaker lets a probe call through.
    """

    retryable = False
