"""Finding an org's key rows, and the errors that say what to do when there is none.

Every lookup is confined to one org id: there is no query here that could
return another org's row (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, exists, select

from providers.types import Protocol
from vault.access import DEFAULT_ORG
from vault.envelope import KeyVersion
from vault.errors import DecryptionError, KeyExistsError, KeyNotFoundError
from vault.models import KeyStatus, Org, OrgDataKey, ProviderKey, User

__all__ = [
    "ActiveKey",
    "DataKeyRow",
    "KeyInfo",
    "NamedKey",
    "active_by_name",
    "active_by_ref",
    "active_for_prefix",
    "key_exists",
    "key_info",
    "key_named",
    "latest_data_key",
    "missing",
    "undecryptable",
]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A provider key version's metadata: everything about it except the key."""

    id: str
    org: str
    name: str
    provider: str
    protocol: Protocol
    base_url: str | None
    version: int
    status: KeyStatus
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The stable `--json` shape; `created_at` is ISO 8601 in UTC."""
        return {
            "id": self.id,
            "org": self.org,
            "name": self.name,
            "provider": self.provider,
            "protocol": self.protocol.value,
            "base_url": self.base_url,
            "version": self.version,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
        }


def key_info(org: str, row: ProviderKey) -> KeyInfo:
    """The metadata of a key row of org `org`."""
    created_at = row.created_at
    if created_at.tzinfo is None:  # SQLite drops the zone; every timestamp is written in UTC
        created_at = created_at.replace(tzinfo=UTC)
    return KeyInfo(
        id=row.id,
        org=org,
        name=row.name,
        provider=row.provider,
        protocol=Protocol(row.protocol),
        base_url=row.base_url,
        version=row.version,
        status=KeyStatus(row.status),
        created_at=created_at,
    )


def latest_data_key(session: Session, org_id: str) -> OrgDataKey:
    """The org's newest data key: the one new provider keys are sealed under."""
    statement = (
        select(OrgDataKey)
        .where(OrgDataKey.org_id == org_id)
        .order_by(col(OrgDataKey.created_at).desc())
    )
    data_key = session.exec(statement).first()
    if data_key is None:
        raise DecryptionError(f"org {org_id} has no data key: the vault database is damaged")
    return data_key


def active_by_name(session: Session, org_id: str, name: str) -> ProviderKey | None:
    """The active version of the key named `name`, if any."""
    statement = select(ProviderKey).where(
        ProviderKey.org_id == org_id,
        ProviderKey.name == name,
        ProviderKey.status == KeyStatus.ACTIVE.value,
    )
    return session.exec(statement).first()


def active_by_ref(session: Session, org: Org, ref: str) -> ProviderKey:
    """The active version of the key a user names by its name or its id (`key_…`)."""
    row = active_by_name(session, org.id, ref)
    if row is None:
        row = session.exec(
            select(ProviderKey).where(
                ProviderKey.org_id == org.id,
                ProviderKey.id == ref,
                ProviderKey.status == KeyStatus.ACTIVE.value,
            )
        ).first()
    if row is not None:
        return row
    if _any_version(session, org, ref):
        raise KeyNotFoundError(
            f"key '{ref}' in org '{org.slug}' has no active version (it was revoked): "
            f"add a new one with `{_add_command(org.slug, ref)}`"
        )
    raise KeyNotFoundError(f"no key '{ref}' in org '{org.slug}' (`byok keys list` shows its keys)")


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """The columns of an active key version that a resolution reads: a plain copy, no entity."""

    id: str
    version: int
    org_id: str
    name: str
    provider: str
    protocol: str
    base_url: str | None
    ciphertext: bytes = field(repr=False)  # sealed, but no repr needs it


@dataclass(frozen=True, slots=True)
class DataKeyRow:
    """One of an org's wrapped data keys, as a resolution reads it."""

    id: str
    org_id: str
    kek_id: str
    wrapped: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class NamedKey:
    """An org's active key of a given name, the org's data keys, and whether users exist."""

    org_id: str
    key: ActiveKey
    data_keys: tuple[DataKeyRow, ...]
    users_exist: bool


