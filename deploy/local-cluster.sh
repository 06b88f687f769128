#!/usr/bin/env bash
# Runs the topology of docker-compose.yml as plain processes on 127.0.0.1:
# three corvusd nodes (A, B, C) forming one Rachis cluster, and optionally an
# edge: a fourth corvusd, its own cluster, whose database "edge" pulls from
# (and pushes to) the three nodes' database "hub" (pull replication).
#
#   deploy/local-cluster.sh start [base-port]   # default 8080: HTTP 8080/8090/8100, Rachis +1
#   deploy/local-cluster.sh start-edge [base-port]  # the above, then the edge on base+30
#   deploy/local-cluster.sh status
#   deploy/local-cluster.sh stop
#
# Secured: every node serves HTTPS with one cluster certificate and the nodes
# talk to each other over TLS with it (Rachis, replication, node-to-node HTTP);
# the edge has its own certificate, registered on the hub for its sink. The
# certificates are made by deploy/cluster-certificates.sh in $dir/certs (kept
# across runs); admin.pem is the ClusterAdmin client certificate:
#   curl --cacert $dir/certs/ca.pem --cert $dir/certs/admin.pem https://127.0.0.1:8080/cluster/topology
#
# Data, logs and certificates live in ${CORVUS_CLUSTER_DIR:-./corvus-cluster}; the
# binary is ${CORVUSD:-build/release/server/corvusd}. Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${CORVUS_CLUSTER_DIR:-./corvus-cluster}
corvusd=${CORVUSD:-build/release/server/corvusd}
cmd=${1:-start}
base=${2:-8080}
ports=("$base" "$((base + 10))" "$((base + 20))")
edge_port=$((base + 30))
certs=$dir/certs
# curl as the admin, checking the servers against the test CA.
curl_admin() { curl --cacert "$certs/ca.pem" --cert "$certs/admin.pem" "$@"; }
secured_node() {  # http-port data-dir log certificate: starts one secured corvusd in the background
  "$corvusd" --server-url "https://127.0.0.1:$1" --cluster-port "$(($1 + 1))" --data-dir "$2" \
    --certificate "$4" --admin-certificate-thumbprint "$(cat "$certs/admin.thumbprint")" >>"$3" 2>&1 &
}

wait_http() {  # url, seconds
  for _ in $(seq 1 $(($2 * 10))); do
    curl_admin -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $1 within $2 s" >&2
  return 1
}

members() {  # number of members + promotables reported by a node's topology
  curl_admin -fsS "https://127.0.0.1:$1/cluster/topology" 2>/dev/null |
    python3 -c 'import json,sys; t=json.load(sys.stdin)["Topology"]; print(len(t["Members"]), t.get("Leader",""))' 2>/dev/null |
    cut -d' ' -f1 || echo 0
}

