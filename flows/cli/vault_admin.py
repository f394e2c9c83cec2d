"""`byok vault status|rotate-master|retire-kek`: the master key ring (install owners only).

`rotate-master` re-wraps every org's data key (and the audit chain's key) under
the ring's first key-encryption key. With a key file (the generated
`BYOK_HOME/master.key` or `BYOK_MASTER_KEY_FILE`) it first adds a new random
KEK to the file; with `BYOK_MASTER_KEY`, put the new key first in the ring
yourself. Reads keep working during the rotation, and an interrupted one
resumes where it stopped when run again. `retire-kek` then forgets an old KEK,
and is refused while anything is still wrapped under it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from flows.cli.console import err, out, print_json
from flows.cli.signin import open_vault, vault_errors
from vault.masterkey import MASTER_KEY_ENV

if TYPE_CHECKING:
    from vault.rewrap import KekStatus

__all__ = ["app"]

app = typer.Typer(
    help="Inspect and rotate the master key ring (owners of org 'default').",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command("status")
def status(as_json: JsonOption = False) -> None:
    """Show each key-encryption key and how many data keys it still wraps."""
    vault = open_vault()
    with vault_errors():
        rows = vault.master_status()
    if as_json:
        print_json([row.to_json() for row in rows])
        return
    out.print(_table(rows))
    behind = [row for row in rows if not row.primary and (row.data_keys or row.audit_key)]
    if behind:
        out.print(
            f"{sum(row.data_keys for row in behind)} data key(s) are not under the first key "
            "yet: run `byok vault rotate-master` to finish."
        )


@app.command("rotate-master")
def rotate_master(as_json: JsonOption = False) -> None:
    """Re-wrap every data key under a new master key (resumes an interrupted rotation)."""
    vault = open_vault()
    with vault_errors():
        rotation = vault.rotate_master()
    if as_json:
        print_json(rotation.to_json())
        return
    if rotation.added is not None:
        err.print(
            f"\n[bold yellow]WARNING:[/] added master key '{rotation.added}' to "
            f"{escape(rotation.key_file or '')}. BACK UP THIS FILE AGAIN NOW: keys wrapped "
            "under the new master key cannot be recovered from an older backup.\n"
        )
    out.print(
        f"Re-wrapped {rotation.moved} key(s); every data key is now under master key "
        f"'{rotation.primary}'."
    )
    out.print("Retire older master keys with `byok vault retire-kek ID` (see `byok vault status`).")


@app.command("retire-kek")
def retire_kek(
    kek_id: Annotated[str, typer.Argument(metavar="KEK_ID", help="The master key's id, e.g. k1.")],
    as_json: JsonOption = False,
) -> None:
    """Forget an old master key; refused while it is first in the ring or wraps anything."""
    vault = open_vault()
    with vault_errors():
        path = vault.retire_kek(kek_id)
    if as_json:
        print_json({"kek_id": kek_id, "removed_from": None if path is None else str(path)})
        return
    out.print(f"Retired master key '{escape(kek_id)}': nothing is wrapped under it.")
    if path is not None:
        out.print(f"Removed it from {escape(str(path))}.", soft_wrap=True)
    else:
        out.print(f"Remove '{escape(kek_id)}:…' from {MASTER_KEY_ENV} wherever it is set.")


def _table(rows: list[KekStatus]) -> Table:
    table = Table(title="Master key ring", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("KEK", no_wrap=True)
    table.add_column("FIRST", no_wrap=True)
    table.add_column("IN RING", no_wrap=True)
    table.add_column("DATA KEYS", justify="right", no_wrap=True)
    table.add_column("AUDIT KEY", no_wrap=True)
    table.add_column("RETIRED", no_wrap=True)
    for row in rows:
        table.add_row(
            escape(row.kek_id),
            "yes" if row.primary else "",
            "yes" if row.in_ring else "[red]no[/]",
            str(row.data_keys),
            "yes" if row.audit_key else "",
            "" if row.retired_at is None else f"{row.retired_at:%Y-%m-%d}",
        )
    return table
