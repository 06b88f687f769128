#!/usr/bin/env bash
# bench/edge_catchup_bench.sh: how fast an edge (a pull replication sink) catches up
# on its hub, against one corvusd node's durable write rate, measured in one run on
# this machine:
#   1. single node: durable 1 KB PUT throughput at --clients (the reference rate R1);
#   2. catch-up: a hub node with a hub definition and --backlog 1 KB documents, an
#      edge node (its own cluster) given a connection string and a sink definition
#      (HubToSink); documents per second from the sink definition until the edge
#      has them all; target >= 0.5 x R1.
# --mode external measures external replication instead: the node holding the
# backlog gets a connection string to the other node's database and an external
# replication task (UpdateExternalReplicationOperation), and pushes; documents per
# second from the task's creation until the destination has them all.
# Plain HTTP and TCP (an unsecured hub: the same frames as over TLS, without the
# encryption cost). Not a test: exit status 0 unless something could not run. Every
# process listens on 127.0.0.1, lives in one temp directory, and is stopped on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=edge_catchup_bench.sh BENCH_LOG_TAG=edge
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

SECS=10
REPEAT=3
WARMUP=1
CLIENTS=64
BACKLOG=100000
BUILD_DIR="$REPO/build/release"
CORVUSD=""
TMP_BASE="$REPO/build"
KEEP_TMP=0
MODE=sink

usage() {
  cat <<USAGE
usage: bench/edge_catchup_bench.sh [options]
  --seconds S      measured seconds per single-node run (default $SECS)
  --repeat K       repeat each measurement K times and report medians (default $REPEAT)
  --clients N      clients of the single-node runs and of the backlog load (default $CLIENTS)
  --backlog N      documents the edge catches up on (default $BACKLOG)
  --build-dir D    build tree (default build/release)
  --corvusd PATH   corvusd binary (default <build-dir>/server/corvusd)
  --tmp-dir D      where the temp directory goes (default build/; not tmpfs)
  --keep-tmp       keep the temp directory (logs, data)
  --mode M         sink (pull replication, the default) or external (external replication)
USAGE
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECS="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --backlog) BACKLOG="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --corvusd) CORVUSD="$2"; shift 2 ;;
    --tmp-dir) TMP_BASE="$2"; shift 2 ;;
    --keep-tmp) KEEP_TMP=1; shift ;;
    --mode) MODE="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "edge_catchup_bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $MODE == sink || $MODE == external ]] || { echo "edge_catchup_bench.sh: --mode is sink or external" >&2; exit 2; }
[[ -n "$CORVUSD" ]] || CORVUSD="$BUILD_DIR/server/corvusd"
[[ -x "$CORVUSD" ]] || die "no corvusd at $CORVUSD (build it first)"
HTTP_LOAD="$BUILD_DIR/bench/corvus-http-load"
if [[ ! -x $HTTP_LOAD ]]; then
  log "building corvus-http-load (only that target)"
  cmake --build "$BUILD_DIR" --target corvus-http-load -j2 >&2 || die "cannot build the load generator"
fi

mkdir -p "$TMP_BASE"
WORK=$(mktemp -d "$TMP_BASE/edge-bench.XXXXXX")
trap cleanup_nodes EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
check_disk "$WORK"

median() { awk "$AWK_MEDIAN"' { print median($0) }' <<<"$*"; }

# ---------------------------------------------------------------- 1. single node
log "single node: durable 1 KB PUTs, $CLIENTS clients, ${SECS} s x $REPEAT"
start_node S
r=$(http PUT "$(url S)/admin/databases?name=bench" '{"DatabaseName":"bench"}')
[[ $r == 2* ]] || die "create bench on the single node: $r"
SINGLE=()
for ((rep = 0; rep < REPEAT; rep++)); do
  line=$("$HTTP_LOAD" --port "${HPORT[S]}" --mode put --clients "$CLIENTS" --seconds "$SECS" --warmup "$WARMUP" \
    --tag "s$rep-" --timeout 30 2>>"$WORK/load.err") || die "load on S failed: $(tail -1 "$WORK/load.err")"
  log "  S: $line"
  SINGLE+=("$(awk '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == "rps") print a[2] } }' <<<"$line")")