http_ok() {  # method url [body]: fails (with the answer) unless 2xx
  local out code data=()
  [ $# -ge 3 ] && data=(-H 'Content-Type: application/json' --data-binary "$3")
  out=$(mktemp)
  code=$(curl_admin -sS -o "$out" -w '%{http_code}' --max-time 30 -X "$1" "$2" "${data[@]}" || echo 000)
  if [[ $code != 2* ]]; then echo "$1 $2: $code $(cat "$out")" >&2; rm -f "$out"; return 1; fi
  rm -f "$out"
}

case "$cmd" in
  start-edge)
    bash deploy/local-cluster.sh start "$base"
    if ! { [ -f "$dir/edge.pid" ] && kill -0 "$(cat "$dir/edge.pid")" 2>/dev/null; }; then
      secured_node "$edge_port" "$dir/edge" "$dir/edge.log" "$certs/edge.pem"
      echo $! >"$dir/edge.pid"
    fi
    wait_http "https://127.0.0.1:$edge_port/healthz" 20
    a="https://127.0.0.1:${ports[0]}"
    e="https://127.0.0.1:$edge_port"
    # The hub: database "hub" on all three nodes, a hub "edges" both ways.
    # Re-running finds them there (the creates answer 409 then).
    curl_admin -sS -o /dev/null -X PUT "$a/admin/databases?name=hub&replicationFactor=3" \
      -H 'Content-Type: application/json' --data-binary '{"DatabaseName":"hub"}' || true
    curl_admin -sS "$a/databases/hub/tasks" | grep -q '"Name":"edges"' ||
      http_ok PUT "$a/databases/hub/admin/tasks/pull-replication/hub" '{"Name":"edges","Mode":"HubToSink,SinkToHub"}'
    # The edge's certificate may use hub "edges" (and nothing else on the hub).
    http_ok PUT "$a/databases/hub/admin/tasks/pull-replication/hub/access?name=edges" \
      "{\"Name\":\"edge\",\"CertificateBase64\":\"$(openssl x509 -in "$certs/edge.crt" -outform der | base64 -w0)\"}"
    # The edge: database "edge", a connection string naming the three nodes, a
    # sink presenting the edge's certificate.
    curl_admin -sS -o /dev/null -X PUT "$e/admin/databases?name=edge" \
      -H 'Content-Type: application/json' --data-binary '{"DatabaseName":"edge"}' || true
    http_ok PUT "$e/databases/edge/admin/connection-strings" \
      "{\"Name\":\"hub\",\"Database\":\"hub\",\"TopologyDiscoveryUrls\":[\"$a\",\"https://127.0.0.1:${ports[1]}\",\"https://127.0.0.1:${ports[2]}\"]}"
    curl_admin -sS "$e/databases/edge/tasks" | grep -q '"HubName":"edges"' ||
      http_ok POST "$e/databases/edge/admin/tasks/sink-pull-replication" \
        "{\"PullReplicationAsSink\":{\"HubName\":\"edges\",\"ConnectionStringName\":\"hub\",\"Mode\":\"HubToSink,SinkToHub\",\"CertificateWithPrivateKey\":\"$(base64 -w0 "$certs/edge.pfx")\",\"CertificatePassword\":\"\"}}"
    echo "edge up: $e (database edge) pulls from and pushes to database hub of $a and its two peers"
    ;;
  start)
    [ -x "$corvusd" ] || { echo "build corvusd first: $corvusd is missing" >&2; exit 1; }
    mkdir -p "$dir"
    deploy/cluster-certificates.sh "$certs" >/dev/null
    for i in 0 1 2; do
      p=${ports[$i]}
      [ -f "$dir/node$i.pid" ] && kill -0 "$(cat "$dir/node$i.pid")" 2>/dev/null && continue
      secured_node "$p" "$dir/node$i" "$dir/node$i.log" "$certs/cluster.pem"
      echo $! >"$dir/node$i.pid"
    done
    for p in "${ports[@]}"; do wait_http "https://127.0.0.1:$p/healthz" 20; done
    # Node 0 leads its one-node cluster; it adds the other two (they join as
    # promotables and become members once caught up). Re-running is harmless.
    for p in "${ports[@]:1}"; do
      curl_admin -fsS -X PUT "https://127.0.0.1:${ports[0]}/admin/cluster/node?url=https%3A%2F%2F127.0.0.1%3A$p" \
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
    echo "secured 3-node cluster up: https://127.0.0.1:${ports[0]} https://127.0.0.1:${ports[1]} https://127.0.0.1:${ports[2]}"
    echo "  curl --cacert $certs/ca.pem --cert $certs/admin.pem https://127.0.0.1:${ports[0]}/cluster/topology"
    ;;
  status)
    for i in 0 1 2; do
      p=${ports[$i]}
      if [ -f "$dir/node$i.pid" ] && kill -0 "$(cat "$dir/node$i.pid")" 2>/dev/null; then
        echo "node$i pid $(cat "$dir/node$i.pid") https://127.0.0.1:$p members=$(members "$p")"
      else
        echo "node$i not running"
      fi
    done
    if [ -f "$dir/edge.pid" ] && kill -0 "$(cat "$dir/edge.pid")" 2>/dev/null; then
      echo "edge pid $(cat "$dir/edge.pid") https://127.0.0.1:$edge_port"
    fi
    ;;
  stop)
    for n in node0 node1 node2 edge; do
      [ -f "$dir/$n.pid" ] || continue
      pid=$(cat "$dir/$n.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$n.pid"
    done
    ;;
  *) echo "usage: $0 start [base-port] | start-edge [base-port] | status | stop" >&2; exit 2 ;;
esac
