#!/usr/bin/env bash
# bench/cmpxchg_bench.sh: compare-and-swap throughput and latency of a local three-node
# corvusd cluster (compare-exchange REST, through the leader and through a follower)
# against a local three-member etcd 3.4 cluster (v3 HTTP/JSON gateway txn), measured
# in one run on this machine with one load generator (corvus-cmpxchg-load), then the
# ratios against the targets. See bench/README.md.
#
# Not a test: it never fails on a missed target (exit status 0 unless something could
# not run at all). Everything it starts listens on 127.0.0.1 only, lives in one temp
# directory, and is stopped and removed on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=cmpxchg_bench.sh BENCH_LOG_TAG=cmpxchg
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

SECS=5
REPEAT=3
WARMUP=1
CLIENTS="1 16 64"
MODES="create update"
IO_THREADS=1
VALUE_SIZE=16
ONLY="etcd,corvus"
BUILD_DIR="$REPO/build/release"
CORVUSD=""
DO_BUILD=1
DO_INSTALL=1
TMP_BASE="$REPO/build"
KEEP_TMP=0
ETCD_FOLLOWER=0

usage() {
  cat <<EOF
usage: bench/cmpxchg_bench.sh [options]
  --seconds S       measured seconds per run (default $SECS)
  --warmup S        unmeasured warm-up seconds before each run (default $WARMUP)
  --repeat K        repeat the whole set K times and report medians (default $REPEAT)
  --clients "..."   client counts (default "$CLIENTS")
  --modes "..."     create and/or update (default "$MODES")
  --value-size B    characters in the value {"v":"..."} (default $VALUE_SIZE)
  --io-threads T    load generator io threads (default $IO_THREADS)
  --only LIST       subset of etcd,corvus (default both)
  --etcd-follower   also measure etcd through a follower's gateway
  --build-dir D     build tree (default build/release)
  --corvusd PATH    corvusd binary (default <build-dir>/server/corvusd)
  --no-build        do not build corvus-cmpxchg-load even if it is missing
  --no-install      do not apt-get install missing packages
  --tmp-dir D       where the temp directory goes (default build/); must be the disk
                    you want to measure, not tmpfs
  --keep-tmp        keep the temp directory (logs, data) for inspection
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --modes) MODES="$2"; shift 2 ;;
    --value-size) VALUE_SIZE="$2"; shift 2 ;;
    --io-threads) IO_THREADS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --etcd-follower) ETCD_FOLLOWER=1; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --corvusd) CORVUSD="$2"; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --no-install) DO_INSTALL=0; shift ;;
    --tmp-dir) TMP_BASE="$2"; shift 2 ;;
    --keep-tmp) KEEP_TMP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cmpxchg_bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -n "$CORVUSD" ]] || CORVUSD="$BUILD_DIR/server/corvusd"
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || bad_int --seconds 1
[[ $WARMUP =~ ^[0-9]+$ ]] || bad_int --warmup 0
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -ge 1 ]] || bad_int --repeat 1
[[ $VALUE_SIZE =~ ^[0-9]+$ ]] || bad_int --value-size 0
[[ $IO_THREADS =~ ^[0-9]+$ && $IO_THREADS -ge 1 ]] || bad_int --io-threads 1
for c in $CLIENTS; do [[ $c =~ ^[0-9]+$ && $c -ge 1 ]] || bad_int "--clients entries" 1; done
for m in $MODES; do [[ $m == create || $m == update ]] || { echo "cmpxchg_bench.sh: --modes: create and/or update" >&2; exit 2; }; done

# ---------------------------------------------------------------- dependencies
install_missing() {
  local pkgs=()
  if want etcd; then
    command -v etcd >/dev/null || pkgs+=(etcd-server)
    command -v etcdctl >/dev/null || pkgs+=(etcd-client)
  fi
  command -v curl >/dev/null || pkgs+=(curl)
  command -v jq >/dev/null || pkgs+=(jq)
  command -v ss >/dev/null || pkgs+=(iproute2)
  install_packages "${pkgs[@]}"
}
install_missing
export PATH="$PATH:/usr/sbin:/sbin"
if want etcd && pgrep -x etcd >/dev/null 2>&1; then
  # Debian's etcd-server package starts a system etcd under systemd: it is idle, but it
  # is not ours and shares the machine.
  log "NOTE: an etcd not started by this script is running (pid $(pgrep -x etcd | tr '\n' ' ')); it is left alone"
