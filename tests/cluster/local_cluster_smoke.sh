#!/usr/bin/env bash
# deploy/local-cluster.sh brings up three real secured nodes (HTTPS, TLS
# between them) that agree on one topology with three members, and stops them
# again. Bounded: the script's own
# waits plus this file's timeout.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export CORVUSD=$1
export CORVUS_CLUSTER_DIR=$(mktemp -d)
# Below the kernel's ephemeral range (32768+), where the other tests' free
# ports and proxies come from; skip bases with any of the six ports in use.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
  base=$((20000 + (RANDOM % 1200) * 10))
  busy=0
  for p in "$base" "$((base + 1))" "$((base + 10))" "$((base + 11))" "$((base + 20))" "$((base + 21))"; do
    port_in_use "$p" && busy=1
  done
  [ "$busy" = 0 ] && break
done
cleanup() { "$root/deploy/local-cluster.sh" stop "$base" || true; rm -rf "$CORVUS_CLUSTER_DIR"; }
trap cleanup EXIT
timeout 90 "$root/deploy/local-cluster.sh" start "$base"
for p in "$base" "$((base + 10))" "$((base + 20))"; do
  n=$(curl -fsS --cacert "$CORVUS_CLUSTER_DIR/certs/ca.pem" --cert "$CORVUS_CLUSTER_DIR/certs/admin.pem" \
        "https://127.0.0.1:$p/cluster/topology" |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Topology"]["Members"]))')
  [ "$n" = 3 ] || { echo "node on port $p sees $n members"; exit 1; }
done
echo "local cluster: 3 secured nodes, 3 members each"
