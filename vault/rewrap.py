"""Master-key rotation: re-wrap every data key under the ring's first KEK; retire old KEKs.

Only the small wrapped data keys (one per org, plus the audit chain's key)
change; provider-key ciphertexts stay as they are. Each row is re-wrapped in a
transaction of its own with a compare-and-set on its KEK id, so:

- reads keep working throughout: the ring holds the old and the new KEK, and a
  row's KEK id and wrapped key always change together;
- an interrupted rotation resumes where it stopped: the rows' KEK ids are the
  progress, so running it again re-wraps just the rest;
- it is idempotent and safe to run twice at once: a row already moved is
  skipped, and a concurrent writer's change is never overwritten.

A KEK may be retired only when nothing is wrapped under it any more and it is
not the ring's first key; its id stays recorded, so it is never reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, func, select

from vault.audit import CHAIN_KEY_AD
from vault.crypto import AssociatedData
from vault.envelope import data_key_ad
from vault.errors import ConflictError, MasterKeyError, NotFoundError
from vault.keycheck import kek_ids_in_use, verify_master_keys
from vault.keyfile import add_first_key, locked, next_kek_id
from vault.masterkey import MASTER_KEY_ENV, KekProvider, MasterKeyRing, load_master_key_ring
from vault.models import AuditChain, KekCheck, OrgDataKey

__all__ = [
    "KekStatus",
    "Rotation",
    "kek_status",
    "pending_rows",
    "retire",
    "rewrap_all",
    "rotate",
]


@dataclass(frozen=True, slots=True)
class KekStatus:
    """One KEK as `byok vault status` shows it: where it is and what it still wraps."""

    kek_id: str
    primary: bool
    in_ring: bool
    data_keys: int
    audit_key: bool
    retired_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """The stable `byok vault status --json` row."""
        return {
            "kek_id": self.kek_id,
            "primary": self.primary,
            "in_ring": self.in_ring,
            "data_keys": self.data_keys,
            "audit_key": self.audit_key,
            "retired_at": None if self.retired_at is None else self.retired_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Rotation:
    """What `byok vault rotate-master` did."""

    primary: str  # the KEK everything is wrapped under now
    added: str | None  # the KEK this rotation added to the key file, if it did
    key_file: str | None  # where it was added
    moved: int  # rows this run re-wrapped (fewer than all when resuming)

    def summary(self) -> str:
        """One line for the audit log and the terminal."""
        added = f"added '{self.added}' to {self.key_file}; " if self.added else ""
        return f"{added}re-wrapped {self.moved} key(s); all are under '{self.primary}'"

    def to_json(self) -> dict[str, Any]:
        """The stable `byok vault rotate-master --json` shape."""
        return {
            "primary": self.primary,
            "added": self.added,
            "key_file": self.key_file,
            "moved": self.moved,
        }


def rotate(
    engine: Engine, keks: KekProvider, *, after_row: Callable[[str], None] | None = None
) -> tuple[KekProvider, Rotation]:
    """Rotate the master key: resume, or add a new first KEK to the key file, then re-wrap.

    With rows still under an older KEK, this finishes that rotation. Otherwise a
    ring from a key file gets a new random first KEK (under an exclusive lock,
    rechecked inside it) and a ring from `BYOK_MASTER_KEY` is refused with how
    to add one. Returns the ring now in use and what was done.
    """
    path = keks.path if isinstance(keks, MasterKeyRing) else None
    added: str | None = None
    if path is None:
        if pending_rows(engine, keks) == 0:
            raise ConflictError(
                f"every data key is already wrapped by '{keks.primary.kek_id}', the first key of "
                f"{keks.source}. To rotate, generate a key (`openssl rand -base64 32`), put it "
                f"first in {MASTER_KEY_ENV} as 'NEWID:BASE64,' followed by the current ring, "
                "and run this again"
            )
    else:
        with locked(path):
            keks = load_master_key_ring(local=True, generate=False)
            verify_master_keys(engine, keks)
            if pending_rows(engine, keks) == 0:
                with Session(engine) as session:
                    recorded = set(session.exec(select(KekCheck.kek_id)))
                added = next_kek_id(recorded | set(keks.ids))
                add_first_key(path, added)
                keks = load_master_key_ring(local=True, generate=False)
                verify_master_keys(engine, keks)  # records the new KEK's check value
    moved = rewrap_all(engine, keks, after_row=after_row)
    return keks, Rotation(
        primary=keks.primary.kek_id,
        added=added,
        key_file=None if added is None else str(path),
        moved=moved,
    )


def kek_status(engine: Engine, keks: KekProvider) -> list[KekStatus]:
    """Every KEK the ring or the database knows: the ring's first, then the ring, then others."""
    with Session(engine) as session:
        counts = dict(
            session.exec(
                select(OrgDataKey.kek_id, func.count()).group_by(col(OrgDataKey.kek_id))
            ).all()
        )
        chain = session.exec(select(AuditChain.kek_id)).first()
        retired = {c.kek_id: c.retired_at for c in session.exec(select(KekCheck))}
    others = set(counts) | set(retired) | ({chain} if chain is not None else set())
    return [
        KekStatus(
            kek_id=kek_id,
            primary=kek_id == keks.primary.kek_id,
            in_ring=kek_id in keks.ids,
            data_keys=int(counts.get(kek_id, 0)),
            audit_key=kek_id == chain,
            retired_at=_utc(retired.get(kek_id)),
        )
        for kek_id in [*keks.ids, *sorted(others - set(keks.ids))]
    ]


