"""Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlmodel import SQLModel

from vault.db import get_engine
from vault.migrate import upgrade


def _drift(url: str) -> list[object]:
    engine = get_engine(url)  # migrates on first use
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def test_sqlite_schema_matches_models(tmp_path: Path) -> None:
    assert _drift(f"sqlite:///{tmp_path / 'm.db'}") == []


@pytest.mark.postgres
def test_postgresql_schema_matches_models(postgres_url: str) -> None:
    assert _drift(postgres_url) == []


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"orgs", "provider_keys", "usage_records", "alembic_version"} <= tables


def test_a_new_sqlite_file_starts_as_exactly_what_the_migrations_build(tmp_path: Path) -> None:
    """New local databases are copied from a migrated template: it must be the same schema."""
    copied = get_engine(f"sqlite:///{tmp_path / 'copied.db'}")
    migrated = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    upgrade(migrated)

    def schema(engine: Engine) -> list[tuple[str, ...]]:
        with engine.connect() as connection:
            query = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
            rows = [tuple(row) for row in connection.execute(text(query))]
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            return rows + sorted((row[0],) for row in versions)

    try:
        assert schema(copied) == schema(migrated)
    finally:
        migrated.dispose()
