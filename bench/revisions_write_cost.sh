#!/usr/bin/env bash
# Revisions write-path cost: corvusd PUT throughput (16 keep-alive clients, 1 KB
# documents) with revisions off, on (a revision per write), and on with pruning
# (MinimumRevisionsToKeep 5), one database each in one corvusd. A benchmark, not
# a test: compare the rows of one run with each other, not across machines.
# usage: bench/revisions_write_cost.sh <corvusd> <corvus-http-load>
set -euo pipefail
CORVUSD=$1; LOAD=$2
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
U=http://127.0.0.1:$PORT
DIR=$(mktemp -d /tmp/rev-bench.XXXX)
"$CORVUSD" --server-url $U --data-dir "$DIR" >"$DIR/log" 2>&1 & PID=$!
trap 'kill $PID; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for i in $(seq 50); do curl -sf $U/healthz >/dev/null && break; sleep 0.1; done
run() { # name config
  curl -sf -XPUT $U/admin/databases -d "{\"DatabaseName\":\"$1\"}" >/dev/null
  [ -n "$2" ] && curl -sf -XPOST "$U/databases/$1/admin/revisions/config" -d "$2" >/dev/null
  echo "== $1 ${2:-no revisions}"
  echo -n "new docs:  "; "$LOAD" --port $PORT --db "$1" --mode put --clients 16 --seconds 5 --warmup 1 | grep -o 'rps=[^ ]* p50_us=[^ ]* p99_us=[^ ]* errors=[^ ]*'
  # 12 rounds over the same 500 ids (each round = 500 updates); median rps of rounds 5..12
  for r in $(seq 12); do "$LOAD" --port $PORT --db "$1" --mode preload --ids 500 --tag u --clients 16 | grep -o 'rps=[^ ]*' | cut -d= -f2; done \
    | tail -n 8 | sort -n | awk '{a[NR]=$1} END {printf "updates (5th-12th version of 500 docs, median of 8 rounds): rps=%s\n", (a[4]+a[5])/2}'
}
run off ""
run on '{"Default":{}}'
run keep5 '{"Default":{"MinimumRevisionsToKeep":5}}'
