"""`byok users add|list|remove`: who may act in an org, and with which role.

`add` prints a new user's personal access token once: only its SHA-256 is
stored, so it cannot be shown again (remove and add the user to issue a new
one). Roles are owner, admin, member and viewer; see `byok orgs --help`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from flows.cli.console import err, out, print_json
from flows.cli.signin import open_vault, vault_errors
from vault import Role
from vault.settings import TOKEN_ENV

if TYPE_CHECKING:
    from vault.directory import MemberInfo

__all__ = ["app"]

app = typer.Typer(
    help="Add, list and remove the users of an org (owners manage users).",
    no_args_is_help=True,
)

OrgOption = Annotated[
    str | None,
    typer.Option("--org", help="The org (default: 'default', or your only org)."),
]
EmailArgument = Annotated[str, typer.Argument(metavar="EMAIL", help="The user's email address.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command("add")
def add(
    email: EmailArgument,
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            case_sensitive=False,
            help="owner: everything, users included; admin: add, rotate, revoke keys; "
            "member: run recipes; viewer: key metadata and usage only.",
        ),
    ],
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give EMAIL a role in the org; a new user's access token is printed once."""
    vault = open_vault()
    with vault_errors():
        new = vault.add_user(email, org=org, role=role)
    member = new.member
    if as_json:
        print_json({**member.to_json(), "token": new.token})
        return
    out.print(f"Added {escape(member.email)} to org '{escape(member.org)}' as {member.role.value}.")
    if new.token is None:
        out.print(f"{escape(member.email)} already has a token; it now works for this org too.")
    else:
        out.print(
            "\nTheir personal access token, shown only this once (the vault keeps just a hash):"
        )
        out.print(f"\n  {new.token}\n", soft_wrap=True, markup=False)
        out.print(f"They use it as [bold]export {TOKEN_ENV}=…[/] before running byok commands.")
    if vault.principal.is_local_operator and member.role is Role.OWNER:
        err.print(
            f"[dim]'{escape(member.org)}' has an owner now: commands without {TOKEN_ENV} no "
            "longer act for it.[/]"
        )


@app.command("list")
def list_(org: OrgOption = None, as_json: JsonOption = False) -> None:
    """Show the org's users and their roles (owners and admins)."""
    vault = open_vault()
    with vault_errors():
        org = vault.org(org)
        members = vault.list_users(org)
    if as_json:
        print_json([member.to_json() for member in members])
        return
    if not members:
        out.print(
            f"Org '{escape(org)}' has no users yet. Add one with "
            f"`byok users add EMAIL --org {escape(org)} --role owner`."
        )
        return
    out.print(_table(org, members))


@app.command("remove")
def remove(email: EmailArgument, org: OrgOption = None, as_json: JsonOption = False) -> None:
    """Take EMAIL out of the org; a user left in no org is deleted with their token."""
    vault = open_vault()
    with vault_errors():
        org = vault.org(org)
        deleted = vault.remove_user(email, org=org)
    if as_json:
        print_json({"email": email.strip().lower(), "org": org, "user_deleted": deleted})
        return
    out.print(f"Removed {escape(email)} from org '{escape(org)}'.")
    if deleted:
        out.print("They belonged to no other org: their user and token are deleted.")


def _table(org: str, members: list[MemberInfo]) -> Table:
    table = Table(title=f"Users of org '{escape(org)}'", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("EMAIL", overflow="fold")
    table.add_column("ROLE", no_wrap=True)
    table.add_column("ADDED", no_wrap=True)
    table.add_column("BY", overflow="fold")
    for member in members:
        table.add_row(
            escape(member.email),
            member.role.value,
            f"{member.added_at:%Y-%m-%d %H:%M}",
            escape(member.added_by or ""),
        )
    return table
