#!/usr/bin/env bash
# bench/cluster_tls_bench.sh: what node-to-node TLS costs group writes. Two
# three-node groups (replication factor 3) on this machine, one plain (HTTP,
# plain cluster ports) and one secured (every node with the one cluster
# certificate of deploy/cluster-certificates.sh: HTTPS, and Rachis and group
# replication over TLS on the cluster ports), plus one plain and one secured
# single node. Durable 1 KB PUTs (corvus-http-load --mode put, closed loop,
# keep-alive), --clients spread evenly over a group's three nodes; the four
# set-ups run interleaved, --repeat times; the report gives medians and:
#   secured group / plain group     the whole cost of securing a group (HTTPS
#                                   at the clients + TLS between the nodes);
#   secured single / plain single   the HTTPS part alone (no cluster traffic);
#   their quotient                  an estimate of the cluster port's TLS part.
# Not a test: it never fails on a number. Everything listens on 127.0.0.1 and
# lives in one temp directory, removed on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=cluster_tls_bench.sh BENCH_LOG_TAG=cluster-tls
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

SECS=10
REPEAT=3
WARMUP=1
CLIENTS=64
BUILD_DIR="$REPO/build/release"
TMP_BASE="$REPO/build"
DO_INSTALL=1
KEEP_TMP=0

usage() {
  cat <<EOF
usage: bench/cluster_tls_bench.sh [options]
  --seconds S      measured seconds per run (default $SECS)
  --warmup S       unmeasured warm-up seconds before each run (default $WARMUP)
  --repeat K       interleaved repetitions; medians reported (default $REPEAT)
  --clients N      clients per run, spread over a group's nodes (default $CLIENTS)
  --build-dir D    build tree with server/corvusd and bench/corvus-http-load (default build/release)
  --tmp-dir D      where the temp directory goes (default build/; a real disk)
  --no-install     do not apt-get install missing packages
  --keep-tmp       keep the temp directory (logs, data)
EOF
}
while [[ $# -gt 0 ]]; do
  common_option "$@" && { shift "$OPT_SHIFT"; continue; }
  case "$1" in
    --clients) CLIENTS="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cluster_tls_bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || bad_int --seconds 1
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -ge 1 ]] || bad_int --repeat 1
[[ $CLIENTS =~ ^[0-9]+$ && $CLIENTS -ge 3 ]] || bad_int --clients 3

pkgs=()
command -v curl >/dev/null || pkgs+=(curl)
command -v jq >/dev/null || pkgs+=(jq)
command -v ss >/dev/null || pkgs+=(iproute2)
command -v openssl >/dev/null || pkgs+=(openssl)
install_packages "${pkgs[@]}"
CORVUSD="$BUILD_DIR/server/corvusd"
HTTP_LOAD="$BUILD_DIR/bench/corvus-http-load"
[[ -x $CORVUSD ]] || die "$CORVUSD missing (cmake --build --preset release --target corvusd)"
[[ -x $HTTP_LOAD ]] || cmake --build "$BUILD_DIR" --target corvus-http-load -j2 >&2 || die "cannot build corvus-http-load"

mkdir -p "$TMP_BASE"
WORK=$(mktemp -d "$TMP_BASE/cluster-tls-bench.XXXXXX")
check_disk "$WORK"
"$REPO/deploy/cluster-certificates.sh" "$WORK/certs" >/dev/null
CERT="$WORK/certs/cluster.pem"

