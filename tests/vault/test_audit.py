"""The audit chain: what is recorded, and that editing, removing or forging events shows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from vault import KeyNotFoundError, KeyStore, VaultError
from vault.audit import GENESIS, Outcome

Sql = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
def history(store: KeyStore, secret: str) -> KeyStore:
    """Five events: org created, key added, used in a run's step, rotated, revoked."""
    store.add_key(org="default", provider="openai", secret=secret, actor="ana")
    store.resolve("default", "openai", user="ana", run_id="run-1", step="extract")
    store.rotate_key(org="default", ref="openai", secret=secret + "-2", actor="ana")
    store.revoke_key(org="default", ref="openai", actor="ana")
    return store


def test_each_key_operation_is_an_event_with_who_what_version_run_and_step(
    history: KeyStore,
) -> None:
    events = [e.record for e in history.audit.entries(orgs=["default"])]

    assert [(e.action, e.outcome, e.actor, e.key_version) for e in events] == [
        ("org.create", Outcome.OK, "ana", None),
        ("key.create", Outcome.OK, "ana", 1),
        ("key.use", Outcome.OK, "ana", 1),
        ("key.rotate", Outcome.OK, "ana", 2),
        ("key.revoke", Outcome.OK, "ana", 2),
    ]
    use = events[2]
    assert (use.run_id, use.step, use.key_name) == ("run-1", "extract", "openai")
    assert use.key_id is not None
    assert use.key_id.startswith("key_")


def test_failed_uses_are_recorded_with_the_reason(history: KeyStore) -> None:
    with pytest.raises(KeyNotFoundError):
        history.resolve("default", "openai", run_id="run-2", step="reply")

    last = history.audit.entries(orgs=["default"])[-1].record
    assert (last.action, last.outcome, last.run_id, last.step) == (
        "key.use",
        Outcome.FAILED,
        "run-2",
        "reply",
    )
    assert last.detail is not None
    assert "revoked" in last.detail


def test_a_tampered_ciphertext_is_a_failed_use(store: KeyStore, sql: Sql) -> None:
    store.add_key(org="default", provider="openai", secret="sk-1")
    ((blob,),) = sql("SELECT ciphertext FROM provider_keys")
    sql("UPDATE provider_keys SET ciphertext = ?", blob[:-1] + bytes([blob[-1] ^ 1]))

    with pytest.raises(VaultError, match="cannot be decrypted"):
        store.resolve("default", "openai")

    last = store.audit.entries(orgs=["default"])[-1].record
    assert (last.outcome, last.key_version) == (Outcome.FAILED, 1)


def test_no_secret_ever_reaches_the_audit_table(history: KeyStore, sql: Sql, secret: str) -> None:
    rows = json.dumps(sql("SELECT * FROM audit_events"), default=str)

    assert secret not in rows
    assert secret[-8:] not in rows
    assert history.audit.verify().intact


def test_an_intact_chain_verifies_and_reports_its_head(history: KeyStore, sql: Sql) -> None:
    report = history.audit.verify()

    ((last_mac, count),) = sql("SELECT head, (SELECT COUNT(*) FROM audit_events) FROM audit_chain")
    assert (report.intact, report.events, report.head) == (True, 6, last_mac)
    assert count == 6  # the master key's first use, then the five events of `history`
    ((first_prev,),) = sql("SELECT prev FROM audit_events WHERE seq = 1")
    assert first_prev == GENESIS


@pytest.mark.parametrize(
    "change",
    [
        "actor = 'mallory'",
        "outcome = 'denied'",
        "key_version = 7",
        "detail = 'nothing happened'",
        "run_id = 'run-9'",
        "at = '2020-01-01 00:00:00.000000'",
        "action = 'key.list'",
    ],
)
def test_editing_any_field_of_an_event_is_detected(
    history: KeyStore, sql: Sql, change: str
) -> None:
    sql(f"UPDATE audit_events SET {change} WHERE seq = 3")  # noqa: S608 - constant test input

    report = history.audit.verify()

    assert not report.intact
    assert report.bad_seq == 3
    assert report.problem == "event 3 was altered after it was recorded"


def test_removing_an_event_is_detected(history: KeyStore, sql: Sql) -> None:
    sql("DELETE FROM audit_events WHERE seq = 2")

    assert history.audit.verify().problem == "event 2 is missing (the next event is 3)"


