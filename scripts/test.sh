#!/usr/bin/env bash
# The whole test suite: lint, strict types, then every test. `.ci/run` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
