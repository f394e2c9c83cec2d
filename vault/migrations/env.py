"""Alembic environment for the BYOK database (vault and ledger branches).

Run through `vault.migrate.upgrade`, which hands over an open connection; the
metadata is SQLModel's, with every table-defining module imported.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import flows.budget.models
import flows.ledger.models  # noqa: F401
import providers.breaker.models  # noqa: F401
import vault.models  # noqa: F401

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
