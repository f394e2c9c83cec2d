"""The two layers of the envelope, and what binds each blob to its row.

A KEK wraps an org's data key, bound to (org id, data-key id); the data key
seals a provider key, bound to (org id, key id, version, provider, protocol,
base URL). The store, the master-key rotation and the tests all build the
associated data here, so the bindings cannot drift apart.
"""

from __future__ import annotations

import secrets

from vault.crypto import AssociatedData, Purpose
from vault.models import ProviderKey

__all__ = ["data_key_ad", "new_id", "secret_ad"]


def new_id(kind: str) -> str:
    """A random, never-reused internal id such as `org_…`, `dk_…` or `key_…`."""
    return f"{kind}_{secrets.token_hex(8)}"


def data_key_ad(org_id: str, data_key_id: str) -> AssociatedData:
    """What an org's wrapped data key is bound to."""
    return AssociatedData(purpose=Purpose.DATA_KEY, org=org_id, record=data_key_id, version=1)


def secret_ad(row: ProviderKey) -> AssociatedData:
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