# Nodes: p1 p2 p3 (plain group), s1 s2 s3 (secured group), p0 and s0 (single nodes).
declare -A PID_OF=() HPORT=() SECURED=()
url() { if [[ -n ${SECURED[$1]:-} ]]; then echo "https://127.0.0.1:${HPORT[$1]}"; else echo "http://127.0.0.1:${HPORT[$1]}"; fi; }
call() {  # method name path [body] -> HTTP status; the node's own certificate is its ClusterAdmin
  local data=() tls=()
  [[ $# -ge 4 ]] && data=(-H 'Content-Type: application/json' --data-binary "$4")
  [[ -n ${SECURED[$2]:-} ]] && tls=(-k --cert "$CERT")
  curl -s -o /dev/null -w '%{http_code}' --max-time 30 "${tls[@]}" -X "$1" "$(url "$2")$3" "${data[@]}" || echo 000
}
start() {  # name secured(0/1)
  local cport i
  free_port "HPORT[$1]"
  free_port cport
  local args=(--cluster-port "$cport" --data-dir "$WORK/$1" --log-level warn)
  if [[ $2 == 1 ]]; then SECURED[$1]=1; args+=(--certificate "$CERT"); fi
  "$CORVUSD" --server-url "$(url "$1")" "${args[@]}" >>"$WORK/$1.log" 2>&1 &
  PID_OF[$1]=$!
  for ((i = 0; i < 300; i++)); do [[ $(call GET "$1" /healthz) == 200 ]] && return 0; sleep 0.1; done
  die "$1 did not answer /healthz: $(tail -3 "$WORK/$1.log")"
}
cleanup() {
  local rc=$? n
  trap - EXIT INT TERM
  set +e
  for n in "${!PID_OF[@]}"; do stop_pid "${PID_OF[$n]}"; done
  if [[ $KEEP_TMP -eq 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

group() {  # prefix secured(0/1)
  local n i
  for n in 1 2 3; do start "$1$n" "$2"; done
  for n in 2 3; do
    [[ $(call PUT "${1}1" "/admin/cluster/node?url=$(jq -rn --arg u "$(url "$1$n")" '$u|@uri')") == 2* ]] ||
      die "add $1$n to ${1}1's cluster"
  done
  for ((i = 0; i < 300; i++)); do
    [[ $(call PUT "${1}1" "/admin/databases?name=bench&replicationFactor=3" '{"DatabaseName":"bench"}') == 2* ]] && return 0
    sleep 0.2
  done
  die "create bench (replication factor 3) on group $1"
}
log "starting the plain and the secured group and the two single nodes in $WORK"
group p 0
group s 1
start p0 0
start s0 1
[[ $(call PUT p0 "/admin/databases?name=bench" '{"DatabaseName":"bench"}') == 2* ]] || die "create bench on p0"
[[ $(call PUT s0 "/admin/databases?name=bench" '{"DatabaseName":"bench"}') == 2* ]] || die "create bench on s0"

load() {  # name clients tag -> rps
  local tls=() line
  [[ -n ${SECURED[$1]:-} ]] && tls=(--tls 1 --cert "$CERT")
  line=$("$HTTP_LOAD" --port "${HPORT[$1]}" --mode put --clients "$2" --seconds "$SECS" --warmup "$WARMUP" \
    --tag "$3" --timeout 30 "${tls[@]}" 2>>"$WORK/load.err") || { log "load on $1 failed: $(tail -1 "$WORK/load.err")"; echo 0; return; }
  awk '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == "rps") print a[2] } }' <<<"$line"
}
group_load() {  # prefix tag -> total rps of the three nodes' loads, run at once
  local per=$((CLIENTS / 3)) a b c
  load "${1}1" "$per" "${2}a" >"$WORK/l1" &
  a=$!
  load "${1}2" "$per" "${2}b" >"$WORK/l2" &
  b=$!
  load "${1}3" "$((CLIENTS - 2 * per))" "${2}c" >"$WORK/l3" &
  c=$!
  wait $a $b $c
  awk '{ s += $1 } END { printf "%.0f", s }' "$WORK/l1" "$WORK/l2" "$WORK/l3"
}
declare -A RUNS=([pg]="" [sg]="" [p0]="" [s0]="")
for ((rep = 1; rep <= REPEAT; rep++)); do
  log "=== repetition $rep/$REPEAT ($CLIENTS clients, ${SECS}s after ${WARMUP}s)"
  RUNS[pg]+=" $(group_load p "pg$rep-")"; log "  plain group:    ${RUNS[pg]##* } writes/s"
  RUNS[sg]+=" $(group_load s "sg$rep-")"; log "  secured group:  ${RUNS[sg]##* } writes/s"
  RUNS[p0]+=" $(load p0 "$CLIENTS" "p0$rep-")"; log "  plain single:   ${RUNS[p0]##* } writes/s"
  RUNS[s0]+=" $(load s0 "$CLIENTS" "s0$rep-")"; log "  secured single: ${RUNS[s0]##* } writes/s"
done
median() { awk "$AWK_MEDIAN"' { print median($0) }' <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
pg=$(median "${RUNS[pg]}") sg=$(median "${RUNS[sg]}") p0=$(median "${RUNS[p0]}") s0=$(median "${RUNS[s0]}")
echo
echo "# cluster_tls_bench.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, disk $FSDEV ($FSTYPE)," \
  "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), corvusd built $(date -r "$CORVUSD" '+%Y-%m-%d %H:%M')"
echo "# durable 1 KB PUTs, $CLIENTS clients, ${SECS}s per run, medians of $REPEAT interleaved repetitions"
printf '%-36s %10s   %s\n' "set-up" "writes/s" "runs"
printf '%-36s %10s   %s\n' "plain group of 3 (RF 3)" "$pg" "${RUNS[pg]}"
printf '%-36s %10s   %s\n' "secured group of 3 (RF 3)" "$sg" "${RUNS[sg]}"
printf '%-36s %10s   %s\n' "plain single node" "$p0" "${RUNS[p0]}"
printf '%-36s %10s   %s\n' "secured single node" "$s0" "${RUNS[s0]}"
g=$(ratio "$sg" "$pg")
s=$(ratio "$s0" "$p0")
echo "secured / plain, group:  $g (HTTPS at the clients + TLS between the nodes)"
echo "secured / plain, single: $s (HTTPS at the clients only)"
echo "cluster port TLS alone (group ratio / single ratio): $(ratio "$g" "$s")"
