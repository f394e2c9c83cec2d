"""The BYOK vault: provider keys sealed with AES-256-GCM envelope encryption, per org.

Public API: `KeyStore` (add, rotate, revoke, list, find, resolve), `KeyInfo`,
`VaultService` (the same as a principal: every action checked against the role
matrix and audited), `authorize_run`, `Role`, `Principal`, the `VaultError` tree,
and `VaultKeys`, the Prefect Block that resolves keys inside a task. The store,
service and block are imported on first use, so `byok --help` and the CLI's
commands pay for SQLAlchemy, SQLModel and Prefect only when they use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.lazy import lazy_attributes
from vault.access import DEFAULT_ORG, Principal, Role
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

if TYPE_CHECKING:
    from vault.block import VaultKeys
    from vault.service import RunGrant, VaultService, authorize_run
    from vault.store import KeyInfo, KeyStore

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


# Imported on first use: SQLAlchemy and SQLModel (behind the store and the service)
# take a second or more to import, which `byok --help` and the errors need not pay.
_LAZY = {
    "VaultKeys": "vault.block",
    "RunGrant": "vault.service",
    "VaultService": "vault.service",
    "authorize_run": "vault.service",
    "KeyInfo": "vault.store",
    "KeyStore": "vault.store",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
