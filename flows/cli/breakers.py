"""`byok breakers`: the shared circuit breakers, as every worker on this database sees them.

Breakers are kept per provider key, so they are org data: a user sees the
breakers of the keys whose metadata they may see (every role of the key's org),
and only an admin or owner of that org may reset one. Anything else is
"no breaker", as for another org's objects everywhere in the vault.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli.console import fail, out, print_json
from flows.cli.signin import open_vault, vault_errors
from providers.breaker.state import Breaker, BreakerKey, Circuit
from vault.access import Action

if TYPE_CHECKING:
    from vault.service import VaultService

__all__ = ["breaker_json", "breakers"]


def breakers(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    reset: Annotated[
        str | None,
        typer.Option(
            help="Close one breaker by hand, given as PROVIDER:MODEL@KEY_ID (as listed), "
            "e.g. after fixing a provider setting.",
            metavar="PROVIDER:MODEL@KEY_ID",
        ),
    ] = None,
    org: Annotated[
        str | None, typer.Option(help="Only this org's keys (default: every org of yours).")
    ] = None,
) -> None:
    """Circuit breakers per provider, model and key: state, failure counts, cool-down."""
    from providers.breaker.store import BreakerStore  # SQLAlchemy: only when the command runs
    from vault.db import get_engine

    store = BreakerStore(get_engine())
    vault = open_vault()
    with vault_errors():
        owners = _key_orgs(vault, org)
    if reset is not None:
        key = _parse_key(reset)
        owner = owners.get(key.key_id)
        with vault_errors():
            if owner is not None:
                vault.require(owner, Action.BREAKER_RESET)
        if owner is None or not store.reset(key):
            fail(f"no breaker for {reset}: `byok breakers` lists the ones that exist")
        vault.record(Action.BREAKER_RESET, owner, detail=f"breaker {key}")
        out.print(f"breaker for {key} reset: closed, counts cleared")
        return
    now = time.time()
    rows = [(key, breaker) for key, breaker in store.all() if key.key_id in owners]
    if json_output:
        print_json({"breakers": [breaker_json(key, breaker, now) for key, breaker in rows]})
        return
    if not rows:
        out.print("no breakers yet: one appears with the first call to a provider, model and key")
        return
    table = Table(title="circuit breakers", title_justify="left")
    table.add_column("breaker", no_wrap=True)
    table.add_column("state")
    for column in ("in a row", "window failed/calls", "times opened"):
        table.add_column(column, justify="right")
    for key, breaker in rows:
        table.add_row(
            escape(f"{key.provider}:{key.model}@{key.key_id}"),
            _state_text(breaker, now),
            str(breaker.consecutive_failures),
            f"{breaker.window_failures}/{breaker.window_calls}",
            str(breaker.times_opened),
        )
    out.print(table)


def _key_orgs(vault: VaultService, org: str | None) -> dict[str, str]:
    """The org of every key (any version, revoked too) whose metadata the principal may see."""
    return {
        info.id: info.org
        for each in vault.orgs_for(org, Action.KEY_LIST)
        for info in vault.list_keys(each, include_revoked=True)
    }


def breaker_json(key: BreakerKey, breaker: Breaker, now: float) -> dict[str, Any]:
    """One breaker in the stable `byok breakers --json` shape (see docs/reliability.md)."""
    retry_in = None
    if breaker.circuit is Circuit.OPEN and breaker.retry_at is not None:
        retry_in = round(max(breaker.retry_at - now, 0.0), 3)
    return {
        "provider": key.provider,
        "model": key.model,
        "key_id": key.key_id,
        "state": breaker.circuit.value,
        "reason": breaker.reason,
        "last_failure": breaker.last_failure,
        "consecutive_failures": breaker.consecutive_failures,
        "window_calls": breaker.window_calls,
        "window_failures": breaker.window_failures,
        "window_started_at": _iso(breaker.window_started_at or None),
        "opened_at": _iso(breaker.opened_at),
        "retry_at": _iso(breaker.retry_at) if breaker.circuit is Circuit.OPEN else None,
        "retry_in_s": retry_in,
        "probes_in_flight": breaker.probes_in_flight,
        "times_opened": breaker.times_opened,
        "updated_at": _iso(breaker.updated_at or None),
    }


def _state_text(breaker: Breaker, now: float) -> str:
    if breaker.circuit is Circuit.OPEN and breaker.retry_at is not None:
        wait = breaker.retry_at - now
        when = f"probes in {wait:.0f} s" if wait > 0 else "next call probes"
        return f"[red]open[/] ({escape(breaker.reason or 'tripped')}; {when})"
    if breaker.circuit is Circuit.HALF_OPEN:
        return f"[yellow]half-open[/] ({breaker.probes_in_flight} probe(s) out)"
    return "[green]closed[/]"


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _parse_key(text: str) -> BreakerKey:
    provider, sep, rest = text.partition(":")
    model, at, key_id = rest.rpartition("@")
    if not (sep and at and provider and model and key_id):
        fail(f"--reset expects PROVIDER:MODEL@KEY_ID as `byok breakers` lists it; got {text!r}")
    return BreakerKey(provider, model, key_id)
