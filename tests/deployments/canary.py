"""Where a piece of text ended up in a PostgreSQL database: every text and JSON column searched.

The end-to-end tests plant canaries (a ticket's text, which the simulator also
echoes into model outputs, and the provider keys) and ask which columns of the
Prefect server's database hold them afterwards.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from tests.conftest import POSTGRES_ADMIN_URL

__all__ = ["columns_holding"]

_TEXT_TYPES = ("text", "character varying", "json", "jsonb", "bytea")


def columns_holding(database: str, needles: list[str]) -> set[str]:
    """`table.column` of every column in `database` where any of `needles` occurs."""
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
    found: set[str] = set()
    with psycopg.connect(url) as connection:
        columns = connection.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type = ANY(%s)",
            (list(_TEXT_TYPES),),
        ).fetchall()
        for table, column, data_type in columns:
            text = sql.SQL("convert_from({}, 'UTF8')" if data_type == "bytea" else "{}::text")
            query = sql.SQL("SELECT 1 FROM {} WHERE {} LIKE ANY(%s) LIMIT 1").format(
                sql.Identifier(table), text.format(sql.Identifier(column))
            )
            patterns = [f"%{needle}%" for needle in needles]
            if connection.execute(query, (patterns,)).fetchone():
                found.add(f"{table}.{column}")
    return found