def pending_rows(engine: Engine, keks: KekProvider) -> int:
    """How many wrapped keys are not yet under the ring's first KEK."""
    primary = keks.primary.kek_id
    with Session(engine) as session:
        data_keys = session.exec(
            select(func.count()).select_from(OrgDataKey).where(OrgDataKey.kek_id != primary)
        ).one()
        chain = session.exec(select(AuditChain.kek_id)).first()
    return int(data_keys) + (1 if chain is not None and chain != primary else 0)


def rewrap_all(
    engine: Engine, keks: KekProvider, *, after_row: Callable[[str], None] | None = None
) -> int:
    """Re-wrap every data key (and the audit chain's key) under the ring's first KEK.

    Returns how many rows this call moved. `after_row(row_id)` runs after each
    committed row; an exception there (or anywhere) stops the rotation with
    every committed row in place, to be resumed by calling this again.
    """
    primary = keks.primary.kek_id
    with Session(engine) as session:
        ids = list(
            session.exec(
                select(OrgDataKey.id)
                .where(OrgDataKey.kek_id != primary)
                .order_by(col(OrgDataKey.id))
            )
        )
    moved = 0
    for row_id in ids:
        with Session(engine) as session:
            row = session.get(OrgDataKey, row_id)
            if row is None or row.kek_id == primary:
                continue
            wrapped = _rewrapped(keks, row.kek_id, row.wrapped, data_key_ad(row.org_id, row.id))
            result = session.exec(
                update(OrgDataKey)
                .where(col(OrgDataKey.id) == row.id, col(OrgDataKey.kek_id) == row.kek_id)
                .values(kek_id=primary, wrapped=wrapped)
            )
            session.commit()
            moved += result.rowcount
        if after_row is not None:
            after_row(row_id)
    with Session(engine) as session:
        chain = session.exec(select(AuditChain)).first()
        if chain is not None and chain.kek_id != primary:
            wrapped = _rewrapped(keks, chain.kek_id, chain.wrapped_key, CHAIN_KEY_AD)
            result = session.exec(
                update(AuditChain)
                .where(col(AuditChain.id) == chain.id, col(AuditChain.kek_id) == chain.kek_id)
                .values(kek_id=primary, wrapped_key=wrapped)
            )
            session.commit()
            moved += result.rowcount
    return moved


def retire(engine: Engine, keks: KekProvider, kek_id: str) -> None:
    """Mark KEK `kek_id` retired, refusing while it is the ring's first or still wraps keys."""
    if kek_id == keks.primary.kek_id:
        raise ConflictError(
            f"'{kek_id}' is the first key of the master key ring: it wraps new data keys. "
            "Rotate to a new key first (`byok vault rotate-master`)"
        )
    with Session(engine) as session:
        check = session.get(KekCheck, kek_id)
        if check is None:
            raise NotFoundError(
                f"this vault never used a master key '{kek_id}' (`byok vault status` lists them)"
            )
        if check.retired_at is not None:
            return
        if kek_id in kek_ids_in_use(session):
            rows = session.exec(
                select(func.count()).select_from(OrgDataKey).where(OrgDataKey.kek_id == kek_id)
            ).one()
            raise ConflictError(
                f"refused: master key '{kek_id}' still wraps {rows} data key(s) or the audit "
                "key; run `byok vault rotate-master` to re-wrap them first. Nothing was retired"
            )
        check.retired_at = datetime.now(UTC)
        session.add(check)
        session.commit()


def _rewrapped(keks: KekProvider, old: str, wrapped: bytes, ad: AssociatedData) -> bytes:
    """`wrapped` moved from KEK `old` to the first KEK, proven to open before it is stored."""
    plain = keks.get(old).unwrap(wrapped, ad)
    primary = keks.primary
    rewrapped = primary.wrap(plain, ad)
    if primary.unwrap(rewrapped, ad) != plain:
        raise MasterKeyError(
            f"master key '{primary.kek_id}' did not give back what it wrapped; nothing was changed"
        )
    return rewrapped


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)  # SQLite drops the zone; timestamps are written in UTC
