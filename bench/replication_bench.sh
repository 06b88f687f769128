#!/usr/bin/env bash
# bench/replication_bench.sh: multi-master replication of a three-node corvusd group
# (replication factor 3) against one corvusd node, all measured in one run on this
# machine (the peer is the single node: every write of the group is applied on each of
# its three nodes, which share this machine's cores):
#   1. single node: durable 1 KB PUT throughput at --clients (the reference rate R1);
#   2. group throughput: the same load spread over the three nodes (one load generator
#      per node, clients split evenly); target >= 0.4 x R1;
#   3. replication lag: writes paced at R1 / 2 on one node (corvus-http-load --rate,
#      the single-node run's generator and clients), probes written there and
#      polled on the other two until readable (acknowledged -> readable); target p99
#      < 50 ms;
#   4. catch-up: one node stopped (kill -9), --backlog 1 KB documents written to the
#      others, the node restarted; documents per second from its restart until it has
#      them all; target >= 0.5 x R1.
# Each measurement runs --repeat times; the report gives medians and the ratios.
#
# Not a test: it never fails on a missed target (exit status 0 unless something could
# not run at all). Everything it starts listens on 127.0.0.1 only, lives in one temp
# directory, and is stopped and removed on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=replication_bench.sh BENCH_LOG_TAG=replication
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

SECS=10
REPEAT=3
WARMUP=1
CLIENTS=64
BACKLOG=100000
BUILD_DIR="$REPO/build/release"
CORVUSD=""
DO_BUILD=1
DO_INSTALL=1
TMP_BASE="$REPO/build"
KEEP_TMP=0
ONLY="throughput,lag,catchup"

usage() {
  cat <<EOF
usage: bench/replication_bench.sh [options]
  --seconds S      measured seconds per throughput and lag run (default $SECS)
  --warmup S       unmeasured warm-up seconds before each throughput run (default $WARMUP)
  --repeat K       repeat each measurement K times and report medians (default $REPEAT)
  --clients N      clients of the throughput runs (default $CLIENTS)
  --backlog N      documents the returning node catches up on (default $BACKLOG)
  --only LIST      subset of throughput,lag,catchup (default all; the single-node
                   reference always runs)
  --build-dir D    build tree (default build/release)
  --corvusd PATH   corvusd binary (default <build-dir>/server/corvusd)
  --no-build       do not build the load generators even if they are missing
  --no-install     do not apt-get install missing packages
  --tmp-dir D      where the temp directory goes (default build/); must be the disk
                   you want to measure, not tmpfs
  --keep-tmp       keep the temp directory (logs, data) for inspection
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --backlog) BACKLOG="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --corvusd) CORVUSD="$2"; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --no-install) DO_INSTALL=0; shift ;;
    --tmp-dir) TMP_BASE="$2"; shift 2 ;;
    --keep-tmp) KEEP_TMP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "replication_bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -n "$CORVUSD" ]] || CORVUSD="$BUILD_DIR/server/corvusd"
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || bad_int --seconds 1
[[ $WARMUP =~ ^[0-9]+$ ]] || bad_int --warmup 0
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -ge 1 ]] || bad_int --repeat 1
[[ $CLIENTS =~ ^[0-9]+$ && $CLIENTS -ge 3 ]] || bad_int --clients 3
[[ $BACKLOG =~ ^[0-9]+$ && $BACKLOG -ge 1 ]] || bad_int --backlog 1

# ---------------------------------------------------------------- dependencies
pkgs=()
command -v curl >/dev/null || pkgs+=(curl)
command -v jq >/dev/null || pkgs+=(jq)
command -v ss >/dev/null || pkgs+=(iproute2)
install_packages "${pkgs[@]}"
[[ -x $CORVUSD ]] || die "$CORVUSD does not exist (cmake --build --preset release --target corvusd)"
HTTP_LOAD="$BUILD_DIR/bench/corvus-http-load"
LAG="$BUILD_DIR/bench/corvus-replication-lag"
if [[ ! -x $HTTP_LOAD || ! -x $LAG ]]; then
  [[ $DO_BUILD -eq 1 ]] || die "$HTTP_LOAD or $LAG missing (drop --no-build)"
  log "building corvus-http-load and corvus-replication-lag (only those targets)"
  cmake --build "$BUILD_DIR" --target corvus-http-load corvus-replication-lag -j2 >&2 || die "cannot build the load generators"
fi

