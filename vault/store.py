"""The key store: add, rotate and revoke an org's provider keys; resolve one for a call.

Envelope encryption: the master KEK ring wraps one random data key per org, and
the org's data key seals each provider key (formats in `vault.crypto`,
bindings in `vault.envelope`). `resolve` unwraps and unseals on every call with
no cache of decrypted keys, so a rotation or revocation applies to the very
next call. Lookups are confined to the org asked for: there is no fallback to
any other org's or the process's credentials.

Every change is recorded in the audit chain in the same transaction, and every
`resolve` records a `key.use` event (with the run and step when given) before
the key is handed out. This layer trusts its caller: `vault.service` checks the
principal's role before calling it; `resolve` checks the run's user itself,
because it runs inside a task, far from the command that started the run.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from providers.endpoint import Endpoint
from providers.secret import SecretKey
from providers.types import Protocol
from vault.access import DEFAULT_ORG, LOCAL_OPERATOR, Action, check
from vault.audit import AuditLog, AuditRecord, Outcome
from vault.audit_batch import AuditBatch
from vault.crypto import key_id_of, new_data_key, seal, unseal
from vault.db import get_engine
from vault.directory import find_org, has_users, principal_named
from vault.envelope import KeyVersion, data_key_ad, new_id, secret_ad
from vault.errors import (
    AuthenticationError,
    ConflictError,
    DecryptionError,
    KeyNotFoundError,
    VaultError,
)
from vault.inputs import check_key_spec, check_org_slug, check_secret
from vault.keycheck import has_check_values, verify_master_keys
from vault.lookup import (
    ActiveKey,
    DataKeyRow,
    KeyInfo,
    NamedKey,
    active_by_name,
    active_by_ref,
    active_for_prefix,
    key_exists,
    key_info,
    key_named,
    latest_data_key,
    missing,
    undecryptable,
)
from vault.masterkey import KekProvider, load_master_key_ring
from vault.models import KeyStatus, Org, OrgDataKey, ProviderKey
from vault.reuse import KnownUse, KnownUses
from vault.settings import database_url

__all__ = ["DEFAULT_ORG", "MASTER_KEY_ADDED", "KeyInfo", "KeyStore"]

MASTER_KEY_ADDED = "master.add"  # audit action: a KEK's check value was recorded


class KeyStore:
    """Provider keys of every org in one database, sealed under a master key ring."""

    def __init__(self, engine: Engine, keks: KekProvider) -> None:
        """Use `open()`; this assumes `keks` was verified and the audit chain exists."""
        self._engine = engine
        self._keks = keks
        self._audit = AuditLog(engine, keks)
        # A key's resolution only reads until its use is audited. On PostgreSQL the reads
        # autocommit (each statement sees committed data, as in a READ COMMITTED
        # transaction), which spares a BEGIN and a ROLLBACK, and the audit batch appends
        # in transactions of its own: a lone use in one statement (see `AuditBatch`).
        autocommit = engine.dialect.name == "postgresql"
        self._reads = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if autocommit else engine
        )
        self._audit_batch = AuditBatch(self._audit, autocommit_sessions=autocommit)  # key uses
        # PostgreSQL: a key read once is used again if its audited use finds it unchanged
        # (see `vault.reuse`), when no other resolution is under way in this store.
        self._known = KnownUses() if autocommit else None
        self._busy = 0
        self._busy_lock = threading.Lock()

    @classmethod
    def open(cls, url: str | None = None, *, keks: KekProvider | None = None) -> KeyStore:
        """Open the vault at `url` (default: the configured database) and check its master key.

        Without `keks`, the ring comes from the environment (`vault.masterkey`); a
        key file is generated only for a local SQLite vault that has never had one.
        Raises `MasterKeyError` when the ring is missing, malformed, retired or
        not this database's.
        """
        url = url or database_url()
        engine = get_engine(url)
        if keks is None:
            keks = load_master_key_ring(
                local=url.startswith("sqlite"), generate=not has_check_values(engine)
            )
        added = verify_master_keys(engine, keks)
        store = cls(engine, keks)
        store.audit.ensure_chain()
        for kek_id in added:
            store.audit.record(
                AuditRecord(
                    action=MASTER_KEY_ADDED,
                    outcome=Outcome.OK,
                    actor=keks.source,
                    detail=f"master key '{kek_id}' first used with this vault",
                )
            )
        return store

    @property
    def engine(self) -> Engine:
        """The vault's database."""
        return self._engine

    @property
    def keks(self) -> KekProvider:
        """The master key ring this store was opened with (verified against the database)."""
        return self._keks

    @property
    def audit(self) -> AuditLog:
        """The vault's audit chain."""
        return self._audit

    def ensure_org(self, slug: str, *, actor: str = LOCAL_OPERATOR) -> str:
        """The id of org `slug`, creating it (with its data key) if it does not exist yet."""
        check_org_slug(slug)
        with Session(self._engine) as session:
            org = find_org(session, slug)
            if org is not None:
                return org.id
            try:
                org_id = self.new_org(session, slug, actor=actor).id
                session.commit()
            except IntegrityError:
                session.rollback()  # created concurrently: use the winner's org
                winner = find_org(session, slug)
                if winner is None:
                    raise
                return winner.id
            return org_id

    def create_org(self, slug: str, *, actor: str) -> str:
        """Create org `slug` with its data key; `ConflictError` if it exists."""
        check_org_slug(slug)
        with Session(self._engine) as session:
            if find_org(session, slug) is not None:
                raise _org_exists(slug)
            try:
                org_id = self.new_org(session, slug, actor=actor).id
                session.commit()
            except IntegrityError:
                raise _org_exists(slug) from None
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
        actor: str = LOCAL_OPERATOR,
    ) -> KeyInfo:
        """Seal `secret` as a new active key in `org` (created if needed) and return its metadata.

        `name` defaults to the provider; `protocol` defaults to the provider when
        it is anthropic, openai or google; `base_url` is required for any other
        provider. Raises `KeyExistsError` if the org has an active key named so.
        """
        spec = check_key_spec(provider, name, protocol, base_url)
        check_secret(secret)
        org_id = self.ensure_org(org, actor=actor)
        with Session(self._engine) as session:
            existing = active_by_name(session, org_id, spec.name)
            if existing is not None:
                raise key_exists(org, existing)
            row = ProviderKey(
                id=new_id("key"),
                version=1,
                org_id=org_id,
                name=spec.name,
                provider=spec.provider,
                protocol=spec.protocol.value,
                base_url=spec.base_url,
                status=KeyStatus.ACTIVE.value,
                ciphertext=b"",
                created_by=actor,
            )
            self._seal(session, row, secret)
            info = key_info(org, row)
            try:
                session.add(row)
                self._audit.append(session, _key_event(Action.KEY_ADD, actor, org, row))
                session.commit()
            except IntegrityError:
                session.rollback()
                raced = active_by_name(session, org_id, spec.name)
                if raced is None:
                    raise
                raise key_exists(org, raced) from None
            return info

    def rotate_key(self, *, org: str, ref: str, secret: str, actor: str) -> tuple[KeyInfo, int]:
        """Store `secret` as the next version of key `ref` (name or id) and revoke the current one.

        One transaction: the new version is active and the old one revoked
        together, so every call after it returns uses the new version. Returns
        the new version's metadata and the revoked version number.
        """
        check_secret(secret)
        with Session(self._engine) as session:
            org_row = _org_or_missing(session, org, ref)
            old = active_by_ref(session, org_row, ref)
            new = ProviderKey(
                id=old.id,
                version=old.version + 1,
                org_id=old.org_id,
                name=old.name,
                provider=old.provider,
                protocol=old.protocol,
                base_url=old.base_url,
                status=KeyStatus.ACTIVE.value,
                ciphertext=b"",
                created_by=actor,
            )
            self._seal(session, new, secret)
            info = key_info(org, new)
            event = _key_event(Action.KEY_ROTATE, actor, org, new)
            try:
                self._revoke_version(session, org, old)
                session.add(new)
                self._audit.append(session, replace(event, detail=f"version {old.version} revoked"))
                session.commit()
            except IntegrityError:
                session.rollback()
                raise _changed_meanwhile(org, old.name) from None
            return info, old.version

    def revoke_key(self, *, org: str, ref: str, actor: str) -> KeyInfo:
        """Revoke the active version of key `ref` (name or id); the next call cannot use it."""
        with Session(self._engine) as session:
            org_row = _org_or_missing(session, org, ref)
            row = active_by_ref(session, org_row, ref)
            self._revoke_version(session, org, row)
            self._audit.append(session, _key_event(Action.KEY_REVOKE, actor, org, row))
            session.commit()
            session.refresh(row)
            return key_info(org, row)

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
            return [key_info(org, row) for row in session.exec(statement)]

    def find_key(self, org: str, prefix: str) -> KeyInfo:
        """Metadata of the key model-string PREFIX means in `org`, without decrypting it.

        Same rule and errors as `resolve`: lets a command check every step has a
        key before starting a run.
        """
        with Session(self._engine) as session:
            org_row = _org_or_missing(session, org, prefix)
            return key_info(org, active_for_prefix(session, org_row, prefix))

    def find_active(self, org: str, ref: str) -> KeyInfo:
        """Metadata of the active version of key `ref` (its name or its id) in `org`."""
        with Session(self._engine) as session:
            return key_info(org, active_by_ref(session, _org_or_missing(session, org, ref), ref))

    def resolve(
        self,
        org: str,
        prefix: str,
        *,
        user: str | None = None,
        run_id: str | None = None,
        step: str | None = None,
    ) -> Endpoint:
        """The endpoint for model-string PREFIX in `org`, with its key freshly decrypted.

        PREFIX is a key name in the org's vault or a provider name meaning the
        org's one active key for that provider. `user` is who the run executes
        as (default: the local operator); once the vault has users it must be
        one allowed to run recipes in `org`. The use is audited with `run_id`
        and `step` before the key is returned. Raises `KeyNotFoundError` (with
        what to do) when there is no such key, `DecryptionError` if its
        ciphertext was tampered with, and `NotFoundError`,
        `PermissionDeniedError` or `AuthenticationError` when `user` may not use
        the org's keys.

        On PostgreSQL, a key this store has read before is not read again when
        the statement auditing its use finds every row that read relied on
        unchanged (`vault.reuse`); otherwise it is read as the first time.
        """
        event = AuditRecord(
            action=Action.KEY_USE.value,
            outcome=Outcome.OK,
            actor=user or LOCAL_OPERATOR,
            org=org,
            run_id=run_id,
            step=step,
        )
        with self._busy_lock:
            alone, self._busy = self._busy == 0, self._busy + 1
        try:
            endpoint = self._use_known(org, prefix, event) if alone else None
            return endpoint or self._resolve(org, prefix, event)
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _resolve(self, org: str, prefix: str, event: AuditRecord) -> Endpoint:
        row: KeyVersion | None = None
        remember: KnownUse | None = None
        authorized = False
        try:
            with Session(self._reads, expire_on_commit=False) as session:
                found = key_named(session, org, prefix)  # the usual case in one query
                role = None
                if found is None or found.users_exist:
                    role = _authorize_use(session, org, event.actor)
                authorized = True
                if found is None:
                    org_row = _org_or_missing(session, org, prefix)
                    row = active_for_prefix(session, org_row, prefix)
                    data_key = self._data_key_of(session, org_row, row)
                else:
                    row = found.key
                    sealing = _sealing_key(org, found, found.key)
                    data_key = self._unwrap(sealing)
                    if role is not None or not found.users_exist:
                        remember = KnownUse(org, event.actor, found.key, sealing, role)
                try:
                    secret = unseal(data_key, row.ciphertext, secret_ad(row)).decode()
                except (DecryptionError, UnicodeDecodeError) as e:
                    raise undecryptable(org, row) from e
                # The use is audited in a group commit with other threads' uses (in this
                # session's transaction when no other is committing), and the key is
                # returned only once the transaction holding its event has committed.
                self._audit_batch.record(_used(event, row), session)
        except VaultError as error:
            outcome = Outcome.FAILED if authorized else Outcome.DENIED
            self._audit.record(_used(replace(event, outcome=outcome, detail=str(error)), row))
            raise
        if self._known is not None and remember is not None:
            self._known.keep(remember)
        return _endpoint(row, secret)

    def _use_known(self, org: str, prefix: str, event: AuditRecord) -> Endpoint | None:
        """The key this process read before, if its audited use finds every row unchanged."""
        known = None if self._known is None else self._known.get(org, prefix, event.actor)
        if known is None:
            return None
        try:
            sealed = known.key.ciphertext
            secret = unseal(self._unwrap(known.data_key), sealed, secret_ad(known.key)).decode()
        except (VaultError, UnicodeDecodeError):
            return None  # the master key ring changed under it: read and report the usual way
        unchanged = known.unchanged()
        used = self._audit.append_at_head(
            _used(event, known.key), only_if=unchanged.clause, params=unchanged.params
        )
        if used is None:
            assert self._known is not None
            self._known.forget(org, prefix, event.actor)
            return None
        return _endpoint(known.key, secret)

    def new_org(self, session: Session, slug: str, *, actor: str) -> Org:
        """Add org `slug`, its wrapped data key and its audit event to the caller's transaction."""
        org_id, data_key_id = new_id("org"), new_id("dk")
        kek = self._keks.primary
        org = Org(id=org_id, slug=slug)
        session.add(org)
        session.flush()  # the org row must exist before its data key's foreign key
        session.add(
            OrgDataKey(
                id=data_key_id,
                org_id=org_id,
                kek_id=kek.kek_id,
                wrapped=kek.wrap(new_data_key(), data_key_ad(org_id, data_key_id)),
            )
        )
        self._audit.append(
            session,
            AuditRecord(action=Action.ORG_CREATE.value, outcome=Outcome.OK, actor=actor, org=slug),
        )
        return org

    def _seal(self, session: Session, row: ProviderKey, secret: str) -> None:
        data_key = latest_data_key(session, row.org_id)
        row.ciphertext = seal(self._unwrap(data_key), data_key.id, secret.encode(), secret_ad(row))

    def _revoke_version(self, session: Session, org: str, row: ProviderKey) -> None:
        """Mark exactly this version revoked, or fail if someone changed it meanwhile."""
        result = session.exec(
            update(ProviderKey)
            .where(
                col(ProviderKey.id) == row.id,
                col(ProviderKey.version) == row.version,
                col(ProviderKey.status) == KeyStatus.ACTIVE.value,
            )
            .values(status=KeyStatus.REVOKED.value, revoked_at=datetime.now(UTC))
        )
        if result.rowcount != 1:
            raise _changed_meanwhile(org, row.name)

    def _data_key_of(self, session: Session, org: Org, row: ProviderKey) -> bytes:
        """The data key named in the secret's header, which must belong to the same org."""
        try:
            data_key = session.get(OrgDataKey, key_id_of(row.ciphertext))
            if data_key is None or data_key.org_id != org.id:
                raise DecryptionError("the sealed key names no data key of its org")
            return self._unwrap(data_key)
        except DecryptionError as e:
            raise undecryptable(org.slug, row) from e

    def _unwrap(self, data_key: OrgDataKey | DataKeyRow) -> bytes:
        kek = self._keks.get(data_key.kek_id)
        return kek.unwrap(data_key.wrapped, data_key_ad(data_key.org_id, data_key.id))


