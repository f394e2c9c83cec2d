"""The key store: add provider keys to an org's vault, list their metadata, resolve one for a call.

Envelope encryption: the master KEK ring wraps one random data key per org, and
the org's data key seals each provider key (formats in `vault.crypto`). `resolve`
unwraps and unseals on every call with no cache of decrypted keys, so a rotation
or revocation applies to the very next call. Lookups are confined to the org
asked for: there is no fallback to any other org's or the process's credentials.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from providers.endpoint import Endpoint
from providers.secret import SecretKey
from providers.types import Protocol
from vault.crypto import AssociatedData, Purpose, key_id_of, new_data_key, seal, unseal
from vault.db import get_engine
from vault.errors import DecryptionError, KeyExistsError, KeyNotFoundError
from vault.inputs import check_key_spec, check_org_slug, check_secret
from vault.keycheck import has_check_values, verify_master_keys
from vault.masterkey import KekProvider, load_master_key_ring
from vault.models import KeyStatus, Org, OrgDataKey, ProviderKey
from vault.settings import database_url

__all__ = ["DEFAULT_ORG", "KeyInfo", "KeyStore"]

DEFAULT_ORG = "default"


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


class KeyStore:
    """Provider keys of every org in one database, sealed under a master key ring."""

    def __init__(self, engine: Engine, keks: KekProvider) -> None:
        """Use `open()`; this assumes `keks` was already verified against the database."""
        self._engine = engine
        self._keks = keks

    @classmethod
    def open(cls, url: str | None = None, *, keks: KekProvider | None = None) -> KeyStore:
        """Open the vault at `url` (default: the configured database) and check its master key.

        Without `keks`, the ring comes from the environment (`vault.masterkey`); a
        key file is generated only for a local SQLite vault that has never had one.
        Raises `MasterKeyError` when the ring is missing, malformed or not this
        database's.
        """
        url = url or database_url()
        engine = get_engine(url)
        if keks is None:
            keks = load_master_key_ring(
                local=url.startswith("sqlite"), generate=not has_check_values(engine)
            )
        verify_master_keys(engine, keks)
        return cls(engine, keks)

    def ensure_org(self, slug: str) -> str:
        """The id of org `slug`, creating it (with its data key) if it does not exist yet."""
        check_org_slug(slug)
        with Session(self._engine) as session:
            org = _find_org(session, slug)
            if org is not None:
                return org.id
            org_id, data_key_id = _new_id("org"), _new_id("dk")
            kek = self._keks.primary
            data_key = OrgDataKey(
                id=data_key_id,
                org_id=org_id,
                kek_id=kek.kek_id,
                wrapped=kek.wrap(new_data_key(), _data_key_ad(org_id, data_key_id)),
            )
            try:
                session.add(Org(id=org_id, slug=slug))
                session.flush()  # the org row must exist before its data key's foreign key
                session.add(data_key)
                session.commit()
            except IntegrityError:
                session.rollback()  # created concurrently: use the winner's org
                winner = _find_org(session, slug)
                if winner is None:
                    raise
                return winner.id
            return org_id

    def add_key(
        self,
        *,
        org: str,
        provider: str,
        secret: str,
        name: str | None = None,
        protocol: Protocol | None = None,
        base_url: str | None = None,
        created_by: str | None = None,
    ) -> KeyInfo:
        """Seal `secret` as a new active key in `org` (created if needed) and return its metadata.

        `name` defaults to the provider; `protocol` defaults to the provider when
        it is anthropic, openai or google; `base_url` is required for any other
        provider. Raises `KeyExistsError` if the org has an active key named so.
        """
        spec = check_key_spec(provider, name, protocol, base_url)
        check_secret(secret)
        org_id = self.ensure_org(org)
        with Session(self._engine) as session:
            existing = _active_by_name(session, org_id, spec.name)
            if existing is not None:
                raise _exists(org, existing)
            data_key = _latest_data_key(session, org_id)
            row = ProviderKey(
                id=_new_id("key"),
                version=1,
                org_id=org_id,
                name=spec.name,
                provider=spec.provider,
                protocol=spec.protocol.value,
                base_url=spec.base_url,
                status=KeyStatus.ACTIVE.value,
                ciphertext=b"",
                created_by=created_by,
            )
            row.ciphertext = seal(
                self._unwrap(data_key),
                data_key.id,
                secret.encode(),
                _secret_ad(row),
            )
            info = _info(org, row)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                raced = _active_by_name(session, org_id, spec.name)
                if raced is None:
                    raise
                raise _exists(org, raced) from None
            return info

    def list_keys(self, org: str, *, include_revoked: bool = False) -> list[KeyInfo]:
        """Metadata of the org's keys (active only unless `include_revoked`), by name."""
        with Session(self._engine) as session:
            statement = (
                select(ProviderKey)
                .join(Org, col(Org.id) == col(ProviderKey.org_id))
                .where(Org.slug == org)
                .order_by(col(ProviderKey.name), col(ProviderKey.version))
            )
            if not include_revoked:
                statement = statement.where(ProviderKey.status == KeyStatus.ACTIVE.value)
            return [_info(org, row) for row in session.exec(statement)]

    def find_key(self, org: str, prefix: str) -> KeyInfo:
        """Metadata of the key model-string PREFIX means in `org`, without decrypting it.

        Same rule and errors as `resolve`: lets a command check every step has a
        key before starting a run.
        """
        with Session(self._engine) as session:
            org_row = _find_org(session, org)
            if org_row is None:
                raise KeyNotFoundError(_missing(org, prefix))
            return _info(org, _active_for_prefix(session, org_row, prefix))

    def resolve(self, org: str, prefix: str) -> Endpoint:
        """The endpoint for model-string PREFIX in `org`, with its key freshly decrypted.

        PREFIX is a key name in the org's vault or a provider name meaning the
        org's one active key for that provider. Raises `KeyNotFoundError` (with
        what to do) when there is none, `DecryptionError` if its ciphertext was
        tampered with.
        """
        with Session(self._engine) as session:
            org_row = _find_org(session, org)
            if org_row is None:
                raise KeyNotFoundError(_missing(org, prefix))
            row = _active_for_prefix(session, org_row, prefix)
            data_key = self._data_key_of(session, org_row, row)
        try:
            secret = unseal(data_key, row.ciphertext, _secret_ad(row)).decode()
        except (DecryptionError, UnicodeDecodeError) as e:
            raise _undecryptable(org, row) from e
        return Endpoint.for_protocol(
            Protocol(row.protocol),
            SecretKey(secret),
            base_url=row.base_url,
            provider=row.provider,
            key_id=row.id,
            key_version=row.version,
        )

    def _data_key_of(self, session: Session, org: Org, row: ProviderKey) -> bytes:
        """The data key named in the secret's header, which must belong to the same org."""
        try:
            data_key = session.get(OrgDataKey, key_id_of(row.ciphertext))
            if data_key is None or data_key.org_id != org.id:
                raise DecryptionError("the sealed key names no data key of its org")
            return self._unwrap(data_key)
        except DecryptionError as e:
            raise _undecryptable(org.slug, row) from e

    def _unwrap(self, data_key: OrgDataKey) -> bytes:
        kek = self._keks.get(data_key.kek_id)
        return kek.unwrap(data_key.wrapped, _data_key_ad(data_key.org_id, data_key.id))


