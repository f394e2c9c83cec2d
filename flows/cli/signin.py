"""Opening the vault as the principal of `BYOK_TOKEN`, for every vault command of the CLI.

Each command signs in, lets `vault.service` check its role, and turns any
`VaultError` (not found, permission denied, wrong master key, …), or a database
it cannot reach, into the usual one-line error with exit status 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from flows.cli.console import fail
from vault.errors import VaultError

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError

    from vault.service import VaultService

__all__ = ["open_vault", "vault_errors"]


@contextmanager
def vault_errors() -> Iterator[None]:
    """End the command with `error: …` (exit 2) on any `VaultError` raised in the block."""
    try:
        yield
    except VaultError as error:
        fail(str(error))
    except Exception as error:
        _fail_if_unreachable(error)
        raise


def open_vault() -> VaultService:
    """The vault, signed in as `BYOK_TOKEN`'s user (or the local operator when unset)."""
    from vault.service import VaultService  # SQLAlchemy is imported by commands that use it

    try:
        return VaultService.open()
    except VaultError as error:
        fail(str(error))
    except Exception as error:
        _fail_if_unreachable(error)
        raise


def _fail_if_unreachable(error: Exception) -> None:
    """End the command if `error` is a database that cannot be reached (else return)."""
    from sqlalchemy.exc import OperationalError  # raised only once SQLAlchemy is in use

    if isinstance(error, OperationalError):
        fail(_unreachable(error))


def _unreachable(error: OperationalError) -> str:
    """The driver's first line (host, port, reason; never a password) and what to check."""
    reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
    return f"cannot use the vault database: {reason}; check BYOK_DATABASE_URL"
