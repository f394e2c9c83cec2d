#!/usr/bin/env bash
# The demo on a fresh machine: install from the lock file, then `byok demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --no-dev
exec .venv/bin/byok demo "$@"