# Built once: every provider call resolves its key with this query, and building the
# statement cost about as much CPU as running it. Plain columns run on the session's
# connection, not entities through the ORM: the identity map, the entities' construction
# and the columns no resolution reads (timestamps, status, creator) were a third of the
# lookup's CPU.
_KEY_NAMED = (
    sa_select(
        col(Org.id),
        col(ProviderKey.id),
        col(ProviderKey.version),
        col(ProviderKey.name),
        col(ProviderKey.provider),
        col(ProviderKey.protocol),
        col(ProviderKey.base_url),
        col(ProviderKey.ciphertext),
        col(OrgDataKey.id),
        col(OrgDataKey.org_id),
        col(OrgDataKey.kek_id),
        col(OrgDataKey.wrapped),
        exists(select(User.id)),
    )
    .select_from(Org)
    .join(ProviderKey, col(ProviderKey.org_id) == col(Org.id))
    .join(OrgDataKey, col(OrgDataKey.org_id) == col(Org.id))
    .where(
        col(Org.slug) == bindparam("org", type_=String),
        col(ProviderKey.name) == bindparam("name", type_=String),
        col(ProviderKey.status) == KeyStatus.ACTIVE.value,
    )
)


def key_named(session: Session, org: str, name: str) -> NamedKey | None:
    """One query for what a call's resolution needs when PREFIX names a key of `org`.

    None when the org has no active key of that name (then the step-by-step
    lookups find the key by provider, or say what is missing). Every table is
    joined on the org's id: no row of another org can come back.
    """
    rows = session.connection().execute(_KEY_NAMED, {"org": org, "name": name}).all()
    if not rows:
        return None
    first = rows[0]
    org_id = str(first[0])
    key = ActiveKey(
        id=first[1],
        version=first[2],
        org_id=org_id,
        name=first[3],
        provider=first[4],
        protocol=first[5],
        base_url=first[6],
        ciphertext=bytes(first[7]),
    )
    data_keys = tuple(
        DataKeyRow(id=row[8], org_id=row[9], kek_id=row[10], wrapped=bytes(row[11])) for row in rows
    )
    return NamedKey(org_id, key, data_keys, bool(first[12]))


def active_for_prefix(session: Session, org: Org, prefix: str) -> ProviderKey:
    """The key named PREFIX, else the org's single active key of provider PREFIX."""
    row = active_by_name(session, org.id, prefix)
    if row is not None:
        return row
    statement = select(ProviderKey).where(
        ProviderKey.org_id == org.id,
        ProviderKey.provider == prefix,
        ProviderKey.status == KeyStatus.ACTIVE.value,
    )
    rows = list(session.exec(statement.order_by(col(ProviderKey.name))))
    if len(rows) == 1:
        return rows[0]
    if rows:
        names = ", ".join(f"'{r.name}'" for r in rows)
        raise KeyNotFoundError(
            f"org '{org.slug}' has no key named '{prefix}' but {len(rows)} active {prefix} "
            f"keys ({names}): use the key's name as the model prefix, e.g. `{rows[0].name}:MODEL`"
        )
    if _any_version(session, org, prefix):
        raise KeyNotFoundError(
            f"key '{prefix}' in org '{org.slug}' is revoked: add a new one with "
            f"`{_add_command(org.slug, prefix)}`"
        )
    raise KeyNotFoundError(missing(org.slug, prefix))


def missing(org: str, prefix: str) -> str:
    """The message for a model prefix with no key in `org`."""
    return f"no key '{prefix}' in org '{org}': add one with `{_add_command(org, prefix)}`"


def key_exists(org: str, row: ProviderKey) -> KeyExistsError:
    """The error for adding a name that already has an active version."""
    return KeyExistsError(
        f"org '{org}' already has an active key named '{row.name}' ({row.id} v{row.version}): "
        f"replace it with `byok keys rotate {row.name}`, or choose another --name"
    )


def undecryptable(org: str, row: KeyVersion) -> DecryptionError:
    """The error for a key version whose ciphertext, data key or metadata was tampered with."""
    return DecryptionError(
        f"key '{row.name}' ({row.id} v{row.version}) in org '{org}' cannot be decrypted: "
        "its ciphertext, data key or metadata was altered or copied from another record; "
        f"replace it with `byok keys rotate {row.name}`"
    )


def _any_version(session: Session, org: Org, ref: str) -> bool:
    return (
        session.exec(
            select(ProviderKey.id).where(
                ProviderKey.org_id == org.id,
                (col(ProviderKey.name) == ref) | (col(ProviderKey.id) == ref),
            )
        ).first()
        is not None
    )


def _add_command(org: str, prefix: str) -> str:
    org_option = "" if org == DEFAULT_ORG else f" --org {org}"
    if prefix in {p.value for p in Protocol}:
        return f"byok keys add {prefix}{org_option}"
    return f"byok keys add PROVIDER --name {prefix}{org_option} --protocol PROTOCOL --base-url URL"
