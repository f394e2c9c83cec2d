"""What can go wrong in the vault, as errors a user can act on.

    VaultError              base: the message says what is wrong and what to do
    ├── MasterKeyError      master key missing, malformed, or not this vault's key
    ├── DecryptionError     a blob is unknown, tampered with, or sealed for another record
    ├── KeyNotFoundError    no active key for a name or provider in the org
    ├── KeyExistsError      an active key with that name already exists in the org
    └── InvalidInputError   a provider, name, org, protocol, URL or secret is malformed

Messages carry names, ids and versions only, never key material: the CLI prints
them and Prefect stores exception text in state messages. Each error holds just
its message, so it pickles as Prefect moves it between processes.
"""

from __future__ import annotations

__all__ = [
    "DecryptionError",
    "InvalidInputError",
    "KeyExistsError",
    "KeyNotFoundError",
    "MasterKeyError",
    "VaultError",
]


class VaultError(Exception):
    """A vault operation failed; `str(error)` is one line fit for a user."""


class MasterKeyError(VaultError):
    """The master key ring is missing, malformed, or does not match the database."""


class DecryptionError(VaultError):
    """A wrapped data key or sealed secret could not be opened.

    Raised for any unknown format, algorithm or key id, any altered byte, and any
    ciphertext presented for a record other than the one it was sealed for. It
    never says which check failed, so it cannot be used as an oracle.
    """


class KeyNotFoundError(VaultError):
    """No active key answers to that name or provider in the org (fail closed)."""


class KeyExistsError(VaultError):
    """The org already has an active key with that name."""


class InvalidInputError(VaultError):
    """An argument is malformed; the message names it and the accepted form."""
