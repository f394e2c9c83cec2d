"""The BYOK vault: provider keys sealed with AES-256-GCM envelope encryption, per org.

Public API: `KeyStore` (add, rotate, revoke, list, find, resolve), `KeyInfo`,
`VaultService` (the same as a principal: every action checked against the role
matrix and audited), `authorize_run`, `Role`, `Principal`, the `VaultError` tree,
and `VaultKeys`, the Prefect Block that resolves keys inside a task. `VaultKeys`
is imported on first use, so the CLI's vault commands do not pay for importing
Prefect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vault.access import Principal, Role
from vault.errors import (
    AuthenticationError,
    ConflictError,
    DecryptionError,
    InvalidInputError,
    KeyExistsError,
    KeyNotFoundError,
    MasterKeyError,
    NotFoundError,
    PermissionDeniedError,
    VaultError,
)
from vault.service import RunGrant, VaultService, authorize_run
from vault.store import DEFAULT_ORG, KeyInfo, KeyStore

if TYPE_CHECKING:
    from vault.block import VaultKeys

__all__ = [
    "DEFAULT_ORG",
    "AuthenticationError",
    "ConflictError",
    "DecryptionError",
    "InvalidInputError",
    "KeyExistsError",
    "KeyInfo",
    "KeyNotFoundError",
    "KeyStore",
    "MasterKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "Principal",
    "Role",
    "RunGrant",
    "VaultError",
    "VaultKeys",
    "VaultService",
    "authorize_run",
]


def __getattr__(name: str) -> Any:
    if name == "VaultKeys":
        from vault.block import VaultKeys

        return VaultKeys
    raise AttributeError(f"module 'vault' has no attribute {name!r}")
