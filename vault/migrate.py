"""Bringing a database to the current schema with Alembic.

Independent migration branches share one database: `vault` (orgs, keys,
audit; `vault/migrations/versions`), `ledger` (usage rows;
`flows/ledger/migrations/versions`) and `breaker` (circuit breaker state;
`providers/breaker/migrations/versions`), so the teams that own each can add
migrations without ordering against each other. `upgrade` applies every
branch's head; it is idempotent and cheap when nothing is pending.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

__all__ = ["VERSION_LOCATIONS", "alembic_config", "upgrade"]

_HERE = Path(__file__).resolve().parent
VERSION_LOCATIONS = (
    _HERE / "migrations" / "versions",
    _HERE.parent / "flows" / "ledger" / "migrations" / "versions",
    _HERE.parent / "providers" / "breaker" / "migrations" / "versions",
)


def alembic_config() -> Config:
    """Alembic's configuration, built in code: no alembic.ini to ship or find."""
    config = Config()
    config.set_main_option("script_location", str(_HERE / "migrations"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(map(str, VERSION_LOCATIONS)))
    return config


def upgrade(engine: Engine) -> None:
    """Apply all pending migrations of every branch."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