# ---------------------------------------------------------------- temp dir, cleanup
mkdir -p "$TMP_BASE"
WORK=$(mktemp -d "$TMP_BASE/replication-bench.XXXXXX")
trap cleanup_nodes EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
check_disk "$WORK"



# One closed-loop PUT run; prints the rps.
put_run() {  # name clients tag seconds
  local line
  line=$("$HTTP_LOAD" --port "${HPORT[$1]}" --mode put --clients "$2" --seconds "$4" --warmup "$WARMUP" \
    --tag "$3" --timeout 30 2>>"$WORK/load.err") || { log "load on $1 failed: $(tail -1 "$WORK/load.err")"; echo 0; return; }
  log "  $1: $line"
  awk '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == "rps") print a[2] } }' <<<"$line"
}
median() { awk "$AWK_MEDIAN"' { print median($0) }' <<<"$*"; }

# ---------------------------------------------------------------- 1. single node
log "single node: durable 1 KB PUTs, $CLIENTS clients, ${SECS} s x $REPEAT"
start_node S
r=$(http PUT "$(url S)/admin/databases?name=bench" '{"DatabaseName":"bench"}')
[[ $r == 2* ]] || die "create bench on the single node: $r"
SINGLE=()
for ((rep = 0; rep < REPEAT; rep++)); do SINGLE+=("$(put_run S "$CLIENTS" "s$rep-" "$SECS")"); done
stop_node S
R1=$(median "${SINGLE[*]}")
log "single node: median $R1 writes/s (runs: ${SINGLE[*]})"

# ---------------------------------------------------------------- the group
log "three-node group: replication factor 3"
for n in A B C; do start_node "$n"; done
for n in B C; do
  r=$(http PUT "$(url A)/admin/cluster/node?url=$(jq -rn --arg u "$(url "$n")" '$u|@uri')")
  [[ $r == 2* ]] || die "add $n to the cluster: $r"
done
for ((i = 0; i < 300; i++)); do
  r=$(http PUT "$(url A)/admin/databases?name=bench&replicationFactor=3" '{"DatabaseName":"bench"}')
  [[ $r == 2* ]] && break
  sleep 0.2
done
[[ $r == 2* ]] || die "create bench with replication factor 3: $r"
for n in A B C; do
  for ((i = 0; i < 150; i++)); do [[ $(doc_count "$n" bench) -ge 0 ]] && break; sleep 0.2; done
done

# Waits until every node has as many documents as node A; prints the seconds waited.
wait_converged() {  # timeout seconds
  local want i
  for ((i = 0; i < $1 * 10; i++)); do
    want=$(doc_count A bench)
    [[ $(doc_count B bench) == "$want" && $(doc_count C bench) == "$want" ]] && return 0
    sleep 0.1
  done
  log "WARNING: the nodes did not converge within $1 s (A $(doc_count A bench), B $(doc_count B bench), C $(doc_count C bench))"
}

GROUP=()
if want throughput; then
  per=$((CLIENTS / 3))
  log "group throughput: $CLIENTS clients over A, B, C ($per, $per, $((CLIENTS - 2 * per))), ${SECS} s x $REPEAT"
  for ((rep = 0; rep < REPEAT; rep++)); do
    put_run A "$per" "ga$rep-" "$SECS" >"$WORK/ga" &
    pa=$!
    put_run B "$per" "gb$rep-" "$SECS" >"$WORK/gb" &
    pb=$!
    put_run C "$((CLIENTS - 2 * per))" "gc$rep-" "$SECS" >"$WORK/gc" &
    pc=$!
    wait $pa $pb $pc
    GROUP+=("$(awk '{ s += $1 } END { printf "%.0f", s }' "$WORK/ga" "$WORK/gb" "$WORK/gc")")
    log "  group total: ${GROUP[-1]} writes/s"
    wait_converged 120
  done
fi

