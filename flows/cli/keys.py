"""`byok keys add|list|rotate|revoke`: an org's provider keys, as the principal of `BYOK_TOKEN`.

The secret is read from stdin when it is piped, or from a hidden prompt on a
terminal; never from the command line, where shell history and the process
list would keep it. Flags and permissions are checked before the key is asked
for. Nothing here ever prints a key or any part of one.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from flows.cli.console import fail, out, print_json
from flows.cli.signin import open_vault, vault_errors

if TYPE_CHECKING:
    from vault.store import KeyInfo
from providers.types import Protocol
from vault import DEFAULT_ORG, VaultError
from vault.inputs import check_key_spec

__all__ = ["app"]

app = typer.Typer(
    help="Add, list, rotate and revoke the provider keys in an org's vault (never shown back).",
    no_args_is_help=True,
)

OrgOption = Annotated[
    str | None,
    typer.Option(
        "--org", help="The org whose vault to use (default: 'default', or your only org)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
KeyArgument = Annotated[
    str, typer.Argument(metavar="KEY", help="The key's name (the model prefix) or its id.")
]

_ARGV_REFUSED = (
    "unexpected argument after {what}: a key is never read from the command line, where "
    "shell history and the process list would keep it. Pipe it on stdin, e.g. "
    "`printenv OPENAI_API_KEY | byok keys {command}`, or type it at the hidden prompt"
)
_TAKES_STDIN = {"allow_extra_args": True, "ignore_unknown_options": True}


@app.command("add", context_settings=_TAKES_STDIN)
def add(
    ctx: typer.Context,
    provider: Annotated[
        str,
        typer.Argument(
            help="Pricing provider: anthropic, openai, google, or e.g. ollama with --protocol.",
            show_default=False,
        ),
    ],
    *,
    name: Annotated[
        str | None,
        typer.Option(help="Key name, the PREFIX in `PREFIX:MODEL` (default: the provider)."),
    ] = None,
    org: OrgOption = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="Server URL, required for providers other than the protocol's own."),
    ] = None,
    protocol: Annotated[
        Protocol | None,
        typer.Option(case_sensitive=False, help="Wire protocol (default: the provider's own)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Store a provider key, read from stdin or a hidden prompt, in the org's vault."""
    if ctx.args:  # never echo the arguments: one of them may be the key
        fail(_ARGV_REFUSED.format(what="PROVIDER", command="add openai"))
    vault = open_vault()
    with vault_errors():
        spec = check_key_spec(provider, name, protocol, base_url)
        info = vault.add_key(
            org,
            provider=spec.provider,
            secret=lambda: _read_secret(spec.name),
            name=spec.name,
            protocol=spec.protocol,
            base_url=spec.base_url,
        )
    if as_json:
        print_json(info.to_json())
        return
    where = info.base_url or "the official endpoint"
    out.print(
        f"Added key [bold]{escape(info.name)}[/] ({info.id}, version {info.version}) to org "
        f"'{escape(info.org)}': provider {escape(info.provider)}, protocol "
        f"{info.protocol.value}, {escape(where)}."
    )
    out.print(f"Use it in recipes as [bold]{escape(info.name)}:MODEL[/].")


@app.command("rotate", context_settings=_TAKES_STDIN)
def rotate(
    ctx: typer.Context, key: KeyArgument, org: OrgOption = None, as_json: JsonOption = False
) -> None:
    """Store a new version of KEY (from stdin or a hidden prompt) and revoke the current one.

    Both happen in one transaction: the next provider call anywhere uses the new
    version, running recipes included, with no recipe edits.
    """
    if ctx.args:
        fail(_ARGV_REFUSED.format(what="KEY", command="rotate openai"))
    vault = open_vault()
    with vault_errors():
        info, revoked = vault.rotate_key(org, key, lambda: _read_secret(key))
    if as_json:
        print_json({**info.to_json(), "revoked_version": revoked})
        return
    out.print(
        f"Rotated key [bold]{escape(info.name)}[/] ({info.id}) in org '{escape(info.org)}': "
        f"version {info.version} is active, version {revoked} is revoked."
    )
    out.print(
        f"The next call that uses [bold]{escape(info.name)}:[/] sends version {info.version}; "
        "no recipe needs editing."
    )


@app.command("revoke")
def revoke(key: KeyArgument, org: OrgOption = None, as_json: JsonOption = False) -> None:
    """Revoke KEY's active version: from the next call on, nothing can use it."""
    vault = open_vault()
    with vault_errors():
        info = vault.revoke_key(org, key)
    if as_json:
        print_json(info.to_json())
        return
    org_option = "" if info.org == DEFAULT_ORG else f" --org {info.org}"
    out.print(
        f"Revoked key [bold]{escape(info.name)}[/] ({info.id} v{info.version}) in org "
        f"'{escape(info.org)}'. Calls that use [bold]{escape(info.name)}:[/] fail from now on, "
        f"until a new key is added (`byok keys add {escape(info.provider)}{escape(org_option)}`)."
    )


@app.command("list")
def list_(
    org: OrgOption = None,
    include_revoked: Annotated[
        bool, typer.Option("--all", help="Include revoked versions (base URLs: see --json).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the org's keys: metadata only, never the key or part of it."""
    vault = open_vault()
    with vault_errors():
        org = vault.org(org)
        keys = vault.list_keys(org, include_revoked=include_revoked)
    if as_json:
        print_json([key.to_json() for key in keys])
        return
    if not keys:
        org_option = "" if org == DEFAULT_ORG else f" --org {org}"
        out.print(
            f"No keys in org '{escape(org)}'. Add one with "
            f"`byok keys add openai{escape(org_option)}`."
        )
        return
    out.print(_table(keys, with_status=include_revoked))


def _table(keys: list[KeyInfo], *, with_status: bool) -> Table:
    """Fits 80 columns: the base URL folds (and gives way to STATUS with --all)."""
    table = Table(
        title=f"Keys of org '{escape(keys[0].org)}'", title_justify="left", box=box.SIMPLE_HEAD
    )
    for column in ("NAME", "PROVIDER", "PROTOCOL"):
        table.add_column(column, no_wrap=True)
    if not with_status:
        table.add_column("BASE URL", overflow="fold")
    table.add_column("VER", justify="right", no_wrap=True)
    if with_status:
        table.add_column("STATUS", no_wrap=True)
    table.add_column("ID", no_wrap=True)
    for key in keys:
        url = escape(key.base_url) if key.base_url else "[dim](official)[/]"
        middle = [str(key.version), key.status.value] if with_status else [url, str(key.version)]
        table.add_row(escape(key.name), escape(key.provider), key.protocol.value, *middle, key.id)
    return table


def _read_secret(name: str) -> str:
    """The key from piped stdin (one trailing newline dropped) or a hidden prompt."""
    if _stdin_is_tty():
        secret: str = typer.prompt(f"Key for '{name}' (input hidden)", hide_input=True)
        return secret
    secret = sys.stdin.read()
    secret = secret.removesuffix("\r\n") if secret.endswith("\r\n") else secret.removesuffix("\n")
    if not secret:
        raise VaultError(
            "no key on stdin: pipe it in, e.g. `printenv OPENAI_API_KEY | byok keys add openai`, "
            "or run the command in a terminal to type it at a hidden prompt"
        )
    return secret


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()
