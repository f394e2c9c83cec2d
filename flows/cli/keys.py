"""`byok keys add|list`: put provider keys into an org's vault and see their metadata.

The secret is read from stdin when it is piped, or from a hidden prompt on a
terminal; never from the command line, where shell history and the process
list would keep it. Nothing here ever prints a key or any part of one.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from flows.cli.console import fail, out, print_json
from providers.types import Protocol
from vault import DEFAULT_ORG, KeyInfo, KeyStore, VaultError
from vault.inputs import check_key_spec, check_org_slug

__all__ = ["app"]

app = typer.Typer(
    help="Add and list the provider keys in an org's vault (metadata only, never the key).",
    no_args_is_help=True,
)

OrgOption = Annotated[str, typer.Option("--org", help="The org whose vault to use.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

_ARGV_REFUSED = (
    "unexpected argument after PROVIDER: a key is never read from the command line, where "
    "shell history and the process list would keep it. Pipe it on stdin, e.g. "
    "`printenv OPENAI_API_KEY | byok keys add openai`, or type it at the hidden prompt"
)


@app.command(
    "add",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
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
    org: OrgOption = DEFAULT_ORG,
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
    if ctx.args:
        fail(_ARGV_REFUSED)  # never echo the arguments: one of them may be the key
    try:
        check_org_slug(org)
        spec = check_key_spec(provider, name, protocol, base_url)
        store = KeyStore.open()
        info = store.add_key(
            org=org,
            provider=spec.provider,
            secret=_read_secret(spec.name),
            name=spec.name,
            protocol=spec.protocol,
            base_url=spec.base_url,
        )
    except VaultError as e:
        fail(escape(str(e)))
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


@app.command("list")
def list_(org: OrgOption = DEFAULT_ORG, as_json: JsonOption = False) -> None:
    """Show the org's active keys: metadata only, never the key or part of it."""
    try:
        keys = KeyStore.open().list_keys(org)
    except VaultError as e:
        fail(escape(str(e)))
    if as_json:
        print_json([key.to_json() for key in keys])
        return
    if not keys:
        org_option = "" if org == DEFAULT_ORG else f" --org {escape(org)}"
        out.print(
            f"No keys in org '{escape(org)}'. Add one with `byok keys add openai{org_option}`."
        )
        return
    out.print(_table(keys))


def _table(keys: list[KeyInfo]) -> Table:
    """Fits 80 columns: the base URL folds, creation times are in `--json`."""
    table = Table(
        title=f"Keys of org '{escape(keys[0].org)}'", title_justify="left", box=box.SIMPLE_HEAD
    )
    for column in ("NAME", "PROVIDER", "PROTOCOL"):
        table.add_column(column, no_wrap=True)
    table.add_column("BASE URL", overflow="fold")
    table.add_column("VER", justify="right", no_wrap=True)
    table.add_column("ID", no_wrap=True)
    for key in keys:
        table.add_row(
            escape(key.name),
            escape(key.provider),
            key.protocol.value,
            escape(key.base_url) if key.base_url else "[dim](official)[/]",
            str(key.version),
            key.id,
        )
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