fi

# ---------------------------------------------------------------- load generator
LOAD="$BUILD_DIR/bench/corvus-cmpxchg-load"
if [[ ! -x $LOAD || ($DO_BUILD -eq 1 && ("$REPO/bench/cmpxchg_load.cc" -nt $LOAD ||
  "$REPO/bench/http_bench_client.h" -nt $LOAD || "$REPO/bench/bench_common.h" -nt $LOAD)) ]]; then
  [[ $DO_BUILD -eq 1 ]] || die "$LOAD missing (drop --no-build, or: cmake --build --preset release --target corvus-cmpxchg-load)"
  [[ -f $BUILD_DIR/build.ninja || -f $BUILD_DIR/Makefile ]] ||
    cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null ||
    die "cmake configure of $BUILD_DIR failed"
  log "building corvus-cmpxchg-load (only that target)"
  cmake --build "$BUILD_DIR" --target corvus-cmpxchg-load -j2 >&2 || die "cannot build corvus-cmpxchg-load"
fi

HAVE_ETCD=0 HAVE_CORVUS=0
want etcd && HAVE_ETCD=1
if want corvus; then
  if [[ -x $CORVUSD ]]; then
    HAVE_CORVUS=1
  else
    log "NOTE: $CORVUSD does not exist (cmake --build --preset release --target corvusd): corvus rows are skipped"
  fi
fi

# ---------------------------------------------------------------- temp dir, cleanup
mkdir -p "$TMP_BASE"
WORK=$(mktemp -d "$TMP_BASE/cmpxchg-bench.XXXXXX")
PIDS=()  # every server process we started

