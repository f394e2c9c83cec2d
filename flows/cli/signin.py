"""Opening the vault as the principal of `BYOK_TOKEN`, for every vault command of the CLI.

Each command signs in, lets `vault.service` check its role, and turns any
`VaultError` (not found, permission denied, wrong master key, …), or a database
it cannot reach, into the usual one-line error with exit status 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import OperationalError

from flows.cli.console import fail
from vault import VaultError, VaultService

__all__ = ["open_vault", "vault_errors"]


@contextmanager
def vault_errors() -> Iterator[None]:
    """End the command with `error: …` (exit 2) on any `VaultError` raised in the block."""
    try:
        yield
    except VaultError as error:
        fail(str(error))
    except OperationalError as error:
        fail(_unreachable(error))


def open_vault() -> VaultService:
    """The vault, signed in as `BYOK_TOKEN`'s user (or the local operator when unset)."""
    try:
        return VaultService.open()
    except VaultError as error:
        fail(str(error))
    except OperationalError as error:
        fail(_unreachable(error))


def _unreachable(error: OperationalError) -> str:
    """The driver's first line (host, port, reason; never a password) and what to check."""
    reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
    return f"cannot use the vault database: {reason}; check BYOK_DATABASE_URL"
