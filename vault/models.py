"""The vault's tables: orgs, data keys, provider keys, KEK check values, users, audit.

Only ciphertext and metadata live here: no master key, no plaintext data key, no
fragment of a provider key (not even its last four characters) and no access
token (only its SHA-256). Internal ids (`org_…`, `dk_…`, `key_…`, `usr_…`) are
random and never reused, and they are what each ciphertext's associated data
binds to, so renaming an org or a key never needs a re-encryption while moving
a ciphertext to another row always breaks it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, LargeBinary, text
from sqlmodel import Field, SQLModel

__all__ = [
    "AuditChain",
    "AuditEvent",
    "KekCheck",
    "KeyStatus",
    "Membership",
    "Org",
    "OrgDataKey",
    "ProviderKey",
    "User",
]


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
    # Set by `byok vault retire-kek`: the KEK wraps nothing and may leave the ring;
    # its id is never reused, so an old ring cannot be mistaken for a new one.
    retired_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class User(SQLModel, table=True):
    """A person (or robot) who acts through a personal access token.

    Only the token's SHA-256 is stored: the token is 256 random bits, so the
    hash cannot be reversed or guessed, and a database reader cannot sign in.
    """

    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=40)
    email: str = Field(max_length=254, unique=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=_now, sa_column=_timestamp())
    created_by: str | None = Field(default=None, max_length=254)


class Membership(SQLModel, table=True):
    """A user's role in one org (`owner`, `admin`, `member`, `viewer`; see `vault.access`)."""

    __tablename__ = "memberships"

    user_id: str = Field(foreign_key="users.id", primary_key=True, max_length=40)
    org_id: str = Field(foreign_key="orgs.id", primary_key=True, index=True, max_length=40)
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=_now, sa_column=_timestamp())
    created_by: str | None = Field(default=None, max_length=254)


class AuditEvent(SQLModel, table=True):
    """One audited action: who did what to which key version, in which run and step.

    `mac` is HMAC-SHA256 over the event's fields and `prev` (the previous
    event's `mac`) under the chain's key (see `vault.audit`), so an edited,
    inserted, reordered or deleted event breaks verification. Names, ids and
    outcomes only: never a key, token, prompt or output.
    """

    __tablename__ = "audit_events"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_column=_timestamp())
    actor: str = Field(max_length=254)
    org: str | None = Field(default=None, max_length=64, index=True)
    action: str = Field(max_length=32)
    outcome: str = Field(max_length=16)
    key_id: str | None = Field(default=None, max_length=40)
    key_name: str | None = Field(default=None, max_length=64)
    key_version: int | None = None
    run_id: str | None = Field(default=None, max_length=64)
    step: str | None = Field(default=None, max_length=200)
    detail: str | None = Field(default=None, max_length=500)
    prev: str = Field(max_length=64)
    mac: str = Field(max_length=64)


class AuditChain(SQLModel, table=True):
    """The audit chain's head (last `seq` and `mac`) and its MAC key, wrapped by a KEK.

    One row (`id` 1). Appending locks it, so events get consecutive numbers
    whatever the concurrency; the MAC key is re-wrapped by a master-key
    rotation like any data key.
    """

    __tablename__ = "audit_chain"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = 0
    head: str = Field(max_length=64)
    kek_id: str = Field(index=True, max_length=64)
    wrapped_key: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=_now, sa_column=_timestamp())