stop_pids() {  # TERM all, wait up to 10 s, then KILL the rest
  local pid i alive
  [[ ${#PIDS[@]} -gt 0 ]] || return 0
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  stop_pids
  if [[ $KEEP_TMP -eq 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

check_disk "$WORK"

# curl with a bound; prints "<status> <body>" (status 000 when no answer).
http() {  # method url [body]
  local out code data=()
  [[ $# -ge 3 ]] && data=(-H 'Content-Type: application/json' --data-binary "$3")
  out=$(mktemp "$WORK/http.XXXXXX")
  code=$(curl -s -o "$out" -w '%{http_code}' --max-time 10 -X "$1" "$2" "${data[@]}" 2>/dev/null) || true
  printf '%s %s' "${code:-000}" "$(head -c 600 "$out")"
  rm -f "$out"
}

# ---------------------------------------------------------------- etcd
ETCD_CPORTS=() ETCD_PPORTS=()
ETCD_LEADER_PORT="" ETCD_FOLLOWER_PORT="" ETCD_FAIL=""
start_etcd() {
  local i cluster=""
  for i in 0 1 2; do
    free_port "ETCD_CPORTS[$i]"
    free_port "ETCD_PPORTS[$i]"
    cluster+="${cluster:+,}e$i=http://127.0.0.1:${ETCD_PPORTS[$i]}"
  done
  for i in 0 1 2; do
    mkdir -p "$WORK/etcd"
    # Defaults otherwise: fsync on every WAL write, 100 ms heartbeat, 1 s election.
    etcd --name "e$i" --data-dir "$WORK/etcd/e$i" \
      --listen-client-urls "http://127.0.0.1:${ETCD_CPORTS[$i]}" \
      --advertise-client-urls "http://127.0.0.1:${ETCD_CPORTS[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${ETCD_PPORTS[$i]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PPORTS[$i]}" \
      --initial-cluster "$cluster" --initial-cluster-token "cmpxchg-bench-$$" \
      --initial-cluster-state new --logger zap --log-level warn \
      >"$WORK/etcd/e$i.log" 2>&1 &
    PIDS+=($!)
  done
  log "etcd: 3 members, client ports ${ETCD_CPORTS[*]}"
  find_etcd_leader 30 || return 1
  # One compare-and-swap by hand, so that a broken gateway is reported plainly.
  local k v r
  k=$(printf 'bench/probe' | base64) v=$(printf '{"v":"probe"}' | base64)
  r=$(http POST "http://127.0.0.1:$ETCD_LEADER_PORT/v3/kv/txn" \
    "{\"compare\":[{\"target\":\"CREATE\",\"key\":\"$k\",\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{\"key\":\"$k\",\"value\":\"$v\"}}]}")
  if [[ $r != 200\ * || $r != *'"succeeded":true'* ]]; then
    ETCD_FAIL="probe txn: HTTP $r"
    return 1
  fi
}

# Sets ETCD_LEADER_PORT and ETCD_FOLLOWER_PORT from /v3/maintenance/status.
find_etcd_leader() {  # seconds
  local i p s id leader
  for ((i = 0; i < $1 * 5; i++)); do
    ETCD_LEADER_PORT="" ETCD_FOLLOWER_PORT=""
    for p in "${ETCD_CPORTS[@]}"; do
      s=$(curl -s --max-time 2 -X POST "http://127.0.0.1:$p/v3/maintenance/status" -d '{}' 2>/dev/null) || continue
      id=$(jq -r '.header.member_id // empty' <<<"$s" 2>/dev/null) || continue
      leader=$(jq -r '.leader // empty' <<<"$s" 2>/dev/null) || continue
      [[ -n $id && -n $leader && $leader != 0 ]] || continue
      if [[ $id == "$leader" ]]; then ETCD_LEADER_PORT=$p; else ETCD_FOLLOWER_PORT=${ETCD_FOLLOWER_PORT:-$p}; fi
    done
    [[ -n $ETCD_LEADER_PORT && -n $ETCD_FOLLOWER_PORT ]] && return 0
    sleep 0.2
  done
  ETCD_FAIL="no etcd leader with a follower after $1 s; log tail: $(tail -3 "$WORK/etcd/e0.log" | tr '\n' ' ')"
  return 1
}

# ---------------------------------------------------------------- corvusd
C_HPORTS=() C_CPORTS=()
C_LEADER_URL="" C_FOLLOWER_URL="" C_LEADER_TAG="" C_FOLLOWER_TAG=""
C_FAIL="" C_LEADER_FAIL="" C_FOLLOWER_FAIL=""
c_url() { echo "http://127.0.0.1:${C_HPORTS[$1]}"; }

CORVUSD_BUILT=""
start_corvus() {
  local i r
  # The binary may be rebuilt while we run: report the one we started.
  CORVUSD_BUILT=$(date -r "$CORVUSD" '+%Y-%m-%d %H:%M:%S')
  for i in 0 1 2; do
    free_port "C_HPORTS[$i]"
    free_port "C_CPORTS[$i]"
    mkdir -p "$WORK/corvus/n$i"
    "$CORVUSD" --server-url "$(c_url "$i")" --cluster-port "${C_CPORTS[$i]}" \
      --data-dir "$WORK/corvus/n$i" --log-level warn >"$WORK/corvus/n$i.log" 2>&1 &
    PIDS+=($!)
  done
  log "corvusd: 3 nodes, HTTP ports ${C_HPORTS[*]} (Rachis ${C_CPORTS[*]})"
  for i in 0 1 2; do
    wait_http "$(c_url "$i")/healthz" 30 || { C_FAIL="node $i did not answer /healthz in 30 s; log tail: $(tail -3 "$WORK/corvus/n$i.log" | tr '\n' ' ')"; return 1; }
  done
  # Node 0 leads its one-node cluster and adds the other two (promotables first,
  # members once caught up).
  for i in 1 2; do
    r=$(http PUT "$(c_url 0)/admin/cluster/node?url=$(jq -rn --arg u "$(c_url "$i")" '$u|@uri')")
    [[ $r == 2* ]] || { C_FAIL="PUT /admin/cluster/node (node $i): HTTP $r"; return 1; }
  done
  find_corvus_leader 60 || return 1
  r=$(http PUT "$C_LEADER_URL/admin/databases?name=bench&replicationFactor=3" '{"DatabaseName":"bench"}')
  [[ $r == 2* ]] || { C_FAIL="PUT /admin/databases?name=bench&replicationFactor=3: HTTP $r"; return 1; }
  log "corvusd: leader $C_LEADER_TAG ($C_LEADER_URL), follower $C_FOLLOWER_TAG ($C_FOLLOWER_URL); database bench created"
  # One compare-exchange by hand through each, retried while the database comes up
  # on every node; the last answer is what gets reported if it never works.
  probe_corvus "$C_LEADER_URL" leader || C_LEADER_FAIL=$PROBE_FAIL
  probe_corvus "$C_FOLLOWER_URL" follower || C_FOLLOWER_FAIL=$PROBE_FAIL
  return 0
}

# Sets C_LEADER_* and C_FOLLOWER_* from GET /cluster/topology once three members
# agree on a leader.
find_corvus_leader() {  # seconds
  local i t n
  for ((i = 0; i < $1 * 5; i++)); do
    t=$(curl -s --max-time 2 "$(c_url 0)/cluster/topology" 2>/dev/null) || t=""
    n=$(jq -r '(.Topology.Members // {}) | length' <<<"$t" 2>/dev/null) || n=0
    C_LEADER_TAG=$(jq -r '.Leader // empty' <<<"$t" 2>/dev/null) || C_LEADER_TAG=""
    if [[ $n == 3 && -n $C_LEADER_TAG ]]; then
      C_LEADER_URL=$(jq -r --arg l "$C_LEADER_TAG" '.Topology.Members[$l] // empty' <<<"$t")
      C_FOLLOWER_TAG=$(jq -r --arg l "$C_LEADER_TAG" '.Topology.Members | keys | map(select(. != $l)) | sort | .[0]' <<<"$t")
      C_FOLLOWER_URL=$(jq -r --arg f "$C_FOLLOWER_TAG" '.Topology.Members[$f]' <<<"$t")
      [[ -n $C_LEADER_URL && -n $C_FOLLOWER_URL ]] && return 0
    fi
    sleep 0.2
  done
  C_FAIL="no three-member topology with a leader after $1 s; GET /cluster/topology: $(head -c 400 <<<"$t")"
  return 1
}

PROBE_FAIL=""
probe_corvus() {  # url label
  local i r key
  for ((i = 0; i < 40; i++)); do
    key="bench/probe-$2-$i"
    r=$(http PUT "$1/databases/bench/cmpxchg?key=$(jq -rn --arg k "$key" '$k|@uri')&index=0" '{"Object":{"v":"probe"}}')
    if [[ $r == 200\ * ]] && jq -e '.Successful == true and (.Index | type == "number") and .Index > 0' \
      <<<"${r#* }" >/dev/null 2>&1; then
      return 0
    fi
    # No route, or a 2xx that is not the answer it should be: waiting will not help.
    [[ $r == *RouteNotFound* || $r == 2* || $r == 405\ * || $r == 501\ * ]] && break
    sleep 0.5
  done
  PROBE_FAIL="PUT $1/databases/bench/cmpxchg?key=$key&index=0 -> HTTP $r"
  log "corvusd $2: compare-exchange does not work: $PROBE_FAIL"
  return 1
}

# ---------------------------------------------------------------- runs
RESULTS="$WORK/results.txt"  # target mode clients rep rps p50 p99 errors requests
: >"$RESULTS"
FAILS="$WORK/first-failures.txt"  # target<TAB>first failure
: >"$FAILS"
RUN_TIMEOUT=$((SECS + WARMUP + 60))

run_load() {  # target port mode clients rep [extra args]
  local target=$1 port=$2 mode=$3 c=$4 rep=$5 line err
  shift 5
  err="$WORK/load-$target-$mode-$c-$rep.err"
  if line=$(timeout "$RUN_TIMEOUT" "$LOAD" --target "${target%%-*}" --port "$port" --mode "$mode" \
    --clients "$c" --seconds "$SECS" --warmup "$WARMUP" --threads "$IO_THREADS" --timeout 10 \
    --value-size "$VALUE_SIZE" --tag "$target/r${rep}c${c}${mode:0:1}-" "$@" 2>"$err"); then
    echo "$line" | awk -v t="$target" -v r="$rep" '{
        for (i = 1; i <= NF; i++) { split($i, a, "="); m[a[1]] = a[2] }
        if (m["rps"] == "") exit 1
        print t, m["mode"], m["clients"], r, m["rps"], m["p50_us"], m["p99_us"], m["errors"], m["requests"]
      }' >>"$RESULTS" || log "  $target $mode c=$c: cannot parse: $line"
    log "  $target: $line"
  else
    log "  $target $mode c=$c: load generator failed: $(tail -2 "$err")"
    echo "$target $mode $c $rep 0 0 0 1 0" >>"$RESULTS"
    printf '%s\tload generator failed: %s\n' "$target" "$(tail -1 "$err")" >>"$FAILS"
    return 0
  fi
  local first
  first=$(grep -m1 'first: ' "$err" | sed 's/.*first: //' || true)
  if [[ -n $first ]]; then
    log "  $target $mode c=$c: $(grep -m1 'errors (' "$err" | sed 's/^corvus-cmpxchg-load: //; s/; first:.*//')"
    printf '%s\t%s c=%s: %s\n' "$target" "$mode" "$c" "$first" >>"$FAILS"
  fi
}

log "temp dir $WORK ($FSTYPE on $FSDEV); ${SECS}s per run after ${WARMUP}s warm-up; clients: $CLIENTS; modes: $MODES; repeat $REPEAT"

if [[ $HAVE_ETCD -eq 1 ]]; then
  if ! start_etcd; then log "etcd: $ETCD_FAIL; skipping etcd"; HAVE_ETCD=0; fi
fi
CORVUS_LEADER_OK=0 CORVUS_FOLLOWER_OK=0
if [[ $HAVE_CORVUS -eq 1 ]]; then
  if start_corvus; then
    [[ -z $C_LEADER_FAIL ]] && CORVUS_LEADER_OK=1
    [[ -z $C_FOLLOWER_FAIL ]] && CORVUS_FOLLOWER_OK=1
  else
    log "corvusd: $C_FAIL; skipping corvus"
  fi
fi

for ((rep = 1; rep <= REPEAT; rep++)); do
  log "=== repetition $rep/$REPEAT"
  # A leader change between repetitions (there should be none) moves the targets along.
  if [[ $HAVE_ETCD -eq 1 ]]; then
    old=$ETCD_LEADER_PORT old_f=$ETCD_FOLLOWER_PORT
    if ! find_etcd_leader 10; then
      log "etcd: $ETCD_FAIL; keeping port $old"
      ETCD_LEADER_PORT=$old ETCD_FOLLOWER_PORT=$old_f
    fi
    [[ $old == "$ETCD_LEADER_PORT" ]] || log "NOTE: etcd leader moved from port $old to $ETCD_LEADER_PORT"
  fi
  if [[ $CORVUS_LEADER_OK -eq 1 || $CORVUS_FOLLOWER_OK -eq 1 ]]; then
    old=$C_LEADER_TAG old_l=$C_LEADER_URL old_f=$C_FOLLOWER_URL old_ft=$C_FOLLOWER_TAG
    if ! find_corvus_leader 10; then
      log "corvusd: $C_FAIL; keeping $old_l"
      C_LEADER_TAG=$old C_LEADER_URL=$old_l C_FOLLOWER_URL=$old_f C_FOLLOWER_TAG=$old_ft C_FAIL=""
    fi
    [[ $old == "$C_LEADER_TAG" ]] || log "NOTE: corvusd leader moved from $old to $C_LEADER_TAG"
  fi
  for c in $CLIENTS; do
    for mode in $MODES; do
      if [[ $HAVE_ETCD -eq 1 ]]; then
        run_load etcd "$ETCD_LEADER_PORT" "$mode" "$c" "$rep"
        if [[ $ETCD_FOLLOWER -eq 1 ]]; then run_load etcd-follower "$ETCD_FOLLOWER_PORT" "$mode" "$c" "$rep"; fi
      fi
      if [[ $CORVUS_LEADER_OK -eq 1 ]]; then run_load corvus "${C_LEADER_URL##*:}" "$mode" "$c" "$rep"; fi
      if [[ $CORVUS_FOLLOWER_OK -eq 1 ]]; then run_load corvus-follower "${C_FOLLOWER_URL##*:}" "$mode" "$c" "$rep"; fi
    done
  done
done

# ---------------------------------------------------------------- report
# Medians over the repetitions: target mode clients -> rps p50 p99; errors summed;
# ok = runs with at least one successful swap.
MEDIANS="$WORK/medians.txt"
sort -k1,1 -k2,2 -k3,3n "$RESULTS" | awk "$AWK_MEDIAN"'
  { k = $1 " " $2 " " $3
    if (!(k in n)) order[++nk] = k
    n[k]++; err[k] += $8
    if ($9 > 0) { ok[k]++; rps[k] = rps[k] " " $5; p50[k] = p50[k] " " $6; p99[k] = p99[k] " " $7 } }
  END { for (i = 1; i <= nk; i++) { k = order[i]
          if (ok[k] > 0) printf "%s %.1f %.0f %.0f %d %d %d\n", k, median(rps[k]), median(p50[k]), median(p99[k]), err[k], n[k], ok[k]
          else printf "%s 0 0 0 %d %d 0\n", k, err[k], n[k] } }
' >"$MEDIANS"

COLS=()
COL_NAMES=()
if [[ $HAVE_ETCD -eq 1 ]]; then
  COLS+=(etcd) COL_NAMES+=("etcd via leader")
  [[ $ETCD_FOLLOWER -eq 1 ]] && COLS+=(etcd-follower) COL_NAMES+=("etcd via follower")
fi
if [[ $HAVE_CORVUS -eq 1 ]]; then
  COLS+=(corvus corvus-follower) COL_NAMES+=("corvus via leader" "corvus via follower")
fi

cell() {  # target mode clients -> "rps p50 p99" or a failure note
  if [[ ($1 == corvus && -n $C_LEADER_FAIL) || ($1 == corvus-follower && -n $C_FOLLOWER_FAIL) ]]; then
    printf '%-27s' "FAILED (probe; see below)"
    return
  fi
  awk -v t="$1" -v m="$2" -v c="$3" '$1 == t && $2 == m && $3 == c {
      f = 1
      if ($9 == 0) { printf "%-27s", "FAILED (" $7 " errors)"; exit }
      printf "%9.0f %7d %8d%s", $4, $5, $6, ($7 > 0 ? "*" : " ") }
    END { if (!f) printf "%-27s", "not run" }' "$MEDIANS"
}

echo
echo "Compare-and-swap benchmark: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $(uname -r), disk $FSDEV ($FSTYPE)"
echo "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); ${SECS}s per run after ${WARMUP}s warm-up;" \
  "medians of $REPEAT repetitions; closed loop, one keep-alive HTTP connection per client;" \
  "value {\"v\":\"<$VALUE_SIZE chars>\"}; load generator io threads: $IO_THREADS"
if [[ $HAVE_ETCD -eq 1 ]]; then
  echo "etcd: $(etcd --version 2>/dev/null | head -1 | sed 's/etcd Version: //'), 3 members on 127.0.0.1, WAL fsync on (default)," \
    "POST /v3/kv/txn through the JSON gateway"
fi
if [[ $HAVE_CORVUS -eq 1 ]]; then
  echo "corvusd: $CORVUSD (built $CORVUSD_BUILT), 3 nodes on 127.0.0.1," \
    "PUT /databases/bench/cmpxchg; leader $C_LEADER_TAG, follower $C_FOLLOWER_TAG"
fi
for mode in $MODES; do
  echo
  case $mode in
    create) echo "create: a fresh key per request (corvus index=0; etcd create_revision==0)" ;;
    update) echo "update: each client swaps its own key at its last known version (corvus index=<Index>; etcd mod_revision==<rev>)" ;;
  esac
  printf '%7s' ""
  for name in "${COL_NAMES[@]}"; do printf ' | %-27s' "$name"; done
  echo
  printf '%7s' clients
  for _ in "${COLS[@]}"; do printf ' | %9s %7s %8s ' ops/s p50_us p99_us; done
  echo
  for c in $CLIENTS; do
    printf '%7d' "$c"
    for t in "${COLS[@]}"; do printf ' | %s' "$(cell "$t" "$mode" "$c")"; done
    echo
  done
done
if awk '$9 > 0 && $7 > 0 { f = 1 } END { exit !f }' "$MEDIANS"; then
  echo "(* = some runs behind this cell had errors: refused swaps, non-2xx answers or I/O errors; see below)"
fi
if want corvus && [[ $HAVE_CORVUS -eq 0 ]]; then echo "(corvus: not measured: $CORVUSD missing)"; fi
if [[ $HAVE_CORVUS -eq 1 && -n $C_FAIL ]]; then echo "(corvus: not measured: $C_FAIL)"; fi
if [[ -n $C_LEADER_FAIL ]]; then echo "(corvus via leader: not measured: $C_LEADER_FAIL)"; fi
if [[ -n $C_FOLLOWER_FAIL ]]; then echo "(corvus via follower: not measured: $C_FOLLOWER_FAIL)"; fi
if want etcd && [[ $HAVE_ETCD -eq 0 ]]; then echo "(etcd: not measured: ${ETCD_FAIL:-not started})"; fi

get() {  # target mode clients field(rps|p50|p99) -> value, empty when not measured
  awk -v t="$1" -v m="$2" -v c="$3" -v f="$4" '$1 == t && $2 == m && $3 == c && $9 > 0 {
      print (f == "rps") ? $4 : (f == "p50") ? $5 : $6 }' "$MEDIANS"
}
errs() { awk -v t="$1" -v m="$2" -v c="$3" '$1 == t && $2 == m && $3 == c { print $7 }' "$MEDIANS"; }

ratio_line() {  # label target_a target_b mode clients field op(>=|<=|-) goal
  local label=$1 a b r verdict="" note="" goal=""
  a=$(get "$2" "$4" "$5" "$6")
  b=$(get "$3" "$4" "$5" "$6")
  [[ $7 == - ]] || goal="target $7 $8"
  if [[ -z $a || -z $b ]] || awk -v b="$b" 'BEGIN { exit !(b <= 0) }'; then
    printf '  %-66s %8s   %-13s  %s\n' "$label" "n/a" "$goal" "(not measured)"
    return
  fi
  r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
  case $7 in
    '>=') verdict=$(awk -v r="$r" -v g="$8" 'BEGIN { print (r + 0 >= g + 0) ? "PASS" : "MISS" }') ;;
    '<=') verdict=$(awk -v r="$r" -v g="$8" 'BEGIN { print (r + 0 <= g + 0) ? "PASS" : "MISS" }') ;;
  esac
  local e1 e2
  e1=$(errs "$2" "$4" "$5") e2=$(errs "$3" "$4" "$5")
  [[ ${e1:-0} -gt 0 || ${e2:-0} -gt 0 ]] && note=" (errors in these runs: ${e1:-0} / ${e2:-0}: not meaningful)"
  printf '  %-66s %8s   %-13s  %s%s\n' "$label" "${r}x" "$goal" "$verdict" "$note"
}

echo
echo "Ratios (medians; corvus via its leader unless stated):"
for mode in $MODES; do
  ratio_line "$mode, 64 clients: corvus / etcd throughput" corvus etcd "$mode" 64 rps '>=' 3
  ratio_line "$mode, 64 clients: corvus / etcd p99 latency" corvus etcd "$mode" 64 p99 '<=' 1.0
  ratio_line "$mode, 1 client:   corvus / etcd p50 latency" corvus etcd "$mode" 1 p50 '<=' 0.7
done
echo
echo "For reference (no targets):"
for mode in $MODES; do
  ratio_line "$mode, 64 clients: corvus via follower / etcd throughput" corvus-follower etcd "$mode" 64 rps - -
  ratio_line "$mode, 64 clients: corvus via follower / via leader throughput" corvus-follower corvus "$mode" 64 rps - -
  ratio_line "$mode, 1 client:   corvus via follower / via leader p50" corvus-follower corvus "$mode" 1 p50 - -
  if [[ $ETCD_FOLLOWER -eq 1 ]]; then
    ratio_line "$mode, 64 clients: etcd via follower / via leader throughput" etcd-follower etcd "$mode" 64 rps - -
  fi
done

if [[ -s $FAILS ]]; then
  echo
  echo "First failure per target (status and body as answered):"
  awk -F'\t' '!seen[$1]++ { printf "  %-16s %s\n", $1 ":", substr($2, 1, 600) }' "$FAILS"
fi
