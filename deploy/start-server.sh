#!/usr/bin/env bash
# Installs dependencies, builds corvusd (Release) and starts a single node on
# http://127.0.0.1:8080 with its data in ./corvus-data. Extra arguments go to
# corvusd (see `build/release/server/corvusd --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target corvusd
exec build/release/server/corvusd --server-url "${CORVUS_SERVER_URL:-http://127.0.0.1:8080}" \
  --data-dir "${CORVUS_DATA_DIR:-./corvus-data}" "$@"
