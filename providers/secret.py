"""A runtime secret that never shows itself.

The raw value is reachable only through `reveal()`, called where the HTTP
request is built. `repr`/`str` are masked and pickling is refused, so a key
cannot travel through Prefect parameters, results, exceptions or logs by
accident.
"""

from __future__ import annotations

from typing import NoReturn

from providers import redaction

__all__ = ["SecretKey"]


class SecretKey:
    """Holds a provider key in memory; masked everywhere but `reveal()`."""

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a provider key cannot be empty")
        self._value = value
        redaction.register(self)  # redacted from every log record while alive

    def reveal(self) -> str:
        """Return the raw key. Call only where the outgoing request is built."""
        return self._value

    def __repr__(self) -> str:
        return "SecretKey('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("SecretKey", self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretKey refuses to be pickled: keys never leave the task's memory")
