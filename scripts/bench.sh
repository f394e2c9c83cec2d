#!/usr/bin/env bash
# The benchmarks (tests/benchmarks/, ~15 min): the engine next to a hand-written Prefect
# flow, plain asyncio + httpx and LiteLLM, against the simulator, the ephemeral API and a
# `prefect server` on the local PostgreSQL. Writes test-artifacts/bench.md (or $BYOK_BENCH_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export LITELLM_LOCAL_MODEL_COST_MAP=True
exec .venv/bin/pytest tests/benchmarks -m benchmark -s -p no:cacheprovider "$@"