def _authorize_use(session: Session, org: str, user: str) -> str | None:
    """Once the vault has users, the run's user must be allowed to run recipes in `org`.

    Returns the user's role there (what `vault.reuse` checks again on the next
    use); None when the vault has no users or `user` is the local operator.
    """
    if not has_users(session):
        return None  # one principal, the local operator: only the org boundary applies
    principal = principal_named(session, user)
    if principal is None:
        raise AuthenticationError(
            f"the run executes as '{user}', who is not a user of this vault (removed?): "
            "start it again as a current user"
        )
    role = check(principal, org, Action.KEY_USE)
    return None if principal.is_local_operator else role.value


def _sealing_key(org: str, found: NamedKey, row: ActiveKey) -> DataKeyRow:
    """Which of the org's data keys (already read with the key) seals `row`."""
    try:
        wanted = key_id_of(row.ciphertext)
    except DecryptionError as e:
        raise undecryptable(org, row) from e
    data_key = next((k for k in found.data_keys if k.id == wanted), None)
    if data_key is None or data_key.org_id != found.org_id:
        raise undecryptable(org, row)
    return data_key


def _endpoint(row: KeyVersion, secret: str) -> Endpoint:
    return Endpoint.for_protocol(
        Protocol(row.protocol),
        SecretKey(secret),
        base_url=row.base_url,
        provider=row.provider,
        key_id=row.id,
        key_version=row.version,
    )


def _org_or_missing(session: Session, org: str, prefix: str) -> Org:
    org_row = find_org(session, org)
    if org_row is None:
        raise KeyNotFoundError(missing(org, prefix))
    return org_row


def _key_event(action: Action, actor: str, org: str, row: ProviderKey) -> AuditRecord:
    return AuditRecord(
        action=action.value,
        outcome=Outcome.OK,
        actor=actor,
        org=org,
        key_id=row.id,
        key_name=row.name,
        key_version=row.version,
    )


def _used(event: AuditRecord, row: KeyVersion | None) -> AuditRecord:
    if row is None:
        return event
    return replace(event, key_id=row.id, key_name=row.name, key_version=row.version)


def _org_exists(slug: str) -> ConflictError:
    return ConflictError(f"org '{slug}' already exists: pick another name")


def _changed_meanwhile(org: str, name: str) -> ConflictError:
    return ConflictError(
        f"key '{name}' in org '{org}' was rotated or revoked by someone else meanwhile: "
        "check `byok keys list --all` and run the command again if still needed"
    )
