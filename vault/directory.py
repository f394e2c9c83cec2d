"""Who exists: users, their roles per org, and the principal a token or a name stands for.

Users are global (one email, one token) and belong to orgs through
memberships, each with one role. The functions here read and write inside the
caller's session, so the service can record the audit event in the same
transaction as the change; none of them checks permissions (`vault.access`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, func, select

from vault.access import DEFAULT_ORG, LOCAL_OPERATOR, Principal, Role
from vault.errors import ConflictError, NotFoundError
from vault.models import Membership, Org, User
from vault.tokens import new_token, token_hash

__all__ = [
    "MemberInfo",
    "NewMember",
    "add_member",
    "find_org",
    "has_users",
    "local_operator",
    "members",
    "principal_for_token",
    "principal_named",
    "remove_member",
]


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """A user's membership of one org: never the token or its hash."""

    email: str
    org: str
    role: Role
    added_at: datetime
    added_by: str | None

    def to_json(self) -> dict[str, Any]:
        """The stable `byok users list --json` shape."""
        return {
            "email": self.email,
            "org": self.org,
            "role": self.role.value,
            "added_at": self.added_at.isoformat(),
            "added_by": self.added_by,
        }


@dataclass(frozen=True, slots=True)
class NewMember:
    """The membership just created, and the user's token if the user is new (shown once)."""

    member: MemberInfo
    token: str | None

    def __repr__(self) -> str:
        shown = "None" if self.token is None else "'**********'"
        return f"NewMember(member={self.member!r}, token={shown})"


def find_org(session: Session, slug: str) -> Org | None:
    """The org named `slug`, if it exists."""
    return session.exec(select(Org).where(Org.slug == slug)).first()


def has_users(session: Session) -> bool:
    """Whether any user exists: until then the vault has one principal, the local operator."""
    return session.exec(select(User.id).limit(1)).first() is not None


def local_operator(session: Session) -> Principal:
    """The token-less principal: owner of every org that has no owner of its own.

    On a fresh install that is every org, `default` included (also before it
    exists); an org that gets an owner disappears from its view.
    """
    has_owner = (
        select(Membership.org_id)
        .where(Membership.org_id == Org.id, Membership.role == Role.OWNER.value)
        .exists()
    )
    ownerless = set(session.exec(select(Org.slug).where(~has_owner)))
    if find_org(session, DEFAULT_ORG) is None:
        ownerless.add(DEFAULT_ORG)
    return Principal(name=LOCAL_OPERATOR, roles=dict.fromkeys(sorted(ownerless), Role.OWNER))


def principal_for_token(session: Session, token: str) -> Principal | None:
    """The user whose token this is, with their roles; None for an unknown token."""
    user = session.exec(select(User).where(User.token_hash == token_hash(token))).first()
    return None if user is None else _principal(session, user)


def principal_named(session: Session, name: str) -> Principal | None:
    """The principal a run executes as: a user's email, or the local operator."""
    if name == LOCAL_OPERATOR:
        return local_operator(session)
    user = session.exec(select(User).where(User.email == name)).first()
    return None if user is None else _principal(session, user)


def add_member(session: Session, org: Org, email: str, role: Role, *, by: str) -> NewMember:
    """Give `email` a role in `org`, creating the user (and their token) if new.

    Raises `ConflictError` when the user is already in the org. The caller
    commits; a concurrent insert of the same email fails that commit.
    """
    user = session.exec(select(User).where(User.email == email)).first()
    token: str | None = None
    if user is None:
        token = new_token()
        user = User(id=f"usr_{secrets.token_hex(8)}", email=email, token_hash=token_hash(token))
        user.created_by = by
        session.add(user)
        session.flush()
    else:
        current = session.get(Membership, (user.id, org.id))
        if current is not None:
            raise ConflictError(
                f"{email} is already {current.role} in org '{org.slug}': to change the role, "
                f"`byok users remove {email} --org {org.slug}` and add them again"
            )
    membership = Membership(user_id=user.id, org_id=org.id, role=role.value, created_by=by)
    session.add(membership)
    session.flush()
    return NewMember(member=_info(email, org.slug, membership), token=token)


def remove_member(session: Session, org: Org, email: str) -> bool:
    """Take `email` out of `org`; deletes the user (and so their token) if no org is left.

    Returns whether the user was deleted. Raises `NotFoundError` when they are
    not in the org, and `ConflictError` when they are its last owner.
    """
    user = session.exec(select(User).where(User.email == email)).first()
    membership = None if user is None else session.get(Membership, (user.id, org.id))
    if user is None or membership is None:
        raise NotFoundError(f"no user {email} in org '{org.slug}' (`byok users list` shows them)")
    if membership.role == Role.OWNER.value and _owners(session, org) == 1:
        raise ConflictError(
            f"{email} is the last owner of org '{org.slug}': add another owner first, "
            "or nobody could manage its users again"
        )
    session.delete(membership)
    session.flush()
    remaining = session.exec(
        select(func.count()).select_from(Membership).where(Membership.user_id == user.id)
    ).one()
    if remaining == 0:
        session.delete(user)
        session.flush()
        return True
    return False


def members(session: Session, org: Org) -> list[MemberInfo]:
    """The org's members, by email."""
    rows = session.exec(
        select(User.email, Membership)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(Membership.org_id == org.id)
        .order_by(col(User.email))
    )
    return [_info(email, org.slug, membership) for email, membership in rows]


def _principal(session: Session, user: User) -> Principal:
    rows = session.exec(
        select(Org.slug, Membership.role)
        .join(Membership, col(Membership.org_id) == col(Org.id))
        .where(Membership.user_id == user.id)
    )
    return Principal(name=user.email, user_id=user.id, roles={s: Role(r) for s, r in rows})


def _owners(session: Session, org: Org) -> int:
    return session.exec(
        select(func.count())
        .select_from(Membership)
        .where(Membership.org_id == org.id, Membership.role == Role.OWNER.value)
    ).one()


def _info(email: str, org: str, membership: Membership) -> MemberInfo:
    added_at = membership.created_at
    if added_at.tzinfo is None:  # SQLite drops the zone; every timestamp is written in UTC
        added_at = added_at.replace(tzinfo=UTC)
    return MemberInfo(
        email=email,
        org=org,
        role=Role(membership.role),
        added_at=added_at,
        added_by=membership.created_by,
    )
