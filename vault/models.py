"""The vault's tables: orgs, their wrapped data keys, sealed provider keys, KEK check values.

Only ciphertext and metadata live here: no master key, no plaintext data key and
no fragment of a provider key (not even its last four characters). Internal ids
(`org_…`, `dk_…`, `key_…`) are random and never reused, and they are what each
ciphertext's associated data binds to, so renaming an org or a key never needs
a re-encryption while moving a ciphertext to another row always breaks it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, LargeBinary, text
from sqlmodel import Field, SQLModel

__all__ = ["KekCheck", "KeyStatus", "Org", "OrgDataKey", "ProviderKey"]


def _now() -> datetime:
    return datetime.now(UTC)


def _timestamp() -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False, default=_now)


class KeyStatus(StrEnum):
    """A provider key version's lifecycle: only `active` versions are ever resolved."""

    ACTIVE = "active"
    REVOKED = "revoked"


class Org(SQLModel, table=True):
    """An organisation: the boundary no key crosses (fail closed)."""

    __tablename__ = "orgs"

    id: str = Field(primary_key=True, max_length=40)
    slug: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=_now, sa_column=_timestamp())


class OrgDataKey(SQLModel, table=True):
    """An org's random 32-byte data key, wrapped by the master KEK named `kek_id`."""

    __tablename__ = "org_data_keys"

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(foreign_key="orgs.id", index=True, max_length=40)
    kek_id: str = Field(index=True, max_length=64)
    wrapped: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=_now, sa_column=_timestamp())


class ProviderKey(SQLModel, table=True):
    """One version of a provider API key, sealed under its org's data key.

    `(id, version)` is the row: a rotation adds version n+1 under the same public
    id and revokes version n. At most one active version per name and org.
    `provider` is the pricing provider (`openai`, `ollama`, …); `protocol` picks
    the adapter; `base_url` overrides the protocol's official endpoint.
    """

    __tablename__ = "provider_keys"
    __table_args__ = (
        Index(
            "uq_provider_keys_active_name",
            "org_id",
            "name",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    version: int = Field(primary_key=True, default=1)
    org_id: str = Field(foreign_key="orgs.id", index=True, max_length=40)
    name: str = Field(max_length=64)
    provider: str = Field(max_length=64)
    protocol: str = Field(max_length=16)
    base_url: str | None = Field(default=None, max_length=2048)
    status: str = Field(default=KeyStatus.ACTIVE.value, max_length=16)
    ciphertext: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=_now, sa_column=_timestamp())
    created_by: str | None = Field(default=None, max_length=200)
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class KekCheck(SQLModel, table=True):
    """A known constant sealed under one KEK: proves at open that the master key matches."""

    __tablename__ = "kek_checks"

    kek_id: str = Field(primary_key=True, max_length=64)
    check_value: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=_now, sa_column=_timestamp())