done
stop_node S
R1=$(median "${SINGLE[*]}")
log "single node: median $R1 writes/s (runs: ${SINGLE[*]})"

# ---------------------------------------------------------------- 2. the edge catching up
WHO=edge
[[ $MODE == external ]] && WHO="external replication destination"
CATCHUP=()
for ((rep = 0; rep < REPEAT; rep++)); do
  H="H$rep" E="E$rep"
  start_node "$H"
  start_node "$E"
  r=$(http PUT "$(url "$H")/admin/databases?name=bench" '{"DatabaseName":"bench"}')
  [[ $r == 2* ]] || die "create bench on the hub: $r"
  if [[ $MODE == sink ]]; then
    r=$(http PUT "$(url "$H")/databases/bench/admin/tasks/pull-replication/hub" '{"Name":"edges","Mode":"HubToSink"}')
    [[ $r == 2* ]] || die "define the hub: $r"
  fi
  line=$("$HTTP_LOAD" --port "${HPORT[$H]}" --mode preload --requests "$BACKLOG" --clients "$CLIENTS" \
    --tag "c$rep-" --timeout 30 2>>"$WORK/load.err") || die "backlog load failed: $(tail -1 "$WORK/load.err")"
  log "  backlog on the hub: $line"
  want=$(doc_count "$H" bench)
  r=$(http PUT "$(url "$E")/admin/databases?name=edge" '{"DatabaseName":"edge"}')
  [[ $r == 2* ]] || die "create edge: $r"
  if [[ $MODE == sink ]]; then
    r=$(http PUT "$(url "$E")/databases/edge/admin/connection-strings" \
      "{\"Name\":\"hub\",\"Database\":\"bench\",\"TopologyDiscoveryUrls\":[\"$(url "$H")\"]}")
    [[ $r == 2* ]] || die "connection string: $r"
    t0=$(date +%s.%N)
    r=$(http POST "$(url "$E")/databases/edge/admin/tasks/sink-pull-replication" \
      '{"PullReplicationAsSink":{"HubName":"edges","ConnectionStringName":"hub","Mode":"HubToSink"}}')
    [[ $r == 2* ]] || die "sink definition: $r"
  else
    r=$(http PUT "$(url "$H")/databases/bench/admin/connection-strings" \
      "{\"Name\":\"out\",\"Database\":\"edge\",\"TopologyDiscoveryUrls\":[\"$(url "$E")\"]}")
    [[ $r == 2* ]] || die "connection string: $r"
    t0=$(date +%s.%N)
    r=$(http POST "$(url "$H")/databases/bench/admin/tasks/external-replication" \
      '{"Watcher":{"Name":"out","ConnectionStringName":"out"}}')
    [[ $r == 2* ]] || die "external replication: $r"
  fi
  for ((i = 0; i < 6000; i++)); do [[ $(doc_count "$E" edge) -ge $want ]] && break; sleep 0.05; done
  t1=$(date +%s.%N)
  [[ $(doc_count "$E" edge) -ge $want ]] || die "the $WHO did not catch up to $want documents in 300 s (has $(doc_count "$E" edge))"
  CATCHUP+=("$(awk -v n="$want" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')")
  log "  the $WHO caught up on $want documents in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s: ${CATCHUP[-1]} docs/s"
  stop_node "$E"
  stop_node "$H"
done

echo
echo "# edge_catchup_bench.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, corvusd built $(date -r "$CORVUSD" '+%Y-%m-%d %H:%M')"
echo "# medians of $REPEAT runs; single node = the same corvusd alone (the peer)"
printf '%-44s %12s   %s\n' "measurement" "median" "runs"
printf '%-44s %12s   %s\n' "single node, $CLIENTS clients (writes/s)" "$R1" "${SINGLE[*]}"
c=$(median "${CATCHUP[*]}")
printf '%-44s %12s   %s\n' "$MODE catch-up of $BACKLOG docs (docs/s)" "$c" "${CATCHUP[*]}"
x=$(awk -v a="$c" -v b="$R1" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
echo "  ratio $MODE catch-up / single-node writes: $x (target >= 0.5: $(awk -v v="$x" 'BEGIN { print (v >= 0.5) ? "PASS" : "MISS" }'))"
