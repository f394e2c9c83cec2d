"""The role × action matrix, as the pure rule and as users of each role actually meet it.

The expected matrix is the issue's wording, written out once here: owner manages
users and everything else; admin adds, rotates and revokes keys; member runs
recipes with the org's keys and sees key metadata; viewer sees metadata and
usage only. Another org's objects are "not found", never "forbidden".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.vault.conftest import Team
from vault import (
    AuthenticationError,
    KeyStore,
    NotFoundError,
    PermissionDeniedError,
    Role,
    VaultService,
)
from vault.access import INSTALL_ACTIONS, PERMISSIONS, Action, Principal, check
from vault.audit import Outcome

OWNER, ADMIN, MEMBER, VIEWER = Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER

# Who may do what inside one org, in the words.
EXPECTED: dict[Action, set[Role]] = {
    Action.KEY_LIST: {OWNER, ADMIN, MEMBER, VIEWER},  # "sees key metadata"
    Action.USAGE_READ: {OWNER, ADMIN, MEMBER, VIEWER},  # "viewer sees metadata and usage"
    Action.KEY_USE: {OWNER, ADMIN, MEMBER},  # "member runs recipes with the org's keys"
    Action.KEY_ADD: {OWNER, ADMIN},  # "admin adds, rotates and revokes keys"
    Action.KEY_ROTATE: {OWNER, ADMIN},
    Action.KEY_REVOKE: {OWNER, ADMIN},
    Action.USAGE_REPRICE: {OWNER, ADMIN},  # rewrites recorded costs: like managing keys
    Action.BUDGET_SET: {OWNER, ADMIN},
    Action.BUDGET_REMOVE: {OWNER, ADMIN},
    Action.BREAKER_RESET: {OWNER, ADMIN},  # an operational override, like managing keys
    Action.AUDIT_READ: {OWNER, ADMIN},
    Action.USER_LIST: {OWNER, ADMIN},
    Action.USER_ADD: {OWNER},  # "owner manages users"
    Action.USER_REMOVE: {OWNER},
    Action.ORG_CREATE: {OWNER},  # install-wide: the owner role in `default`
    Action.MASTER_KEY: {OWNER},
}


def test_every_action_has_an_expectation() -> None:
    assert set(EXPECTED) == set(Action)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_the_pure_matrix(role: Role, action: Action) -> None:
    org = "default" if action in INSTALL_ACTIONS else "acme"
    principal = Principal(name="ana@example.com", user_id="usr_1", roles={org: role})

    if role in EXPECTED[action]:
        assert check(principal, org, action) is role
        assert action in PERMISSIONS[role]
    else:
        with pytest.raises(PermissionDeniedError, match="permission denied"):
            check(principal, org, action)


@pytest.mark.parametrize("action", [a for a in Action if a not in INSTALL_ACTIONS])
def test_an_org_without_the_principal_is_not_found_whether_or_not_it_exists(
    action: Action,
) -> None:
    principal = Principal(name="ana@example.com", user_id="usr_1", roles={"acme": OWNER})

    with pytest.raises(NotFoundError) as other:
        check(principal, "globex", action)
    with pytest.raises(NotFoundError) as missing:
        check(principal, "globes", action)

    assert str(other.value).replace("globex", "X") == str(missing.value).replace("globes", "X")
    assert "permission" not in str(other.value)


def test_install_actions_need_the_owner_role_in_default() -> None:
    acme_owner = Principal(name="ana@example.com", user_id="usr_1", roles={"acme": OWNER})
    default_admin = Principal(name="al@example.com", user_id="usr_2", roles={"default": ADMIN})

    for principal in (acme_owner, default_admin):
        with pytest.raises(PermissionDeniedError, match="owner role in org 'default'"):
            check(principal, "acme", Action.ORG_CREATE)


# --- the same matrix, met by real users through the service --------------------------

Attempt = Callable[[VaultService, Role], Any]

ATTEMPTS: dict[Action, Attempt] = {
    Action.KEY_LIST: lambda v, _: v.list_keys("acme"),
    # Ledger and budget commands do their own work once `authorize` allows it.
    Action.USAGE_READ: lambda v, _: v.orgs_for("acme", Action.USAGE_READ),
    Action.USAGE_REPRICE: lambda v, _: v.authorize("acme", Action.USAGE_REPRICE),
    Action.BUDGET_SET: lambda v, _: v.authorize("acme", Action.BUDGET_SET),
    Action.BUDGET_REMOVE: lambda v, _: v.authorize("acme", Action.BUDGET_REMOVE),
    Action.BREAKER_RESET: lambda v, _: v.authorize("acme", Action.BREAKER_RESET),
    Action.KEY_USE: lambda v, _: v.authorize_run("acme"),
    Action.KEY_ADD: lambda v, r: v.add_key("acme", provider="openai", name=f"n-{r}", secret="sk"),
    Action.KEY_ROTATE: lambda v, r: v.rotate_key("acme", f"rot-{r}", "sk-rotated"),
    Action.KEY_REVOKE: lambda v, r: v.revoke_key("acme", f"rev-{r}"),
    Action.AUDIT_READ: lambda v, _: v.audit_entries("acme"),
    Action.USER_LIST: lambda v, _: v.list_users("acme"),
    Action.USER_ADD: lambda v, r: v.add_user(f"new-{r}@acme.example", org="acme", role=VIEWER),
    Action.USER_REMOVE: lambda v, _: v.remove_user("spare@acme.example", org="acme"),
    Action.ORG_CREATE: lambda v, r: v.create_org(f"org-{r}"),
    Action.MASTER_KEY: lambda v, _: v.master_status(),
}


@pytest.fixture
def prepared(team: Team, store: KeyStore) -> Team:
    """Keys to rotate and revoke for each role, and a spare user to remove."""
    for role in Role:
        store.add_key(org="acme", provider="openai", name=f"rot-{role}", secret="sk-1")
        store.add_key(org="acme", provider="openai", name=f"rev-{role}", secret="sk-1")
    team.as_role(OWNER).add_user("spare@acme.example", org="acme", role=VIEWER)
    return team


@pytest.mark.parametrize("role", list(Role))
def test_each_role_can_do_exactly_what_the_matrix_says(prepared: Team, role: Role) -> None:
    outcomes: dict[Action, bool] = {}
    for action, attempt in ATTEMPTS.items():
        vault = prepared.as_role(role)
        try:
            attempt(vault, role)
            outcomes[action] = True
        except PermissionDeniedError:
            outcomes[action] = False
        if action is Action.USER_REMOVE and outcomes[action]:
            prepared.as_role(OWNER).add_user("spare@acme.example", org="acme", role=VIEWER)

    expected = {action: role in EXPECTED[action] for action in ATTEMPTS}
    # Install-wide actions: acme's owner is nobody in `default`, so even they are refused.
    expected |= {action: False for action in INSTALL_ACTIONS}
    assert outcomes == expected


def test_every_refusal_is_an_audit_event(prepared: Team, store: KeyStore) -> None:
    with pytest.raises(PermissionDeniedError):
        prepared.as_role(VIEWER).rotate_key("acme", "rot-viewer", "sk-nope")
    with pytest.raises(NotFoundError):
        prepared.as_role(VIEWER).list_keys("globex")

    events = store.audit.entries(orgs=None)
    denied = [e.record for e in events if e.record.outcome is Outcome.DENIED]
    assert [(d.actor, d.action, d.org) for d in denied] == [
        ("viewer@acme.example", "key.rotate", "acme"),
        ("viewer@acme.example", "key.list", "globex"),
    ]
    assert all(d.detail for d in denied)


def test_a_user_of_another_org_meets_not_found_for_everything(team: Team, store: KeyStore) -> None:
    store.add_key(org="globex", provider="openai", secret="sk-globex")
    owner = team.as_role(OWNER)
    attempts: list[Callable[[], Any]] = [
        lambda: owner.list_keys("globex"),
        lambda: owner.add_key("globex", provider="openai", name="x", secret="sk"),
        lambda: owner.rotate_key("globex", "openai", "sk-stolen"),
        lambda: owner.revoke_key("globex", "openai"),
        lambda: owner.authorize_run("globex"),
        lambda: owner.list_users("globex"),
        lambda: owner.add_user("spy@acme.example", org="globex", role=OWNER),
        lambda: owner.audit_entries("globex"),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError, match="org 'globex' not found"):
            attempt()
    untouched = store.resolve("globex", "openai", user=team.globex_owner)
    assert (untouched.api_key.reveal(), untouched.key_version) == ("sk-globex", 1)


def test_runs_resolve_keys_only_for_users_allowed_to_run(team: Team, store: KeyStore) -> None:
    store.add_key(org="acme", provider="openai", secret="sk-acme")
    store.add_key(org="globex", provider="openai", secret="sk-globex")

    for role in (OWNER, ADMIN, MEMBER):
        endpoint = store.resolve("acme", "openai", user=team.emails[role])
        assert endpoint.api_key.reveal() == "sk-acme"
    with pytest.raises(PermissionDeniedError, match="viewer"):
        store.resolve("acme", "openai", user=team.emails[VIEWER])
    with pytest.raises(NotFoundError, match="org 'globex' not found"):
        store.resolve("globex", "openai", user=team.emails[OWNER])
    with pytest.raises(AuthenticationError, match="not a user of this vault"):
        store.resolve("acme", "openai", user="ghost@acme.example")


def test_removing_a_user_stops_their_runs_at_the_next_call(team: Team, store: KeyStore) -> None:
    store.add_key(org="acme", provider="openai", secret="sk-acme")
    member = team.emails[MEMBER]
    assert store.resolve("acme", "openai", user=member).api_key.reveal() == "sk-acme"

    team.as_role(OWNER).remove_user(member, org="acme")

    with pytest.raises(AuthenticationError):
        store.resolve("acme", "openai", user=member)


def test_only_the_principal_runs(team: Team) -> None:
    member = team.as_role(MEMBER)

    assert member.authorize_run("acme").user == team.emails[MEMBER]
    with pytest.raises(PermissionDeniedError, match="runs execute as the principal"):
        member.authorize_run("acme", user=team.emails[OWNER])


def test_without_an_org_a_command_covers_every_org_whose_role_allows_it(
    team: Team, store: KeyStore
) -> None:
    store.ensure_org("initech")  # exists, with no owner: the local operator's
    operator = VaultService.open(token="")
    operator.add_user(team.emails[VIEWER], org="initech", role=ADMIN)
    viewer = team.as_role(VIEWER)  # viewer in acme, admin in initech

    assert viewer.orgs_for(None, Action.USAGE_READ) == ["acme", "initech"]
    assert viewer.orgs_for(None, Action.USAGE_REPRICE) == ["initech"]
    assert team.as_role(MEMBER).orgs_for(None, Action.USAGE_READ) == ["acme"]
    with pytest.raises(PermissionDeniedError, match="only owner or admin may reprice"):
        team.as_role(MEMBER).orgs_for(None, Action.USAGE_REPRICE)
    # The local operator owns the ownerless orgs, and those the data mentions that the
    # vault has no row for; never acme or globex, which have owners.
    assert operator.orgs_for(None, Action.USAGE_READ, seen=["acme", "ghost"]) == [
        "default",
        "ghost",
        "initech",
    ]