def test_removing_the_newest_events_is_detected_by_the_head(history: KeyStore, sql: Sql) -> None:
    sql("DELETE FROM audit_events WHERE seq >= 4")

    report = history.audit.verify()
    assert not report.intact
    assert report.problem is not None
    assert "head says 6 events but 3 verify" in report.problem


def test_renumbering_events_to_hide_a_removal_is_detected(history: KeyStore, sql: Sql) -> None:
    sql("DELETE FROM audit_events WHERE seq = 3")
    sql("UPDATE audit_events SET seq = seq - 1 WHERE seq > 3")
    sql("UPDATE audit_chain SET seq = 5")

    report = history.audit.verify()
    assert (report.intact, report.bad_seq) == (False, 3)


def test_a_forged_event_without_the_chain_key_is_detected(history: KeyStore, sql: Sql) -> None:
    """Someone with write access but no master key recomputes the chain with a key they chose."""
    ((prev,),) = sql("SELECT mac FROM audit_events WHERE seq = 6")
    guess = secrets.token_bytes(32)
    document = {"seq": 7, "at": "2026-01-01T00:00:00.000000+00:00", "prev": prev}
    document |= {"action": "key.use", "outcome": "ok", "actor": "mallory", "org": "default"}
    fields = ("key_id", "key_name", "key_version", "run_id", "step", "detail")
    document |= dict.fromkeys(fields)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    mac = hmac.new(guess, b"BYOK-AUDIT\x01" + canonical, hashlib.sha256).hexdigest()
    sql(
        "INSERT INTO audit_events (seq, at, actor, org, action, outcome, prev, mac) "
        "VALUES (7, '2026-01-01 00:00:00.000000', 'mallory', 'default', 'key.use', 'ok', ?, ?)",
        prev,
        mac,
    )
    sql("UPDATE audit_chain SET seq = 7, head = ?", mac)

    report = history.audit.verify()
    assert (report.intact, report.bad_seq) == (False, 7)


@pytest.mark.usefixtures("backend")
def test_concurrent_writers_get_consecutive_numbers_and_an_intact_chain() -> None:
    store = KeyStore.open()
    store.add_key(org="default", provider="openai", secret="sk-1")

    def use(n: int) -> None:
        store.resolve("default", "openai", user="local", run_id=f"run-{n}", step="s")

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(use, range(30)))

    entries = store.audit.entries(orgs=None, limit=1000)
    assert [e.seq for e in entries] == list(range(1, 34))  # master.add, org, key, 30 uses
    assert sorted(e.record.run_id for e in entries if e.record.run_id) == sorted(
        f"run-{n}" for n in range(30)
    )
    assert store.audit.verify().intact


@pytest.mark.usefixtures("backend")
def test_a_key_is_handed_out_only_once_its_use_is_committed(backend: str) -> None:
    # Parallel uses are committed together; each caller's event is visible to another
    # connection (a separate engine, as `byok audit` in another process) when it returns.
    store = KeyStore.open()
    store.add_key(org="default", provider="openai", secret="sk-1")
    other = create_engine(backend)

    def use(n: int) -> bool:
        store.resolve("default", "openai", user="local", run_id=f"run-{n}", step="s")
        with other.connect() as connection:
            found = connection.execute(
                text("SELECT count(*) FROM audit_events WHERE run_id = :run"), {"run": f"run-{n}"}
            ).scalar_one()
        return bool(found == 1)

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            seen = list(pool.map(use, range(40)))
    finally:
        other.dispose()

    assert all(seen)
    assert store.audit.verify().intact


def test_a_use_that_cannot_be_audited_hands_out_no_key(store: KeyStore, sql: Sql) -> None:
    store.add_key(org="default", provider="openai", secret="sk-1")
    sql("DELETE FROM audit_chain")

    with pytest.raises(VaultError, match="audit chain is missing"):
        store.resolve("default", "openai", user="local", run_id="run-1", step="s")


def test_the_listing_is_limited_and_scoped(store: KeyStore) -> None:
    store.add_key(org="acme", provider="openai", secret="sk-a")
    store.add_key(org="globex", provider="openai", secret="sk-g")

    assert {e.record.org for e in store.audit.entries(orgs=["acme"])} == {"acme"}
    assert len(store.audit.entries(orgs=None, limit=2)) == 2
    assert [e.seq for e in store.audit.entries(orgs=None, limit=2)] == [4, 5]