LAG_P50=() LAG_P99=() LAG_RATE=()
if want lag; then
  rate=$(awk -v r="$R1" 'BEGIN { printf "%.0f", r / 2 }')
  log "replication lag: writes paced at $rate/s (R1 / 2) on A, probes polled on B and C, ${SECS} s x $REPEAT"
  for ((rep = 0; rep < REPEAT; rep++)); do
    # The load: the same generator and clients as the single-node run, paced
    # (open loop); the probes start once it runs and end before it does.
    "$HTTP_LOAD" --port "${HPORT[A]}" --mode put --clients "$CLIENTS" --rate "$rate" --warmup 1 \
      --seconds "$((SECS + 1))" --tag "l$rep-" --timeout 30 >"$WORK/lagload" 2>>"$WORK/load.err" &
    lp=$!
    sleep 1
    line=$("$LAG" --writer-port "${HPORT[A]}" --reader-ports "${HPORT[B]},${HPORT[C]}" \
      --seconds "$SECS" --tag "l$rep" 2>>"$WORK/load.err") || die "corvus-replication-lag failed"
    wait $lp || die "the paced load on A failed: $(tail -1 "$WORK/load.err")"
    log "  $line"
    log "  A: $(cat "$WORK/lagload")"
    LAG_RATE+=("$(awk '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == "rps") print a[2] } }' "$WORK/lagload")")
    LAG_P50+=("$(sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")")
    LAG_P99+=("$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")")
    wait_converged 120
  done
fi

CATCHUP=()
if want catchup; then
  log "catch-up: C killed, $BACKLOG documents written to A and B, C restarted; x $REPEAT"
  for ((rep = 0; rep < REPEAT; rep++)); do
    stop_node C KILL
    line=$("$HTTP_LOAD" --port "${HPORT[A]}" --mode preload --requests "$BACKLOG" --clients "$CLIENTS" \
      --tag "c$rep-" --timeout 30 2>>"$WORK/load.err") || die "backlog load failed: $(tail -1 "$WORK/load.err")"
    log "  backlog on A: $line"
    for ((i = 0; i < 1200; i++)); do [[ $(doc_count B bench) == "$(doc_count A bench)" ]] && break; sleep 0.1; done
    want_docs=$(doc_count A bench)
    t0=$(date +%s.%N)
    start_node C
    for ((i = 0; i < 6000; i++)); do [[ $(doc_count C bench) -ge $want_docs ]] && break; sleep 0.05; done
    t1=$(date +%s.%N)
    [[ $(doc_count C bench) -ge $want_docs ]] || die "C did not catch up to $want_docs documents in 300 s (has $(doc_count C bench))"
    CATCHUP+=("$(awk -v n="$BACKLOG" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')")
    log "  C caught up on $BACKLOG documents in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s (from its restart): ${CATCHUP[-1]} docs/s"
  done
fi

# ---------------------------------------------------------------- report
echo
echo "# replication_bench.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, corvusd built $(date -r "$CORVUSD" '+%Y-%m-%d %H:%M')"
echo "# medians of $REPEAT runs; single node = the same corvusd alone (the peer)"
printf '%-44s %12s   %s\n' "measurement" "median" "runs"
printf '%-44s %12s   %s\n' "single node, $CLIENTS clients (writes/s)" "$R1" "${SINGLE[*]}"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { awk -v v="$1" -v op="$2" -v goal="$3" 'BEGIN { ok = (op == ">=") ? (v >= goal) : (v < goal); print ok ? "PASS" : "MISS" }'; }
if [[ ${#GROUP[@]} -gt 0 ]]; then
  g=$(median "${GROUP[*]}")
  printf '%-44s %12s   %s\n' "group of 3, $CLIENTS clients over all (writes/s)" "$g" "${GROUP[*]}"
  x=$(ratio "$g" "$R1")
  echo "  ratio group / single: $x (target >= 0.4: $(verdict "$x" ">=" 0.4))"
fi
if [[ ${#LAG_P99[@]} -gt 0 ]]; then
  p50=$(median "${LAG_P50[*]}")
  p99=$(median "${LAG_P99[*]}")
  printf '%-44s %12s   %s\n' "lag p50 at R1/2 (ms)" "$p50" "${LAG_P50[*]}"
  printf '%-44s %12s   %s\n' "lag p99 at R1/2 (ms)" "$p99" "${LAG_P99[*]}"
  printf '%-44s %12s   %s\n' "  offered $rate/s, achieved (writes/s)" "$(median "${LAG_RATE[*]}")" "${LAG_RATE[*]}"
  echo "  lag p99: $p99 ms (target < 50: $(verdict "$p99" "<" 50))"
fi
if [[ ${#CATCHUP[@]} -gt 0 ]]; then
  c=$(median "${CATCHUP[*]}")
  printf '%-44s %12s   %s\n' "catch-up of $BACKLOG docs (docs/s)" "$c" "${CATCHUP[*]}"
  x=$(ratio "$c" "$R1")
  echo "  ratio catch-up / single-node writes: $x (target >= 0.5: $(verdict "$x" ">=" 0.5))"
fi
