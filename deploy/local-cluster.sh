#!/usr/bin/env bash
# Runs the topology of docker-compose.yml as plain processes on 127.0.0.1:
# three corvusd nodes (A, B, C) forming one Rachis cluster.
#
#   deploy/local-cluster.sh start [base-port]   # default 8080: HTTP 8080/8090/8100, Rachis +1
#   deploy/local-cluster.sh status
#   deploy/local-cluster.sh stop
#
# Data and logs live in ${CORVUS_CLUSTER_DIR:-./corvus-cluster}; the binary is
# ${CORVUSD:-build/release/server/corvusd}. Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${CORVUS_CLUSTER_DIR:-./corvus-cluster}
corvusd=${CORVUSD:-build/release/server/corvusd}
cmd=${1:-start}
base=${2:-8080}
ports=("$base" "$((base + 10))" "$((base + 20))")

wait_http() {  # url, seconds
  for _ in $(seq 1 $(($2 * 10))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $1 within $2 s" >&2
  return 1
}

members() {  # number of members + promotables reported by a node's topology
  curl -fsS "http://127.0.0.1:$1/cluster/topology" 2>/dev/null |
    python3 -c 'import json,sys; t=json.load(sys.stdin)["Topology"]; print(len(t["Members"]), t.get("Leader",""))' 2>/dev/null |
    cut -d' ' -f1 || echo 0
}

case "$cmd" in
  start)
    [ -x "$corvusd" ] || { echo "build corvusd first: $corvusd is missing" >&2; exit 1; }
    mkdir -p "$dir"
    for i in 0 1 2; do
      p=${ports[$i]}
      [ -f "$dir/node$i.pid" ] && kill -0 "$(cat "$dir/node$i.pid")" 2>/dev/null && continue
      "$corvusd" --server-url "http://127.0.0.1:$p" --cluster-port "$((p + 1))" \
        --data-dir "$dir/node$i" >>"$dir/node$i.log" 2>&1 &
      echo $! >"$dir/node$i.pid"
    done
    for p in "${ports[@]}"; do wait_http "http://127.0.0.1:$p/healthz" 20; done
    # Node 0 leads its one-node cluster; it adds the other two (they join as
    # promotables and become members once caught up). Re-running is harmless.
    for p in "${ports[@]:1}"; do
      curl -fsS -X PUT "http://127.0.0.1:${ports[0]}/admin/cluster/node?url=http%3A%2F%2F127.0.0.1%3A$p" \
        -o /dev/null 2>/dev/null || true
    done
    for _ in $(seq 1 300); do
      [ "$(members "${ports[0]}")" = 3 ] && break
      sleep 0.1
    done
    if [ "$(members "${ports[0]}")" != 3 ]; then
      echo "cluster did not reach 3 members within 30 s; see $dir/node*.log" >&2
      exit 1
    fi
    echo "3-node cluster up: http://127.0.0.1:${ports[0]} http://127.0.0.1:${ports[1]} http://127.0.0.1:${ports[2]}"
    ;;
  status)
    for i in 0 1 2; do
      p=${ports[$i]}
      if [ -f "$dir/node$i.pid" ] && kill -0 "$(cat "$dir/node$i.pid")" 2>/dev/null; then
        echo "node$i pid $(cat "$dir/node$i.pid") http://127.0.0.1:$p members=$(members "$p")"
      else
        echo "node$i not running"
      fi
    done
    ;;
  stop)
    for i in 0 1 2; do
      [ -f "$dir/node$i.pid" ] || continue
      pid=$(cat "$dir/node$i.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/node$i.pid"
    done
    ;;
  *) echo "usage: $0 start [base-port] | status | stop" >&2; exit 2 ;;
esac
