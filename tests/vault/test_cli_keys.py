"""`byok keys add|list|rotate|revoke`: keys come from stdin or a hidden prompt, never argv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from flows.cli import keys
from vault import KeyStore
from vault.db import reset_engines

runner = CliRunner()


def invoke(*args: str, stdin: str | None = None) -> Result:
    result = runner.invoke(keys.app, list(args), input=stdin)
    reset_engines()  # as if each command were its own process
    return result


def all_output(result: Result) -> str:
    return result.stdout + result.stderr


def flat(text: str) -> str:
    """Text with Rich's line wrapping undone."""
    return " ".join(text.split())


def test_add_reads_the_key_from_stdin(secret: str) -> None:
    result = invoke("add", "openai", "--json", stdin=secret + "\n")

    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["name"] == "openai"
    assert payload["protocol"] == "openai"
    assert payload["org"] == "default"
    assert secret not in all_output(result)
    assert KeyStore.open().resolve("default", "openai").api_key.reveal() == secret


def test_add_strips_exactly_one_trailing_newline() -> None:
    assert invoke("add", "openai", stdin="sk-crlf\r\n").exit_code == 0
    assert KeyStore.open().resolve("default", "openai").api_key.reveal() == "sk-crlf"

    result = invoke("add", "google", stdin="sk-two-newlines\n\n")
    assert result.exit_code == 2
    assert "whitespace or control characters" in result.stderr


def test_add_with_options_prints_metadata(secret: str) -> None:
    result = invoke(
        "add",
        "ollama",
        "--name",
        "local",
        "--org",
        "acme",
        "--protocol",
        "OpenAI",
        "--base-url",
        "http://127.0.0.1:11434/v1",
        stdin=secret,
    )

    assert result.exit_code == 0, result.stderr
    assert "Added key local" in result.stdout
    assert "org 'acme'" in result.stdout
    assert "local:MODEL" in result.stdout
    assert secret not in all_output(result)
    endpoint = KeyStore.open().resolve("acme", "local")
    assert endpoint.base_url == "http://127.0.0.1:11434/v1"
    assert endpoint.provider == "ollama"


def test_add_prompts_with_hidden_input_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setattr(keys, "_stdin_is_tty", lambda: True)

    result = invoke("add", "anthropic", stdin=secret + "\n")

    assert result.exit_code == 0, result.stderr
    assert "Key for 'anthropic' (input hidden)" in result.stdout
    assert secret not in all_output(result)
    assert KeyStore.open().resolve("default", "anthropic").api_key.reveal() == secret


def test_empty_stdin_is_a_clear_error() -> None:
    result = invoke("add", "openai", stdin="")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: no key on stdin: pipe it in")
    assert len(result.stderr.strip().splitlines()) == 1
    assert KeyStore.open().list_keys("default") == []


@pytest.mark.parametrize(
    "argv",
    [
        ["add", "openai", "{secret}"],
        ["add", "openai", "--key", "{secret}"],
        ["add", "openai", "--secret={secret}"],
        ["add", "openai", "--name", "x", "{secret}"],
    ],
)
def test_a_key_on_the_command_line_is_refused_and_not_echoed(argv: list[str], secret: str) -> None:
    result = invoke(*(arg.format(secret=secret) for arg in argv), stdin="sk-from-stdin")

    assert result.exit_code == 2
    assert "a key is never read from the command line" in result.stderr
    assert secret not in all_output(result)
    assert KeyStore.open().list_keys("default") == []


def test_errors_are_one_line_with_exit_status_2(secret: str) -> None:
    assert invoke("add", "openai", stdin=secret).exit_code == 0

    duplicate = invoke("add", "openai", stdin=secret + "x")
    custom = invoke("add", "ollama", stdin=secret)

    assert duplicate.exit_code == 2
    assert "already has an active key named 'openai'" in duplicate.stderr
    assert "byok keys rotate openai" in duplicate.stderr
    assert custom.exit_code == 2
    assert "--protocol" in custom.stderr
    for result in (duplicate, custom):
        assert result.stderr.startswith("error: ")
        assert "Traceback" not in all_output(result)
        assert secret not in all_output(result)


def test_invalid_flags_are_reported_before_the_key_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keys, "_stdin_is_tty", lambda: True)

    result = invoke("add", "ollama", "--protocol", "openai")

    assert result.exit_code == 2
    assert "pass its --base-url" in result.stderr
    assert "Key for" not in result.stdout


