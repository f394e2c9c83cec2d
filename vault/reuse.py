"""A key read once, used again only if the statement that audits the use finds it unchanged.

Every call resolves its key afresh, so a rotation, a revocation or a removed
member applies to the next call. On PostgreSQL the next use of a key this
process has already read skips the read: the one statement that appends the
use's audit event (`AuditLog.append_at_head`) also requires every row that
read relied on to be as it was, byte for byte: the org, the active key version
with its ciphertext, the data key that seals it, and either the vault still
having no users or the run's user still holding the same role in the org. If
anything differs, nothing is written and the key is read and audited the usual
way. The check and the audited use commit together, so no key is handed out
on a stale read.

Only lookups by key name are remembered, and only for a user (or for the
local operator while the vault has no users): the fallback "the org's one
active key of this provider" and the operator's ownerless-org rule are read
every time. What is remembered is what the database holds anyway (ids, the
sealed key, the wrapped data key), never a decrypted key.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, String, and_, bindparam, exists, not_
from sqlmodel import col

from vault.lookup import ActiveKey, DataKeyRow
from vault.models import KeyStatus, Membership, Org, OrgDataKey, ProviderKey, User

__all__ = ["KnownUse", "KnownUses", "Unchanged"]

_KEPT = 256  # (org, key name, user) triples remembered per store; more are forgotten


def _text(name: str) -> Any:
    return bindparam(f"unchanged_{name}", type_=String)


_ROWS_UNCHANGED = and_(
    exists().where(col(Org.id) == _text("org_id"), col(Org.slug) == _text("org")),
    exists().where(
        col(ProviderKey.id) == _text("key_id"),
        col(ProviderKey.org_id) == _text("org_id"),
        col(ProviderKey.name) == _text("key_name"),
        col(ProviderKey.status) == KeyStatus.ACTIVE.value,
        col(ProviderKey.version) == bindparam("unchanged_key_version"),
        col(ProviderKey.provider) == _text("provider"),
        col(ProviderKey.protocol) == _text("protocol"),
        col(ProviderKey.base_url).is_not_distinct_from(_text("base_url")),
        col(ProviderKey.ciphertext) == bindparam("unchanged_ciphertext", type_=LargeBinary),
    ),
    exists().where(
        col(OrgDataKey.id) == _text("data_key_id"),
        col(OrgDataKey.org_id) == _text("org_id"),
        col(OrgDataKey.kek_id) == _text("kek_id"),
        col(OrgDataKey.wrapped) == bindparam("unchanged_wrapped", type_=LargeBinary),
    ),
)
_WITHOUT_USERS = and_(_ROWS_UNCHANGED, not_(exists().where(col(User.id).is_not(None))))
_SAME_MEMBER = and_(
    _ROWS_UNCHANGED,
    exists().where(
        col(User.email) == _text("actor"),
        col(Membership.user_id) == col(User.id),
        col(Membership.org_id) == _text("org_id"),
        col(Membership.role) == _text("role"),
    ),
)


@dataclass(frozen=True, slots=True)
class Unchanged:
    """A condition on the vault's rows, and its parameters, for `AuditLog.append_at_head`."""

    clause: ColumnElement[bool]
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class KnownUse:
    """What resolving a key by name read: enough to decrypt it again, never the key itself."""

    org: str
    actor: str
    key: ActiveKey
    data_key: DataKeyRow
    role: str | None  # the user's role in the org; None while the vault has no users

    def unchanged(self) -> Unchanged:
        """The condition under which this read still holds, as one SQL expression."""
        params: dict[str, Any] = {
            "unchanged_org": self.org,
            "unchanged_org_id": self.key.org_id,
            "unchanged_key_id": self.key.id,
            "unchanged_key_name": self.key.name,
            "unchanged_key_version": self.key.version,
            "unchanged_provider": self.key.provider,
            "unchanged_protocol": self.key.protocol,
            "unchanged_base_url": self.key.base_url,
            "unchanged_ciphertext": self.key.ciphertext,
            "unchanged_data_key_id": self.data_key.id,
            "unchanged_kek_id": self.data_key.kek_id,
            "unchanged_wrapped": self.data_key.wrapped,
        }
        if self.role is None:
            return Unchanged(_WITHOUT_USERS, params)
        return Unchanged(
            _SAME_MEMBER, {**params, "unchanged_actor": self.actor, "unchanged_role": self.role}
        )


class KnownUses:
    """The `KnownUse`s of one store, by (org, key name, user); safe to use from many threads."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str], KnownUse] = {}
        self._lock = threading.Lock()

    def get(self, org: str, name: str, actor: str) -> KnownUse | None:
        """The remembered read for this key name and user, if any."""
        return self._known.get((org, name, actor))

    def keep(self, use: KnownUse) -> None:
        """Remember `use` for the next resolution of its key name by its user."""
        with self._lock:
            if len(self._known) >= _KEPT:
                self._known.clear()
            self._known[(use.org, use.key.name, use.actor)] = use

    def forget(self, org: str, name: str, actor: str) -> None:
        """Drop the read for this key name and user: it no longer holds."""
        with self._lock:
            self._known.pop((org, name, actor), None)
