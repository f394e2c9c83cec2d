"""Every place a canary could land, searched: files, SQLite rows, a PostgreSQL dump, the API.

Each search returns `Finding`s (which canary, where, in which encoding). Result
storage files are also decoded (Prefect writes base64 cloudpickle, sometimes
inside a JSON envelope) and the decoded bytes searched, so a pickled value is
found even though the file itself only holds base64.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import POSTGRES_ADMIN_URL
from tests.privacy.canaries import found_in

__all__ = [
    "Finding",
    "event_window",
    "search_api",
    "search_bytes",
    "search_files",
    "search_postgres",
    "search_sqlite",
    "sqlite_files",
]


@dataclass(frozen=True, order=True)
class Finding:
    """Canary `canary` found at `where`, encoded as `encoding`."""

    canary: str
    where: str
    encoding: str

    def __str__(self) -> str:
        return f"{self.canary} in {self.where} ({self.encoding})"


def search_bytes(data: bytes, where: str, canaries: Mapping[str, str]) -> list[Finding]:
    """Findings of `canaries` (name -> value) in `data`."""
    return [
        Finding(name, where, encoding)
        for name, value in canaries.items()
        if (encoding := found_in(data, value)) is not None
    ]


def search_files(roots: Iterable[Path], canaries: Mapping[str, str]) -> list[Finding]:
    """Every file under `roots`, raw and (where it decodes) base64-decoded."""
    findings: list[Finding] = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            findings += search_bytes(data, str(path), canaries)
            for label, decoded in _decoded(data):
                findings += search_bytes(decoded, f"{path} ({label})", canaries)
    return findings


def _decoded(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Base64 payloads in `data`: the whole file, or string fields of a JSON document."""
    if (whole := _b64(data)) is not None:
        yield "base64-decoded", whole
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return
    for text in _strings(document):
        if (inner := _b64(text.encode())) is not None:
            yield "base64 field decoded", inner


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _b64(data: bytes) -> bytes | None:
    compact = b"".join(data.split())
    if len(compact) < 16:
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def sqlite_files(root: Path) -> list[Path]:
    """The SQLite databases under `root` (their -wal and -shm files are read with them)."""
    return sorted(p for p in root.rglob("*.db") if p.is_file())


def search_sqlite(database: Path, canaries: Mapping[str, str]) -> list[Finding]:
    """Every column of every row of every table (WAL included), as `db:table.column`."""
    findings: set[Finding] = set()
    connection = sqlite3.connect(database)
    try:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from sqlite_master
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if value is None or isinstance(value, int | float):
                        continue
                    data = value if isinstance(value, bytes) else str(value).encode()
                    where = f"{database.name}:{table}.{column}"
                    findings.update(search_bytes(data, where, canaries))
    finally:
        connection.close()
    return sorted(findings)


def search_postgres(database: str, canaries: Mapping[str, str], dump: Path) -> list[Finding]:
    """A `pg_dump` of `database` (written to `dump`), and every column of every table."""
    server = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    subprocess.run(
        ["pg_dump", "--no-owner", "--file", str(dump), f"{server}/{database}"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    findings = search_bytes(dump.read_bytes(), f"pg_dump of {database}", canaries)
    return findings + _postgres_columns(f"{server}/{database}", canaries)


def _postgres_columns(url: str, canaries: Mapping[str, str]) -> list[Finding]:
    import psycopg
    from psycopg import sql

    findings: set[Finding] = set()
    with psycopg.connect(url) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        for (table,) in tables:
            cursor = connection.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
            columns = [d.name for d in cursor.description or ()]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if value is None or isinstance(value, int | float):
                        continue
                    if isinstance(value, bytes | memoryview):
                        data = bytes(value)
                    elif isinstance(value, dict | list):
                        data = json.dumps(value).encode()
                    else:
                        data = str(value).encode()
                    findings.update(search_bytes(data, f"postgres:{table}.{column}", canaries))
    return sorted(findings)


def search_api(api_url: str, canaries: Mapping[str, str], since: datetime) -> list[Finding]:
    """Flow runs (parameters aside) and their states, task runs, logs, artifacts, events,
    deployments (their recipes aside) and block documents as the API returns them.

    Events are read from `since` (the suite's start) to an hour ahead, explicitly:
    the API's default window is not something the search should depend on.
    """
    findings: list[Finding] = []
    with httpx.Client(base_url=api_url, timeout=30) as client:
        runs = _all(client, "/flow_runs/filter")
        deployments = _all(client, "/deployments/filter")
        reads: dict[str, Any] = {
            "task runs": _all(client, "/task_runs/filter"),
            "logs": _all(client, "/logs/filter"),
            "artifacts": _all(client, "/artifacts/filter"),
            "variables": _all(client, "/variables/filter"),
            # Without include_secrets, as the UI reads them: a Secret's value is masked.
            "block documents": _all(client, "/block_documents/filter"),
            "events": _events(client, since),
        }
        for run in runs:
            reads[f"flow run {run['id']} states"] = (
                client.get("/flow_run_states/", params={"flow_run_id": run["id"]})
                .raise_for_status()
                .json()
            )
            run.pop("parameters", None)  # recipe inputs: the one place they may be
        for deployment in deployments:
            # The recipe travels with its deployment (`deployments.spec`): configuration,
            # templates included, searched in the database as `deployment.infra_overrides`.
            deployment.pop("job_variables", None)
        reads["flow runs"] = runs
        reads["deployments"] = deployments
        for name, payload in reads.items():
            findings += search_bytes(json.dumps(payload).encode(), f"API {name}", canaries)
    return findings


def _all(client: httpx.Client, endpoint: str) -> list[Any]:
    items: list[Any] = []
    while True:
        page = client.post(endpoint, json={"limit": 200, "offset": len(items)})
        batch = page.raise_for_status().json()
        items += batch
        if len(batch) < 200:
            return items


def event_window(since: datetime) -> dict[str, str]:
    """An explicit `occurred` filter: from `since` to an hour from now."""
    until = datetime.now(UTC) + timedelta(hours=1)
    return {"since": since.isoformat(), "until": until.isoformat()}


def _events(client: httpx.Client, since: datetime) -> list[Any]:
    body = {"limit": 50, "filter": {"occurred": event_window(since)}}
    page = client.post("/events/filter", json=body).raise_for_status().json()
    events: list[Any] = page["events"]
    while page.get("next_page"):
        page = client.get(page["next_page"]).raise_for_status().json()
        events += page["events"]
    assert events, f"the API returned no events since {since.isoformat()}"
    return events
