#!/usr/bin/env bash
# Profile one hot path with py-spy (run with uv, not a project dependency):
#   scripts/profile.sh engine|handwritten|provider [SECONDS] [--wide]
# Writes test-artifacts/profile-PATH.txt (collapsed stacks) and prints where the samples went.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
path="${1:?usage: scripts/profile.sh engine|handwritten|provider [SECONDS] [--wide]}"
seconds="${2:-20}"
shape="${3:-}"
out="test-artifacts/profile-${path}${shape:+-wide}.txt"
mkdir -p test-artifacts
export PREFECT_SERVER_ANALYTICS_ENABLED=false
log="$(mktemp)"
.venv/bin/python -m tests.benchmarks.profile_paths "$path" --seconds "$((seconds + 10))" ${shape:+"$shape"} \
  >"$log" 2>&1 &
driver=$!
trap 'kill "$driver" 2>/dev/null || true; rm -f "$log"' EXIT
until grep -q '^READY' "$log"; do
  kill -0 "$driver" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 1
done
.tools/bin/uv tool run --from 'py-spy==0.4.3' py-spy record --pid "$driver" --duration "$seconds" \
  --rate 200 --format raw --output "$out" --nonblocking
wait "$driver"
grep '^DONE' "$log"
.venv/bin/python -m tests.benchmarks.hotspots "$out"
