"""Check values: a wrong or missing master key is an error at open, not a silent failure.

For each KEK id the database stores a known constant sealed under that KEK (never
the KEK itself). Opening the vault unseals every check value whose KEK is in the
ring, refuses a ring that lacks a KEK still wrapping data keys (or the audit
chain's key) or whose first key was retired, and records a check value for each
ring KEK the database has not seen yet.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from vault.crypto import AssociatedData, Purpose
from vault.errors import DecryptionError, MasterKeyError
from vault.masterkey import KekProvider
from vault.models import AuditChain, KekCheck, OrgDataKey

__all__ = ["has_check_values", "kek_ids_in_use", "verify_master_keys"]

_CONSTANT = b"BYOK master key check value v1"


def has_check_values(engine: Engine) -> bool:
    """Whether any master key has been used with this database."""
    with Session(engine) as session:
        return session.exec(select(KekCheck.kek_id).limit(1)).first() is not None


def verify_master_keys(engine: Engine, keks: KekProvider) -> list[str]:
    """Prove `keks` matches the database, recording check values for new KEK ids.

    Returns the KEK ids this call recorded: master keys this vault sees for the
    first time (the caller audits them).
    """
    with Session(engine) as session:
        checks = {check.kek_id: check for check in session.exec(select(KekCheck))}
        for kek_id, check in checks.items():
            if kek_id in keks.ids:
                _verify(keks, kek_id, check.check_value)
        primary = checks.get(keks.primary.kek_id)
        if primary is not None and primary.retired_at is not None:
            raise MasterKeyError(
                f"the first key of the ring from {keks.source}, '{primary.kek_id}', was retired "
                f"on {primary.retired_at:%Y-%m-%d}: put the key that replaced it first"
            )
        missing = sorted(kek_ids_in_use(session).difference(keks.ids))
        if missing:
            raise MasterKeyError(
                f"this vault's data keys are wrapped by master key "
                f"{', '.join(repr(k) for k in missing)}, which the ring from {keks.source} "
                f"lacks (it has {', '.join(repr(k) for k in keks.ids)}); add it back to "
                "BYOK_MASTER_KEY as 'ID:BASE64'"
            )
        new = [kek_id for kek_id in keks.ids if kek_id not in checks]
        for kek_id in new:
            value = keks.get(kek_id).wrap(_CONSTANT, _ad(kek_id))
            session.add(KekCheck(kek_id=kek_id, check_value=value))
        if not new:
            return []
        try:
            session.commit()
        except IntegrityError:
            # Another process recorded them first: theirs must match ours too.
            session.rollback()
            for kek_id in new:
                recorded = session.get(KekCheck, kek_id)
                if recorded is not None:
                    _verify(keks, kek_id, recorded.check_value)
            return []
        return new


def kek_ids_in_use(session: Session) -> set[str]:
    """Every KEK id that still wraps something: org data keys and the audit chain's key."""
    data_keys = session.exec(select(OrgDataKey.kek_id).distinct())
    return set(data_keys) | set(session.exec(select(AuditChain.kek_id)))


def _verify(keks: KekProvider, kek_id: str, value: bytes) -> None:
    try:
        ok = keks.get(kek_id).unwrap(value, _ad(kek_id)) == _CONSTANT
    except DecryptionError:
        ok = False
    if not ok:
        raise MasterKeyError(
            f"the master key from {keks.source} does not match this vault's database "
            f"(kek '{kek_id}'); set BYOK_MASTER_KEY to the key it was created with"
        )


def _ad(kek_id: str) -> AssociatedData:
    return AssociatedData(purpose=Purpose.KEK_CHECK, org="", record=kek_id, version=1)