def _new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"


def _data_key_ad(org_id: str, data_key_id: str) -> AssociatedData:
    return AssociatedData(purpose=Purpose.DATA_KEY, org=org_id, record=data_key_id, version=1)


def _secret_ad(row: ProviderKey) -> AssociatedData:
    return AssociatedData(
        purpose=Purpose.PROVIDER_KEY,
        org=row.org_id,
        record=row.id,
        version=row.version,
        provider=row.provider,
        protocol=row.protocol,
        base_url=row.base_url or "",
    )


def _find_org(session: Session, slug: str) -> Org | None:
    return session.exec(select(Org).where(Org.slug == slug)).first()


def _latest_data_key(session: Session, org_id: str) -> OrgDataKey:
    statement = (
        select(OrgDataKey)
        .where(OrgDataKey.org_id == org_id)
        .order_by(col(OrgDataKey.created_at).desc())
    )
    data_key = session.exec(statement).first()
    if data_key is None:
        raise DecryptionError(f"org {org_id} has no data key: the vault database is damaged")
    return data_key


def _active_by_name(session: Session, org_id: str, name: str) -> ProviderKey | None:
    statement = select(ProviderKey).where(
        ProviderKey.org_id == org_id,
        ProviderKey.name == name,
        ProviderKey.status == KeyStatus.ACTIVE.value,
    )
    return session.exec(statement).first()


def _active_for_prefix(session: Session, org: Org, prefix: str) -> ProviderKey:
    """The key named PREFIX, else the org's single active key of provider PREFIX."""
    row = _active_by_name(session, org.id, prefix)
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
    revoked = session.exec(
        select(ProviderKey.id).where(ProviderKey.org_id == org.id, ProviderKey.name == prefix)
    ).first()
    if revoked is not None:
        raise KeyNotFoundError(
            f"key '{prefix}' in org '{org.slug}' is revoked: add a new one with "
            f"`{_add_command(org.slug, prefix)}`"
        )
    raise KeyNotFoundError(_missing(org.slug, prefix))


def _missing(org: str, prefix: str) -> str:
    return f"no key '{prefix}' in org '{org}': add one with `{_add_command(org, prefix)}`"


def _add_command(org: str, prefix: str) -> str:
    org_option = "" if org == DEFAULT_ORG else f" --org {org}"
    if prefix in {p.value for p in Protocol}:
        return f"byok keys add {prefix}{org_option}"
    return f"byok keys add PROVIDER --name {prefix}{org_option} --protocol PROTOCOL --base-url URL"


def _exists(org: str, row: ProviderKey) -> KeyExistsError:
    return KeyExistsError(
        f"org '{org}' already has an active key named '{row.name}' ({row.id} v{row.version}): "
        f"replace it with `byok keys rotate {row.name}`, or choose another --name"
    )


def _undecryptable(org: str, row: ProviderKey) -> DecryptionError:
    return DecryptionError(
        f"key '{row.name}' ({row.id} v{row.version}) in org '{org}' cannot be decrypted: "
        "its ciphertext, data key or metadata was altered or copied from another record; "
        f"replace it with `byok keys rotate {row.name}`"
    )


def _info(org: str, row: ProviderKey) -> KeyInfo:
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