def test_list_json_shape_has_metadata_only(secret: str) -> None:
    invoke("add", "openai", stdin=secret)
    invoke(
        "add",
        "openrouter",
        "--protocol",
        "openai",
        "--base-url",
        "https://openrouter.ai/api/v1",
        stdin=secret + "-router",
    )
    invoke("add", "google", "--org", "acme", stdin=secret + "-acme")

    result = invoke("list", "--json")

    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [row["name"] for row in payload] == ["openai", "openrouter"]
    assert all(
        set(row)
        == {
            "id",
            "org",
            "name",
            "provider",
            "protocol",
            "base_url",
            "version",
            "status",
            "created_at",
        }
        for row in payload
    )
    assert payload[1]["base_url"] == "https://openrouter.ai/api/v1"
    assert secret not in all_output(result)
    acme = json.loads(invoke("list", "--org", "acme", "--json").stdout)
    assert [(row["org"], row["provider"]) for row in acme] == [("acme", "google")]


def test_list_table_shows_metadata_and_never_the_key(secret: str) -> None:
    invoke("add", "anthropic", "--name", "claude", stdin=secret)

    result = invoke("list")

    assert result.exit_code == 0, result.stderr
    for text in ("claude", "anthropic", "(official)", "key_"):
        assert text in result.stdout
    assert secret not in all_output(result)
    assert secret[-4:] not in result.stdout


def test_list_of_an_empty_org_says_how_to_add_a_key() -> None:
    result = invoke("list", "--org", "acme")

    assert result.exit_code == 0
    assert "No keys in org 'acme'. Add one with `byok keys add openai --org acme`." in (
        result.stdout
    )
    assert json.loads(invoke("list", "--json").stdout) == []


def test_wrong_master_key_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, home: Path, secret: str
) -> None:
    invoke("add", "openai", stdin=secret)
    monkeypatch.setenv("BYOK_MASTER_KEY", "k1:" + "A" * 43 + "=")

    result = invoke("list")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: the master key from BYOK_MASTER_KEY does not match")


# --- rotate and revoke -----------------------------------------------------------------


def test_rotate_reads_the_new_key_from_stdin_and_revokes_the_old(secret: str) -> None:
    invoke("add", "openai", stdin=secret)

    result = invoke("rotate", "openai", "--json", stdin=secret + "-v2\n")

    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert (payload["version"], payload["revoked_version"], payload["status"]) == (2, 1, "active")
    assert secret not in all_output(result)
    assert KeyStore.open().resolve("default", "openai").api_key.reveal() == secret + "-v2"
    text = invoke("list", "--all")
    assert "revoked" in text.stdout
    assert "active" in text.stdout


def test_rotate_text_says_the_next_call_uses_the_new_version(secret: str) -> None:
    invoke("add", "anthropic", "--name", "claude", stdin=secret)

    result = invoke("rotate", "claude", stdin=secret + "-v2")

    assert result.exit_code == 0, result.stderr
    assert "version 2 is active, version 1 is revoked" in flat(result.stdout)
    assert "no recipe needs editing" in flat(result.stdout)


def test_rotate_refuses_a_key_on_the_command_line(secret: str) -> None:
    invoke("add", "openai", stdin="sk-first")

    result = invoke("rotate", "openai", secret, stdin="sk-second")

    assert result.exit_code == 2
    assert "a key is never read from the command line" in result.stderr
    assert secret not in all_output(result)
    assert KeyStore.open().resolve("default", "openai").api_key.reveal() == "sk-first"


def test_rotating_a_missing_key_fails_before_asking_for_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keys, "_stdin_is_tty", lambda: True)

    result = invoke("rotate", "openai")

    assert result.exit_code == 2
    assert "no key 'openai' in org 'default'" in result.stderr
    assert "Key for" not in result.stdout


def test_revoke_makes_the_next_resolve_fail(secret: str) -> None:
    added = json.loads(invoke("add", "openai", "--json", stdin=secret).stdout)

    result = invoke("revoke", added["id"])

    assert result.exit_code == 0, result.stderr
    assert f"Revoked key openai ({added['id']} v1)" in flat(result.stdout)
    assert "`byok keys add openai`" in flat(result.stdout)
    assert json.loads(invoke("list", "--json").stdout) == []
    again = invoke("revoke", "openai")
    assert again.exit_code == 2
    assert "has no active version" in again.stderr
