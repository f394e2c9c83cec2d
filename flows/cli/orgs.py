"""`byok orgs create|list`: organisations, the boundary no key crosses.

Roles, per org:

    owner   manages users, and everything an admin does
    admin   adds, rotates and revokes keys; reads the audit log
    member  runs recipes with the org's keys; sees key metadata and usage
    viewer  sees key metadata and usage only

Nobody can read a key back. Creating orgs and master-key operations need the
owner role in `default`, the install's own org. Without `BYOK_TOKEN`, commands
act as the local operator, owner of every org that has no owner of its own.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from flows.cli.console import out, print_json
from flows.cli.signin import open_vault, vault_errors
from vault.settings import TOKEN_ENV

__all__ = ["app"]

app = typer.Typer(
    help="Create organisations and list the ones you belong to.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command("create")
def create(
    org: Annotated[str, typer.Argument(metavar="ORG", help="The new org's slug, e.g. acme.")],
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner",
            metavar="EMAIL",
            help="Its first owner (default: you; a new user's token is printed once).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create ORG with its own data key (install owners only)."""
    vault = open_vault()
    with vault_errors():
        created = vault.create_org(org, owner=owner)
    if as_json:
        print_json(created.to_json())
        return
    out.print(f"Created org '{escape(created.org)}'.")
    if created.owner is None:
        out.print(
            f"It has no owner yet, so commands without {TOKEN_ENV} act as its owner. Give it "
            f"one with `byok users add EMAIL --org {escape(created.org)} --role owner`."
        )
        return
    member = created.owner
    out.print(f"Owner: {escape(member.member.email)}.")
    if member.token is not None:
        out.print(
            "\nTheir personal access token, shown only this once (the vault keeps just a hash):"
        )
        out.print(f"\n  {member.token}\n", soft_wrap=True, markup=False)
        out.print(f"They use it as [bold]export {TOKEN_ENV}=…[/] before running byok commands.")


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Show the orgs you belong to, and your role in each."""
    vault = open_vault()
    with vault_errors():
        roles = vault.my_orgs()
    principal = vault.principal
    if as_json:
        print_json(
            {
                "principal": principal.name,
                "local_operator": principal.is_local_operator,
                "orgs": [{"org": org, "role": role.value} for org, role in roles.items()],
            }
        )
        return
    who = (
        f"the local operator (no {TOKEN_ENV})"
        if principal.is_local_operator
        else escape(principal.name)
    )
    out.print(f"You are {who}.")
    for org, role in roles.items():
        out.print(f"  {escape(org)}  {role.value}")
