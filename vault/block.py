"""A Prefect Block that points at an org's vault and resolves keys inside the task that calls.

Prefect stores block documents on its server and hands secret fields back to any
client, so this block holds references only: which org, and optionally which
database. The master key comes from the worker's environment (`BYOK_MASTER_KEY`
or its key file) and the provider key is decrypted in the task's memory, on
every call, and never leaves it.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import ConfigDict, Field, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from providers.endpoint import Endpoint
from vault.opened import opened_store
from vault.store import DEFAULT_ORG

__all__ = ["VaultKeys"]


class VaultKeys(Block):
    """Provider keys of one BYOK org, decrypted only when a task asks for one.

    Attributes:
        org: The org whose keys the flow may use; no other org's key is ever
            returned (fail closed).
        database_url: The vault's SQLAlchemy URL. Empty means the worker's
            `BYOK_DATABASE_URL`, else the SQLite database under `BYOK_HOME`. It may
            not contain a password: give the worker `BYOK_DATABASE_URL` or a
            PostgreSQL password file instead.

    Example:
        Resolve the key for a model string's prefix inside a task:
        ```python
        from vault.block import VaultKeys

        endpoint = VaultKeys(org="acme").resolve("openai")
        ```
    """

    # A rejected database_url may hold a password: keep it out of validation errors.
    model_config = ConfigDict(hide_input_in_errors=True)

    _block_type_name = "BYOK Vault Keys"
    _block_type_slug = "byok-vault-keys"
    _description = (
        "Points a flow at one org's BYOK vault; provider keys are decrypted inside "
        "the task that uses them and never stored in the block."
    )

    org: str = Field(
        default=DEFAULT_ORG,
        description="The BYOK org whose keys this block resolves.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the vault database, without a password. Empty: the worker's "
            "BYOK_DATABASE_URL, else the SQLite database under BYOK_HOME."
        ),
    )

    @field_validator("database_url")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("database_url is not a SQLAlchemy URL") from None
        if url.password is not None:
            raise ValueError(
                "database_url must not contain a password, because Prefect stores block "
                "documents; set BYOK_DATABASE_URL on the worker instead"
            )
        return value

    def resolve(
        self,
        prefix: str,
        *,
        user: str | None = None,
        run_id: str | None = None,
        step: str | None = None,
    ) -> Endpoint:
        """The endpoint for model-string PREFIX in this org, its key freshly decrypted.

        `user` is who the run executes as; `run_id` and `step` go into the
        audit event that records this use of the key. Raises
        `vault.KeyNotFoundError` when the org has no such key,
        `vault.MasterKeyError` when the worker's master key does not match, and
        a `vault.VaultError` naming the reason when `user` may not use this
        org's keys.
        """
        store = opened_store(self.database_url)  # opened and checked once per master key ring
        return store.resolve(self.org, prefix, user=user, run_id=run_id, step=step)