def test_each_master_key_is_recorded_when_the_vault_first_sees_it(
    store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = os.environ["BYOK_MASTER_KEY"]
    new = base64.b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("BYOK_MASTER_KEY", f"k2:{new},k1:{old}")
    KeyStore.open()
    KeyStore.open()  # already known: no second event

    added = [e.record for e in store.audit.entries(orgs=None) if e.record.action == "master.add"]
    assert [(e.actor, e.detail, e.org) for e in added] == [
        ("BYOK_MASTER_KEY", "master key 'k1' first used with this vault", None),
        ("BYOK_MASTER_KEY", "master key 'k2' first used with this vault", None),
    ]
    assert new not in str([e.to_json() for e in store.audit.entries(orgs=None)])


def test_overlong_values_are_cut_to_fit_not_refused(store: KeyStore) -> None:
    store.add_key(org="default", provider="openai", secret="sk-1")

    store.resolve("default", "openai", run_id="r" * 100, step="s" * 300)

    use = store.audit.entries(orgs=["default"])[-1].record
    assert (len(use.run_id or ""), len(use.step or "")) == (64, 200)
    assert (use.step or "").endswith("…")
    assert store.audit.verify().intact


@pytest.mark.usefixtures("backend")
def test_lone_uses_chain_on_both_databases() -> None:
    # One event at a time takes PostgreSQL's one-statement insert and head move (a
    # data-modifying CTE) and SQLite's two statements: same fields, same chain.
    store = KeyStore.open()
    store.add_key(org="default", provider="openai", secret="sk-1")

    for step in ("plain", "ünïcode ✓", "s" * 300):
        store.resolve("default", "openai", user="local", run_id="run-1", step=step)

    uses = [e for e in store.audit.entries(orgs=["default"]) if e.record.action == "key.use"]
    assert [e.record.step for e in uses] == ["plain", "ünïcode ✓", "s" * 199 + "…"]
    assert [e.seq for e in uses] == [4, 5, 6]
    report = store.audit.verify()
    assert (report.intact, report.events, report.head) == (True, 6, uses[-1].mac)


@pytest.mark.usefixtures("backend")
def test_uses_through_two_stores_in_turn_chain_once_each() -> None:
    # Each store (as in two worker processes) appends at the head it last committed; when
    # the other one moved the head meanwhile, nothing is written and the use is appended
    # again behind the real head: every use exactly once, numbers consecutive, chain intact.
    first, second = KeyStore.open(), KeyStore.open()
    first.add_key(org="default", provider="openai", secret="canary-two-stores")

    for n in range(6):
        (first if n % 3 else second).resolve("default", "openai", run_id=f"run-{n}", step="s")

    entries = first.audit.entries(orgs=None, limit=100)
    uses = [e.record.run_id for e in entries if e.record.action == "key.use"]
    assert uses == [f"run-{n}" for n in range(6)]
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    report = second.audit.verify()
    assert (report.intact, report.head) == (True, entries[-1].mac)


@pytest.mark.usefixtures("backend")
def test_stores_using_keys_at_once_keep_one_intact_chain() -> None:
    stores = [KeyStore.open() for _ in range(3)]
    stores[0].add_key(org="default", provider="openai", secret="canary-at-once")

    def use(n: int) -> None:
        stores[n % 3].resolve("default", "openai", run_id=f"run-{n}", step="s")

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(use, range(45)))

    entries = stores[1].audit.entries(orgs=None, limit=1000)
    assert [e.seq for e in entries] == list(range(1, 49))  # master.add, org, key, 45 uses
    assert sorted(e.record.run_id for e in entries if e.record.run_id) == sorted(
        f"run-{n}" for n in range(45)
    )
    assert stores[2].audit.verify().intact


def test_the_chain_key_kept_for_the_next_use_is_never_shown(store: KeyStore) -> None:
    store.add_key(org="default", provider="openai", secret="canary-chain-key")
    store.resolve("default", "openai", run_id="run-1", step="s")
    head = store.audit._head  # the kept head, with the chain's MAC key
    assert head is not None

    shown = repr(head) + str(head)

    assert head.key.hex() not in shown
    assert repr(head.key) not in shown
