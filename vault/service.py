"""The vault as one principal sees it: every action checked against its role, and audited.

`VaultService.open()` signs in with `BYOK_TOKEN` (or as the local operator
when it is unset; see `vault.access`), and each method checks the role matrix
before touching anything. A refusal is recorded in the audit chain as a
`denied` event and raised; an allowed action that fails is recorded as
`failed`. Every CLI command goes through here; `authorize_run` is the check the
engine's entry points make before a run starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from providers.types import Protocol
from vault.access import (
    DEFAULT_ORG,
    INSTALL_ACTIONS,
    PERMISSIONS,
    Action,
    Principal,
    Role,
    check,
)
from vault.audit import AuditEntry, AuditRecord, ChainReport, Outcome
from vault.directory import (
    MemberInfo,
    NewMember,
    add_member,
    find_org,
    has_users,
    local_operator,
    members,
    principal_for_token,
    remove_member,
)
from vault.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    VaultError,
)
from vault.inputs import check_email, check_key_spec, check_org_slug
from vault.keyfile import locked, remove_key
from vault.masterkey import KekProvider, MasterKeyRing, load_master_key_ring
from vault.models import Org
from vault.rewrap import KekStatus, Rotation, kek_status, retire, rotate
from vault.settings import TOKEN_ENV
from vault.store import KeyInfo, KeyStore

__all__ = ["TOKEN_ENV", "NewOrg", "RunGrant", "VaultService", "authorize_run"]

# Audit actions beyond `Action`: outcomes of sign-in and of master-key operations.
SIGN_IN = "auth.sign-in"
MASTER_ROTATE = "master.rotate"
MASTER_RETIRE = "master.retire"

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RunGrant:
    """Who a run executes as, and the one org whose keys it may use."""

    org: str
    user: str


@dataclass(frozen=True, slots=True)
class NewOrg:
    """An org just created, and its first owner (with their token if they are new).

    `owner` is None for an org the local operator created without one: it owns
    it until someone is added as owner.
    """

    org: str
    owner: NewMember | None

    def to_json(self) -> dict[str, Any]:
        """The stable `byok orgs create --json` shape (the token appears only here, once)."""
        if self.owner is None:
            return {"org": self.org, "owner": None, "token": None}
        return {"org": self.org, "owner": self.owner.member.email, "token": self.owner.token}


class VaultService:
    """The key store, the directory and the audit log, acting as `principal`."""

    def __init__(self, store: KeyStore, principal: Principal) -> None:
        """Use `open()`, which signs in; this trusts `principal` as given."""
        self._store = store
        self._principal = principal

    @classmethod
    def open(
        cls, url: str | None = None, *, token: str | None = None, keks: KekProvider | None = None
    ) -> VaultService:
        """Open the vault and sign in with `token` (default: `BYOK_TOKEN`).

        Raises `AuthenticationError` (audited) when the token matches no user,
        or when it is unset and the local operator no longer acts for anyone.
        """
        store = KeyStore.open(url, keks=keks)
        if token is None:
            token = os.environ.get(TOKEN_ENV, "")
        return cls(store, _sign_in(store, token.strip()))

    @property
    def principal(self) -> Principal:
        """Who this service acts as."""
        return self._principal

    @property
    def store(self) -> KeyStore:
        """The underlying key store (no permission checks: for trusted callers)."""
        return self._store

    def org(self, org: str | None) -> str:
        """The org a command means: `--org`, else `default` or the principal's only org."""
        if org is not None:
            return check_org_slug(org)
        roles = self._principal.roles
        if DEFAULT_ORG in roles or not roles or self._principal.is_local_operator:
            return DEFAULT_ORG
        if len(roles) == 1:
            return next(iter(roles))
        raise InvalidInputError(
            f"'{self._principal.name}' belongs to several orgs ({', '.join(sorted(roles))}): "
            "say which with --org"
        )

    def _creates_on_first_use(self, org: str) -> bool:
        """Whether `org` does not exist yet and the local operator, as install owner, owns it.

        `byok keys add openai --org acme` has always created `acme` on a fresh
        install. The local operator may do so while it owns `default` (it is
        then the install's owner); the new org has no owner, so it owns it. The
        same holds for ledger rows and budgets of an org the vault has no row for.
        """
        principal = self._principal
        if not principal.is_local_operator or principal.role_in(org) is not None:
            return False
        if principal.role_in(DEFAULT_ORG) is not Role.OWNER:
            return False
        with Session(self._store.engine) as session:
            return find_org(session, org) is None

    def authorize(self, org: str | None, action: Action) -> str:
        """The org a command means (see `org`), once `action` is allowed there (audited if not).

        For actions whose data lives outside the vault (the ledger, budgets):
        the caller does the work, and records it with `record` if it changed
        something.
        """
        org = self.org(org)
        if not self._creates_on_first_use(org):
            self.require(org, action)
        return org

    def orgs_for(self, org: str | None, action: Action, *, seen: Iterable[str] = ()) -> list[str]:
        """`[org]` once `action` is allowed there; with no org, every org where it is.

        For commands that may span orgs (`byok usage`, `byok budgets list`):
        without `--org` they cover all of the principal's orgs whose role
        allows the action, plus those of `seen` (orgs the caller's data
        mentions) that the local operator owns because the vault has no row
        for them. When no org allows the action, the denial is audited and raised.
        """
        if org is not None:
            return [self.authorize(org, action)]
        roles = self._principal.roles
        allowed = {o for o, role in roles.items() if action in PERMISSIONS[role]}
        if self._principal.is_local_operator:
            allowed |= {o for o in set(seen) - set(roles) if self._creates_on_first_use(o)}
        if not allowed:
            self.require(self.org(None) if len(roles) <= 1 else min(roles), action)
        return sorted(allowed)

    def record(
        self, action: Action, org: str, *, detail: str | None = None, failed: bool = False
    ) -> None:
        """Audit an action done outside the vault (e.g. a budget change) by this principal."""
        outcome = Outcome.FAILED if failed else Outcome.OK
        self._record(action.value, outcome, org, detail=detail)

    def require(self, org: str, action: Action) -> Role:
        """The principal's role if it allows `action` in `org`; else audit the denial and raise."""
        try:
            return check(self._principal, org, action)
        except (NotFoundError, PermissionDeniedError) as error:
            self._record(action.value, Outcome.DENIED, org, detail=str(error))
            if self._principal.is_local_operator:  # the likeliest cause: no BYOK_TOKEN
                raise type(error)(
                    f"{error}; without {TOKEN_ENV} you act as the local operator, who owns only "
                    "the orgs that have no owner"
                ) from None
            raise

    # --- keys ---------------------------------------------------------------------

    def add_key(
        self,
        org: str | None,
        *,
        provider: str,
        secret: str | Callable[[], str],
        name: str | None = None,
        protocol: Protocol | None = None,
        base_url: str | None = None,
    ) -> KeyInfo:
        """Add a provider key to the org (owner, admin).

        `secret` may be a function: it is called only once the principal's role
        and the key's metadata have been checked, so nobody is asked for a key
        they may not store.
        """
        org = self.org(org)
        creates = self._creates_on_first_use(org)
        if not creates:
            self.require(org, Action.KEY_ADD)
        spec = check_key_spec(provider, name, protocol, base_url)
        value = secret() if callable(secret) else secret
        info = self._audited(
            Action.KEY_ADD,
            org,
            lambda: self._store.add_key(
                org=org,
                provider=spec.provider,
                secret=value,
                name=spec.name,
                protocol=spec.protocol,
                base_url=spec.base_url,
                actor=self._principal.name,
            ),
            key_name=spec.name,
        )
        if creates:
            roles = {**self._principal.roles, org: Role.OWNER}
            self._principal = replace(self._principal, roles=roles)
        return info

    def rotate_key(
        self, org: str | None, ref: str, secret: str | Callable[[], str]
    ) -> tuple[KeyInfo, int]:
        """Replace key `ref`'s active version with `secret` (owner, admin); see `KeyStore`.

        A `secret` function is called only after the role check and once the key
        is known to exist.
        """
        org = self.org(org)
        self.require(org, Action.KEY_ROTATE)

        def rotate() -> tuple[KeyInfo, int]:
            if callable(secret):
                self._store.find_active(org, ref)
            value = secret() if callable(secret) else secret
            actor = self._principal.name
            return self._store.rotate_key(org=org, ref=ref, secret=value, actor=actor)

        return self._audited(Action.KEY_ROTATE, org, rotate, key_name=ref)

    def revoke_key(self, org: str | None, ref: str) -> KeyInfo:
        """Revoke key `ref`'s active version (owner, admin)."""
        org = self.org(org)
        self.require(org, Action.KEY_REVOKE)
        return self._audited(
            Action.KEY_REVOKE,
            org,
            lambda: self._store.revoke_key(org=org, ref=ref, actor=self._principal.name),
            key_name=ref,
        )

    def list_keys(self, org: str | None, *, include_revoked: bool = False) -> list[KeyInfo]:
        """Key metadata of the org (every role); never a key."""
        org = self.org(org)
        if self._creates_on_first_use(org):
            return []  # an org the local operator would create by adding a key
        self.require(org, Action.KEY_LIST)
        return self._store.list_keys(org, include_revoked=include_revoked)

    def authorize_run(self, org: str | None, user: str | None = None) -> RunGrant:
        """Check the principal may run recipes with the org's keys (owner, admin, member).

        A run executes as the principal. `user` may name it again; only the
        local operator of a vault without users may label runs with another
        name, since there is nobody to confuse it with.
        """
        org = self.org(org)
        self.require(org, Action.KEY_USE)
        name = self._principal.name
        if user is not None and user != name:
            with Session(self._store.engine) as session:
                labelled = self._principal.is_local_operator and not has_users(session)
            if not labelled:
                error = PermissionDeniedError(
                    f"permission denied: runs execute as the principal of {TOKEN_ENV} "
                    f"('{name}'), not as '{user}'; drop --user or use their token"
                )
                self._record(Action.KEY_USE.value, Outcome.DENIED, org, detail=str(error))
                raise error
        return RunGrant(org=org, user=user or name)

    # --- orgs and users -----------------------------------------------------------

    def create_org(self, slug: str, *, owner: str | None = None) -> NewOrg:
        """Create an org with its first owner (install owners only).

        `owner` is an email (a new user gets a token, shown once). Without it a
        user becomes the owner themself, and the local operator creates an org
        with no owner, which it then owns until someone is added as owner.
        """
        slug = check_org_slug(slug)
        self.require(DEFAULT_ORG, Action.ORG_CREATE)
        by = self._principal.name
        email: str | None = check_email(owner) if owner is not None else None
        if email is None and not self._principal.is_local_operator:
            email = by

        def create() -> NewMember | None:
            with Session(self._store.engine) as session:
                if find_org(session, slug) is not None:
                    raise ConflictError(f"org '{slug}' already exists: pick another name")
                org = self._store.new_org(session, slug, actor=by)
                new = None
                if email is not None:
                    new = add_member(session, org, email, Role.OWNER, by=by)
                    self._append(session, Action.USER_ADD, slug, detail=f"{email} as owner")
                try:
                    session.commit()
                except IntegrityError:
                    raise ConflictError(
                        f"org '{slug}' or its owner was created meanwhile: run the command again"
                    ) from None
                return new

        new = self._audited(Action.ORG_CREATE, slug, create)
        if new is None:  # an ownerless org: the local operator acts as its owner
            self._principal = replace(
                self._principal, roles={**self._principal.roles, slug: Role.OWNER}
            )
        return NewOrg(org=slug, owner=new)

    def my_orgs(self) -> dict[str, Role]:
        """The orgs the principal belongs to, with its role in each."""
        return dict(sorted(self._principal.roles.items()))

    def add_user(self, email: str, *, org: str | None, role: Role) -> NewMember:
        """Give `email` a role in the org (owner); a new user's token is returned once."""
        org = self.org(org)
        self.require(org, Action.USER_ADD)
        email = check_email(email)

        def add() -> NewMember:
            self._store.ensure_org(org, actor=self._principal.name)
            with Session(self._store.engine) as session:
                org_row = _existing(session, org)
                new = add_member(session, org_row, email, role, by=self._principal.name)
                self._append(session, Action.USER_ADD, org, detail=f"{email} as {role.value}")
                try:
                    session.commit()
                except IntegrityError:
                    raise ConflictError(
                        f"{email} was added by someone else meanwhile: `byok users list` shows them"
                    ) from None
                return new

        return self._audited(Action.USER_ADD, org, add)

    def remove_user(self, email: str, *, org: str | None) -> bool:
        """Take `email` out of the org (owner); True when that deleted the user and token."""
        org = self.org(org)
        self.require(org, Action.USER_REMOVE)
        email = check_email(email)

        def remove() -> bool:
            with Session(self._store.engine) as session:
                deleted = remove_member(session, _existing(session, org), email)
                gone = " (no org left: user and token deleted)" if deleted else ""
                self._append(session, Action.USER_REMOVE, org, detail=f"{email}{gone}")
                session.commit()
                return deleted

        return self._audited(Action.USER_REMOVE, org, remove)

    def list_users(self, org: str | None) -> list[MemberInfo]:
        """The org's members and their roles (owner, admin)."""
        org = self.org(org)
        self.require(org, Action.USER_LIST)
        with Session(self._store.engine) as session:
            org_row = find_org(session, org)
            return [] if org_row is None else members(session, org_row)

    # --- audit --------------------------------------------------------------------

    def audit_entries(self, org: str | None, *, limit: int = 50) -> list[AuditEntry]:
        """The org's newest events (owner, admin); `default` also shows install-wide ones."""
        org = self.org(org)
        self.require(org, Action.AUDIT_READ)
        audit = self._store.audit
        return audit.entries(orgs=[org], include_install=org == DEFAULT_ORG, limit=limit)

    def verify_audit(self, org: str | None) -> ChainReport:
        """Verify the whole chain (owner, admin of any org: it reveals counts, not events)."""
        self.require(self.org(org), Action.AUDIT_READ)
        return self._store.audit.verify()

    # --- master key ---------------------------------------------------------------

    def master_status(self) -> list[KekStatus]:
        """Every KEK and what it wraps (install owners)."""
        self.require(DEFAULT_ORG, Action.MASTER_KEY)
        return kek_status(self._store.engine, self._store.keks)

    def rotate_master(self, *, after_row: Callable[[str], None] | None = None) -> Rotation:
        """Re-wrap every data key under a new first KEK (install owners); see `vault.rewrap`.

        Resumes an interrupted rotation; with a ring from a key file and nothing
        left to resume, first adds a new random KEK to the file.
        """
        self.require(DEFAULT_ORG, Action.MASTER_KEY)
        self._record(MASTER_ROTATE, Outcome.OK, None, detail="started")
        engine = self._store.engine
        keks, rotation = self._audited_install(
            MASTER_ROTATE, lambda: rotate(engine, self._store.keks, after_row=after_row)
        )
        self._store = KeyStore(engine, keks)
        self._record(MASTER_ROTATE, Outcome.OK, None, detail=rotation.summary())
        return rotation

    def retire_kek(self, kek_id: str) -> Path | None:
        """Retire a KEK nothing uses (install owners); returns the key file it was removed from."""
        self.require(DEFAULT_ORG, Action.MASTER_KEY)
        keks = self._store.keks

        def retire_it() -> Path | None:
            retire(self._store.engine, keks, kek_id)
            path = keks.path if isinstance(keks, MasterKeyRing) else None
            if path is None:
                return None
            with locked(path):
                removed = remove_key(path, kek_id)
            self._store = KeyStore(self._store.engine, load_master_key_ring(local=True))
            return path if removed else None

        path = self._audited_install(MASTER_RETIRE, retire_it)
        where = f"; removed from {path}" if path else ""
        self._record(MASTER_RETIRE, Outcome.OK, None, detail=f"retired '{kek_id}'{where}")
        return path

    # --- internals ----------------------------------------------------------------

    def _audited_install(self, action: str, operation: Callable[[], _T]) -> _T:
        try:
            return operation()
        except VaultError as error:
            self._record(action, Outcome.FAILED, None, detail=str(error))
            raise

    def _audited(
        self, action: Action, org: str, operation: Callable[[], _T], key_name: str | None = None
    ) -> _T:
        """Run an allowed `operation`; if it fails, record the failure and re-raise."""
        try:
            return operation()
        except VaultError as error:
            self._record(action.value, Outcome.FAILED, org, detail=str(error), key_name=key_name)
            raise

    def _record(
        self,
        action: str,
        outcome: Outcome,
        org: str | None,
        *,
        detail: str | None = None,
        key_name: str | None = None,
    ) -> None:
        install = action in {a.value for a in INSTALL_ACTIONS} and org == DEFAULT_ORG
        self._store.audit.record(
            AuditRecord(
                action=action,
                outcome=outcome,
                actor=self._principal.name,
                org=None if install else org,
                key_name=key_name,
                detail=detail,
            )
        )

    def _append(self, session: Session, action: Action, org: str, *, detail: str) -> None:
        self._store.audit.append(
            session,
            AuditRecord(
                action=action.value,
                outcome=Outcome.OK,
                actor=self._principal.name,
                org=org,
                detail=detail,
            ),
        )


