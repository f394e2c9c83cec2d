"""Where BYOK keeps its state, read from the environment at call time.

`BYOK_HOME` (default `~/.byok`) holds the SQLite database and, in local mode,
the generated master key file; `BYOK_DATABASE_URL` overrides the database with
any SQLAlchemy URL (e.g. PostgreSQL). Read lazily so tests and the demo can
point a process at a throwaway home.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["TOKEN_ENV", "byok_home", "database_url"]

TOKEN_ENV = "BYOK_TOKEN"  # noqa: S105 - the variable's name, not a token


def byok_home() -> Path:
    """The BYOK home folder, created with owner-only permissions if missing."""
    home = Path(os.environ.get("BYOK_HOME") or Path.home() / ".byok").expanduser()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return home


def database_url() -> str:
    """`BYOK_DATABASE_URL`, or the SQLite file under `BYOK_HOME`."""
    url = os.environ.get("BYOK_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{byok_home() / 'byok.db'}"
