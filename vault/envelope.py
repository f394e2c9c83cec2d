"""The two layers of the envelope, and what binds each blob to its row.

A KEK wraps an org's data key, bound to (org id, data-key id); the data key
seals a provider key, bound to (org id, key id, version, provider, protocol,
base URL). The store, the master-key rotation and the tests all build the
associated data here, so the bindings cannot drift apart.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from vault.crypto import AssociatedData, Purpose

__all__ = ["KeyVersion", "data_key_ad", "new_id", "secret_ad"]


class KeyVersion(Protocol):
    """A provider key version's row: a `ProviderKey` entity or the plain copy a lookup made.

    `KeyStore.resolve` reads the columns it needs as plain Core rows (building ORM
    entities was a measurable share of its CPU), so the envelope and the error
    messages take any object with these attributes.
    """

    @property
    def id(self) -> str:
        """The key's public id (`key_…`), the same for every version."""

    @property
    def version(self) -> int:
        """The version number; a rotation adds the next one."""

    @property
    def org_id(self) -> str:
        """The internal id of the org the key belongs to."""

    @property
    def name(self) -> str:
        """The key's name in its org (the model-string prefix)."""

    @property
    def provider(self) -> str:
        """The pricing provider (`openai`, `ollama`, …)."""

    @property
    def protocol(self) -> str:
        """The wire protocol's name."""

    @property
    def base_url(self) -> str | None:
        """Where the key may be sent, when not the protocol's official endpoint."""

    @property
    def ciphertext(self) -> bytes:
        """The key sealed under the org's data key."""


def new_id(kind: str) -> str:
    """A random, never-reused internal id such as `org_…`, `dk_…` or `key_…`."""
    return f"{kind}_{secrets.token_hex(8)}"


def data_key_ad(org_id: str, data_key_id: str) -> AssociatedData:
    """What an org's wrapped data key is bound to."""
    return AssociatedData(purpose=Purpose.DATA_KEY, org=org_id, record=data_key_id, version=1)


def secret_ad(row: KeyVersion) -> AssociatedData:
    """What a provider key version's ciphertext is bound to: its row and where it may be sent."""
    return AssociatedData(
        purpose=Purpose.PROVIDER_KEY,
        org=row.org_id,
        record=row.id,
        version=row.version,
        provider=row.provider,
        protocol=row.protocol,
        base_url=row.base_url or "",
    )
