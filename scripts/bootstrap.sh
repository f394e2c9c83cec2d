#!/usr/bin/env bash
# Installs the project from its lock file with nothing but Python 3.11+ and pip.
# uv lives in its own small venv (.tools/) so `uv sync` never removes itself, and
# so this works on a Python whose pip refuses system-wide installs (PEP 668).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .tools/bin/uv ]; then
  "$PYTHON" -m venv .tools
  .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
UV_PYTHON="$("$PYTHON" -c 'import sys; print(sys.executable)')" \
  .tools/bin/uv sync --frozen --quiet "$@"
