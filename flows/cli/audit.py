"""`byok audit [verify]`: the vault's tamper-evident log of key operations, uses and denials.

Every key create, rotate, revoke and use (with its run and step), every denied
action and every master-key operation is an event with who, what, which key
version and the outcome; never a key or token. Events are chained by HMAC
(see `vault.audit`): `byok audit verify` recomputes the chain and exits 1 when
an event was altered, inserted or removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.padding import Padding
from rich.text import Text

from flows.cli.console import err, out, print_json
from flows.cli.signin import open_vault, vault_errors

if TYPE_CHECKING:
    from vault.audit import AuditEntry

__all__ = ["app"]

app = typer.Typer(
    help="Show the org's audit events (owners and admins); `verify` checks the chain.",
    invoke_without_command=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
OrgOption = Annotated[
    str | None,
    typer.Option("--org", help="The org (default: 'default', or your only org)."),
]
# By `Outcome` value: `vault.audit` (and SQLAlchemy with it) is imported only when used.
_COLOURS = {"ok": "green", "denied": "red", "failed": "yellow"}


@app.callback()
def show(
    ctx: typer.Context,
    org: OrgOption = None,
    limit: Annotated[int, typer.Option(min=1, help="How many of the newest events.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Show the org's newest audit events, oldest first ('default' adds install-wide ones)."""
    if ctx.invoked_subcommand is not None:
        return
    vault = open_vault()
    with vault_errors():
        entries = vault.audit_entries(org, limit=limit)
    if as_json:
        print_json([entry.to_json() for entry in entries])
        return
    if not entries:
        out.print("No audit events yet.")
        return
    _print(entries)


@app.command("verify")
def verify(org: OrgOption = None, as_json: JsonOption = False) -> None:
    """Recompute the whole chain; exit status 1 when any event was altered, added or removed."""
    vault = open_vault()
    with vault_errors():
        report = vault.verify_audit(org)
    if as_json:
        print_json(report.to_json())
    elif report.intact:
        out.print(f"Audit chain intact: {report.events} events.")
        out.print(
            f"Head: {report.head}\n[dim]Keep this head somewhere else: if later events were "
            "cut off together with the head, only an outside copy would show it.[/]"
        )
    if not report.intact:
        err.print(f"[bold red]error:[/] audit chain broken: {escape(report.problem or '')}")
        raise typer.Exit(1)


def _print(entries: list[AuditEntry]) -> None:
    """One line per event (fits 80 columns), its run, step and detail dimmed beneath."""
    for entry in entries:
        record = entry.record
        key = record.key_name or record.key_id or ""
        if record.key_version is not None:
            key += f" v{record.key_version}"
        colour = _COLOURS[record.outcome]
        out.print(
            f"{entry.seq:>5}  {entry.at:%Y-%m-%d %H:%M:%S}  {escape(record.actor)}  "
            f"[bold]{escape(record.action)}[/] [{colour}]{record.outcome.value}[/]"
            + (f"  {escape(key)}" if key else "")
        )
        notes = []
        if record.run_id:
            notes.append(f"run {record.run_id}" + (f" step {record.step}" if record.step else ""))
        if record.detail:
            notes.append(record.detail)
        for note in notes:
            out.print(Padding(Text(note, style="dim"), (0, 0, 0, 7)))
