"""Who may do what: roles, actions, the role × action matrix, and the one check.

    action          owner  admin  member  viewer
    key.list          ✓      ✓      ✓       ✓     (metadata only: nobody reads a key back)
    usage.read        ✓      ✓      ✓       ✓     (`byok usage`, `byok budgets list`)
    run (key.use)     ✓      ✓      ✓             (`byok run`, `serve`, `deploy`)
    key.add           ✓      ✓
    key.rotate        ✓      ✓
    key.revoke        ✓      ✓
    usage.reprice     ✓      ✓                    (rewrites recorded costs)
    budget.set        ✓      ✓
    budget.remove     ✓      ✓
    audit.read        ✓      ✓
    user.list         ✓      ✓
    user.add          ✓
    user.remove       ✓

Install-wide actions (creating orgs, master-key operations) need the owner role
in org `default`, the install's own org. Without `BYOK_TOKEN` the principal is
the local operator, owner of every org that has no owner of its own: on a fresh
install with no users that is every org, `default` included, so a single
operator never needs a token. Once an org has an owner, the local operator no
longer sees it; once `default` has one, it no longer acts for the install.

`check` is pure: it raises `NotFoundError` when the principal has no role in
the org, with exactly the message a missing org gets, so nobody can probe
which orgs exist; and `PermissionDeniedError` when the role lacks the action.
Callers audit the denial (see `vault.service`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from vault.errors import NotFoundError, PermissionDeniedError

__all__ = [
    "DEFAULT_ORG",
    "INSTALL_ACTIONS",
    "LOCAL_OPERATOR",
    "PERMISSIONS",
    "Action",
    "Principal",
    "Role",
    "check",
    "org_not_found",
]

DEFAULT_ORG = "default"
LOCAL_OPERATOR = "local"  # the principal's name when no token is given


class Role(StrEnum):
    """A user's role in one org, most powerful first."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


class Action(StrEnum):
    """Something a principal asks to do; also the audit event's `action`."""

    KEY_LIST = "key.list"
    USAGE_READ = "usage.read"
    KEY_USE = "key.use"
    KEY_ADD = "key.create"
    KEY_ROTATE = "key.rotate"
    KEY_REVOKE = "key.revoke"
    USAGE_REPRICE = "usage.reprice"
    BUDGET_SET = "budget.set"
    BUDGET_REMOVE = "budget.remove"
    BREAKER_RESET = "breaker.reset"
    AUDIT_READ = "audit.read"
    USER_LIST = "user.list"
    USER_ADD = "user.add"
    USER_REMOVE = "user.remove"
    ORG_CREATE = "org.create"
    MASTER_KEY = "master.key"


_READ = frozenset({Action.KEY_LIST, Action.USAGE_READ})
_RUN = _READ | {Action.KEY_USE}
_MANAGE = _RUN | {
    Action.KEY_ADD,
    Action.KEY_ROTATE,
    Action.KEY_REVOKE,
    Action.USAGE_REPRICE,
    Action.BUDGET_SET,
    Action.BUDGET_REMOVE,
    Action.BREAKER_RESET,
    Action.AUDIT_READ,
    Action.USER_LIST,
}
_OWN = _MANAGE | {Action.USER_ADD, Action.USER_REMOVE, Action.ORG_CREATE, Action.MASTER_KEY}

PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    Role.OWNER: _OWN,
    Role.ADMIN: _MANAGE,
    Role.MEMBER: _RUN,
    Role.VIEWER: _READ,
}

# Checked against the principal's role in `default`, whatever org the command names.
INSTALL_ACTIONS = frozenset({Action.ORG_CREATE, Action.MASTER_KEY})

_WHAT = {
    Action.KEY_LIST: "see key metadata",
    Action.USAGE_READ: "read usage",
    Action.KEY_USE: "run recipes with the org's keys",
    Action.KEY_ADD: "add keys",
    Action.KEY_ROTATE: "rotate keys",
    Action.KEY_REVOKE: "revoke keys",
    Action.USAGE_REPRICE: "reprice recorded usage",
    Action.BUDGET_SET: "set budgets",
    Action.BUDGET_REMOVE: "remove budgets",
    Action.BREAKER_RESET: "reset circuit breakers",
    Action.AUDIT_READ: "read the audit log",
    Action.USER_LIST: "list users",
    Action.USER_ADD: "add users",
    Action.USER_REMOVE: "remove users",
    Action.ORG_CREATE: "create orgs",
    Action.MASTER_KEY: "manage the master key",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a command or run acts as: a user, or the local operator (`user_id` None).

    `roles` maps org slugs to the principal's role there; an org missing from
    it does not exist as far as this principal is concerned.
    """

    name: str
    user_id: str | None = None
    roles: Mapping[str, Role] = field(default_factory=dict)

    @property
    def is_local_operator(self) -> bool:
        """True for the token-less operator of an install (no user row)."""
        return self.user_id is None

    def role_in(self, org: str) -> Role | None:
        """The principal's role in `org`, or None when it does not belong to it."""
        return self.roles.get(org)


def check(principal: Principal, org: str, action: Action) -> Role:
    """The principal's role in `org` if it allows `action`; otherwise raise.

    Install-wide actions are checked against the role in `default`, and a
    missing role there is a permission error, not a missing org.
    """
    where = DEFAULT_ORG if action in INSTALL_ACTIONS else org
    role = principal.role_in(where)
    if role is None and action not in INSTALL_ACTIONS:
        raise org_not_found(org)
    if role is None or action not in PERMISSIONS[role]:
        raise PermissionDeniedError(_denied(principal, where, role, action))
    return role


def org_not_found(org: str) -> NotFoundError:
    """The one error for an org that does not exist or that the principal is not in."""
    return NotFoundError(
        f"org '{org}' not found: check --org (`byok orgs list` shows the orgs you belong to)"
    )


def _denied(principal: Principal, org: str, role: Role | None, action: Action) -> str:
    has = f"is {role.value}" if role is not None else "has no role"
    if action in INSTALL_ACTIONS:
        return (
            f"permission denied: to {_WHAT[action]} you need the owner role in org "
            f"'{DEFAULT_ORG}', the install's own org, and '{principal.name}' {has} there"
        )
    allowed = " or ".join(r.value for r in Role if action in PERMISSIONS[r])
    return (
        f"permission denied: '{principal.name}' {has} in org '{org}', and only {allowed} "
        f"may {_WHAT[action]}; ask an owner of '{org}'"
    )
