"""`byok --help` lists every command without importing the database or Prefect layers.

Importing SQLAlchemy, SQLModel, httpx and Prefect took most of the 9 s that
`byok --help` needed on a loaded 2-core machine; the commands import them
when they run. The start-up time itself is measured by the benchmarks.
"""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
from typer.testing import CliRunner
from flows.cli.main import app
result = CliRunner().invoke(app, ["--help"])
assert result.exit_code == 0, result.output
assert "keys" in result.output and "usage" in result.output, result.output
heavy = ("sqlalchemy", "sqlmodel", "prefect", "httpx", "genai_prices", "psycopg")
print(",".join(name for name in heavy if name in sys.modules))
"""


def test_help_imports_no_database_http_or_prefect_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == ""