def authorize_run(org: str | None, user: str | None = None, *, url: str | None = None) -> RunGrant:
    """Sign in with `BYOK_TOKEN` and check the principal may run recipes in `org`.

    The engine's entry points (`byok run`) call this before starting Prefect;
    the returned org and user go to the run, whose every key use is checked
    and audited again inside its tasks.
    """
    return VaultService.open(url).authorize_run(org, user)


def _sign_in(store: KeyStore, token: str) -> Principal:
    with Session(store.engine) as session:
        if token:
            principal = principal_for_token(session, token)
            if principal is not None:
                return principal
            problem = (
                f"{TOKEN_ENV} is not a valid token for this vault (its user was removed, or it "
                "belongs to another vault): ask an owner to add you with `byok users add`"
            )
            actor = "(unknown token)"
        else:
            principal = local_operator(session)
            if principal.roles:
                return principal
            problem = (
                f"set {TOKEN_ENV} to your personal access token: org 'default' has an owner, so "
                "commands without a token no longer act as its owner"
            )
            actor = principal.name
    store.audit.record(
        AuditRecord(action=SIGN_IN, outcome=Outcome.DENIED, actor=actor, detail=problem)
    )
    raise AuthenticationError(problem)


def _existing(session: Session, org: str) -> Org:
    org_row = find_org(session, org)
    if org_row is None:
        raise NotFoundError(f"org '{org}' not found")
    return org_row
