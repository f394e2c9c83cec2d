"""A raw key, a token or the master key is never in the database, a log or any CLI output.

One session drives every vault command (add, list, rotate, revoke, users, audit,
master-key rotation) plus key uses inside "runs", with every logger at DEBUG
(SQLAlchemy's statement and parameter logging included). Afterwards the
database, read as raw bytes (SQLite file, WAL and shared memory) or as the text
of every row (PostgreSQL), every log record and every output is searched for
each secret in the encodings it could hide in.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from flows.cli.main import app
from vault import KeyStore, VaultError
from vault.db import reset_engines

runner = CliRunner()
TOKEN = re.compile(r"byok_pat_[A-Za-z0-9_-]{43}")


def needles(secret: str) -> Iterator[bytes]:
    """The ways a leaked secret could be written: raw, UTF-16, hex, base64, its tail."""
    raw = secret.encode()
    yield raw
    yield secret.encode("utf-16-le")
    yield raw.hex().encode()
    yield base64.b64encode(raw)
    yield raw[-12:]


def session(secrets_used: list[str]) -> list[str]:
    """Drive every vault command; returns all their output. Appends every secret it made."""
    outputs: list[str] = []

    def byok(*args: str, stdin: str | None = None, token: str | None = None) -> str:
        env = {"BYOK_TOKEN": token} if token else {}
        result = runner.invoke(app, list(args), input=stdin, env=env)
        reset_engines()
        output = result.stdout + result.stderr
        assert result.exit_code in (0, 2), output
        outputs.append(output)
        return output

    first, second, third = (f"sk-live-{secrets.token_urlsafe(24)}" for _ in range(3))
    secrets_used += [first, second, third]
    byok("keys", "add", "openai", stdin=first)
    byok("keys", "add", "openai", stdin=first)  # refused: exists
    byok("keys", "list")
    byok("keys", "list", "--json")
    byok("keys", "rotate", "openai", stdin=second)
    store = KeyStore.open()
    store.resolve("default", "openai", run_id="run-1", step="extract")
    byok("keys", "list", "--all", "--json")
    owner = TOKEN.findall(byok("users", "add", "o@example.com", "--role", "owner"))[0]
    viewer_output = byok("users", "add", "v@example.com", "--role", "viewer", token=owner)
    viewer = TOKEN.findall(viewer_output)[0]
    secrets_used += [owner, viewer]
    byok("keys", "rotate", "openai", stdin=third, token=viewer)  # refused: viewer
    byok("keys", "rotate", "openai", stdin=third, token=owner)
    store.resolve("default", "openai", user="o@example.com", run_id="run-2", step="reply")
    with pytest.raises(VaultError):
        store.resolve("default", "openai", user="v@example.com", run_id="run-3", step="reply")
    byok("audit", token=owner)
    byok("audit", "--json", token=owner)
    byok("audit", "verify", token=owner)
    byok("vault", "status", token=owner)
    byok("keys", "revoke", "openai", token=owner)
    byok("users", "list", "--json", token=owner)
    return outputs


def assert_absent(haystack: bytes, secrets_used: list[str], where: str) -> None:
    for secret in secrets_used:
        for needle in needles(secret):
            assert needle not in haystack, f"a secret was found in {where}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # statements and parameters
    return caplog


def test_nothing_secret_at_rest_on_sqlite(home: Path, debug_logs: pytest.LogCaptureFixture) -> None:
    used: list[str] = []
    outputs = session(used)

    files = [p for p in home.iterdir() if p.name.startswith("byok.db")]
    assert {p.name for p in files} >= {"byok.db", "byok.db-wal"}
    database = b"".join(p.read_bytes() for p in files)
    master = base64.b64decode(os.environ["BYOK_MASTER_KEY"])
    assert_absent(database, used, "the SQLite files")
    assert master not in database
    assert os.environ["BYOK_MASTER_KEY"].encode() not in database
    _check_logs_and_outputs(debug_logs, outputs, used)


@pytest.mark.postgres
def test_nothing_secret_at_rest_on_postgresql(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, debug_logs: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("BYOK_DATABASE_URL", postgres_url)
    used: list[str] = []
    outputs = session(used)

    engine = create_engine(postgres_url)
    rows: list[str] = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            query = text(f'SELECT row_to_json(t)::text FROM "{table}" t')  # noqa: S608 - catalog
            rows += [row[0] for row in connection.execute(query)]
    engine.dispose()
    assert any("key.rotate" in row for row in rows)  # the dump did read the vault
    assert_absent("\n".join(rows).encode(), used, "PostgreSQL rows")
    _check_logs_and_outputs(debug_logs, outputs, used)


def _check_logs_and_outputs(
    logs: pytest.LogCaptureFixture, outputs: list[str], used: list[str]
) -> None:
    records = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in logs.records)
    assert any("INSERT INTO provider_keys" in r.getMessage() for r in logs.records)
    assert_absent(records.encode(), used, "the logs")
    provider_keys = used[:3]
    assert_absent("\n".join(outputs).encode(), provider_keys, "a CLI output")
    tokens = used[3:]
    for token in tokens:  # printed exactly once, by the command that created it
        assert sum(output.count(token) for output in outputs) == 1
