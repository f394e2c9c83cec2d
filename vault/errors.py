"""What can go wrong in the vault, as errors a user can act on.

    VaultError                 base: the message says what is wrong and what to do
    ├── MasterKeyError         master key missing, malformed, retired, or not this vault's key
    ├── DecryptionError        a blob is unknown, tampered with, or sealed for another record
    ├── AuthenticationError    no usable principal: `BYOK_TOKEN` missing or not a valid token
    ├── PermissionDeniedError  the principal's role in the org does not allow the action
    ├── NotFoundError          no such org, user or key, as far as the principal can see
    │   └── KeyNotFoundError   no active key for a name or provider in the org
    ├── ConflictError          it exists already, or the change would break something
    │   └── KeyExistsError     an active key with that name already exists in the org
    └── InvalidInputError      a provider, name, org, email, URL or secret is malformed

An org the principal does not belong to raises `NotFoundError` with the same
message as an org that does not exist, so membership cannot be probed.
Messages carry names, ids and versions only, never key material or tokens: the
CLI prints them and Prefect stores exception text in state messages. Each error
holds just its message, so it pickles as Prefect moves it between processes.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "DecryptionError",
    "InvalidInputError",
    "KeyExistsError",
    "KeyNotFoundError",
    "MasterKeyError",
    "NotFoundError",
    "PermissionDeniedError",
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


class AuthenticationError(VaultError):
    """Nobody to act as: `BYOK_TOKEN` is unset on a vault with users, or not a valid token."""


class PermissionDeniedError(VaultError):
    """The principal belongs to the org, but its role does not allow the action."""


class NotFoundError(VaultError):
    """No such org, user or key, or one the principal may not see (fail closed)."""


class KeyNotFoundError(NotFoundError):
    """No active key answers to that name or provider in the org (fail closed)."""


class ConflictError(VaultError):
    """The object exists already, or the change would leave the vault unusable."""


class KeyExistsError(ConflictError):
    """The org already has an active key with that name."""


class InvalidInputError(VaultError):
    """An argument is malformed; the message names it and the accepted form."""
