#!/usr/bin/env bash
# Compatibility tests: drive a real corvusd with the official npm `ravendb`
# client (pinned in package.json / package-lock.json).
#   tests/compat/run.sh <path-to-corvusd> [extra node --test args...]
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 <path-to-corvusd> [node --test args...]" >&2
  exit 2
fi
CORVUSD="$(realpath "$1")"; shift
if [[ ! -x "$CORVUSD" ]]; then
  echo "run.sh: corvusd binary not found or not executable: $CORVUSD" >&2
  exit 2
fi
export CORVUSD

cd "$(dirname "$(realpath "$0")")"

command -v node >/dev/null || { echo "run.sh: node is required (v20+)" >&2; exit 2; }
command -v npm >/dev/null || { echo "run.sh: npm is required" >&2; exit 2; }

# Install the pinned client only when node_modules is missing or older than
# the lock file (npm ci wipes and reinstalls exactly what the lock says).
stamp=node_modules/.package-lock.json
if [[ ! -f "$stamp" || package-lock.json -nt "$stamp" || package.json -nt "$stamp" ]] \
   || ! grep -q '"version": "7.2.2"' node_modules/ravendb/package.json 2>/dev/null; then
  echo "run.sh: installing pinned npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# One test file at a time: each file runs its own corvusd, and the machine is shared.
exec node --test --test-concurrency=1 "$@" ./*.test.mjs
