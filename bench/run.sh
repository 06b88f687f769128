#!/usr/bin/env bash
# bench/run.sh: durable PUT and GET-by-id throughput/latency of corvusd, side by side
# with PostgreSQL 15 (jsonb, synchronous_commit=on), RocksDB's own synced-write rate
# (db_bench fillrandom --sync=1) and nginx serving a static 1 KB file, all measured in
# one run on this machine, then the ratios against the targets. See bench/README.md.
#
# Not a test: it never fails on a missed target (exit status 0 unless something could
# not run at all). Everything it starts listens on 127.0.0.1 only, lives in one temp
# directory, and is stopped and removed on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=run.sh BENCH_LOG_TAG=bench
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

SECS=10
REPEAT=3
WARMUP=1
CLIENTS="1 16 64"
IO_THREADS=1
IDS=10000
BUILD_DIR="$REPO/build/release"
DO_BUILD=1
DO_INSTALL=1
TMP_BASE="$REPO/build"
ONLY="pg,corvus,nginx,rocksdb"
CORVUSD=""
KEEP_TMP=0

usage() {
  cat <<EOF
usage: bench/run.sh [options]
  --seconds S      measured seconds per run (default $SECS)
  --warmup S       unmeasured warm-up seconds before each run (default $WARMUP)
  --repeat K       repeat the whole set K times and report medians (default $REPEAT)
  --clients "..."  client counts (default "$CLIENTS"); also db_bench thread counts
  --io-threads T   load generator io threads, 1 or 2 (default $IO_THREADS)
  --ids N          documents preloaded for GET-by-id (default $IDS)
  --only LIST      subset of pg,corvus,nginx,rocksdb (default all)
  --build-dir D    build tree (default build/release)
  --corvusd PATH   corvusd binary (default <build-dir>/server/corvusd)
  --no-build       do not configure/build, use the binaries in --build-dir
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
    --io-threads) IO_THREADS="$2"; shift 2 ;;
    --ids) IDS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --corvusd) CORVUSD="$2"; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --no-install) DO_INSTALL=0; shift ;;
    --tmp-dir) TMP_BASE="$2"; shift 2 ;;
    --keep-tmp) KEEP_TMP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -n "$CORVUSD" ]] || CORVUSD="$BUILD_DIR/server/corvusd"
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || bad_int --seconds 1
[[ $WARMUP =~ ^[0-9]+$ ]] || bad_int --warmup 0
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -ge 1 ]] || bad_int --repeat 1
[[ $IDS =~ ^[0-9]+$ && $IDS -ge 1 ]] || bad_int --ids 1
for c in $CLIENTS; do [[ $c =~ ^[0-9]+$ && $c -ge 1 ]] || bad_int "--clients entries" 1; done

# ---------------------------------------------------------------- dependencies
install_missing() {
  local pkgs=()
  if want pg; then
    [[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl ]] || pkgs+=(postgresql)
    [[ -f /usr/include/postgresql/libpq-fe.h ]] || pkgs+=(libpq-dev)
  fi
  if want nginx; then command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || pkgs+=(nginx-light); fi
  if want rocksdb; then command -v db_bench >/dev/null || pkgs+=(rocksdb-tools); fi
  command -v curl >/dev/null || pkgs+=(curl)
  command -v ss >/dev/null || pkgs+=(iproute2)
  install_packages "${pkgs[@]}"
}
install_missing
export PATH="$PATH:/usr/sbin:/sbin"

# ---------------------------------------------------------------- build
if [[ $DO_BUILD -eq 1 ]]; then
  log "building the Release tree in $BUILD_DIR"
  cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$REPO/build/bench-configure.log" 2>&1 ||
    { tail -20 "$REPO/build/bench-configure.log" >&2; die "cmake configure failed"; }
  if ! cmake --build "$BUILD_DIR" >"$REPO/build/bench-build.log" 2>&1; then
    tail -20 "$REPO/build/bench-build.log" >&2
    log "WARNING: the full build failed; building only the load generators"
    cmake --build "$BUILD_DIR" --target corvus-http-load $(want pg && echo corvus-pg-load) ||
      die "cannot build the load generators"
  fi
fi
HTTP_LOAD="$BUILD_DIR/bench/corvus-http-load"
PG_LOAD="$BUILD_DIR/bench/corvus-pg-load"
[[ -x $HTTP_LOAD ]] || die "$HTTP_LOAD missing (build first or drop --no-build)"
if want pg && [[ ! -x $PG_LOAD ]]; then
  log "WARNING: $PG_LOAD missing (libpq not found at configure time): skipping PostgreSQL"
  ONLY=${ONLY//pg/}
fi
HAVE_CORVUS=0
if want corvus; then
  if [[ -x $CORVUSD ]]; then
    HAVE_CORVUS=1
  else
    log "NOTE: $CORVUSD does not exist (not built yet): corvusd rows are skipped"
  fi
fi

# ---------------------------------------------------------------- temp dir, cleanup
mkdir -p "$TMP_BASE"
WORK=$(mktemp -d "$TMP_BASE/bench-run.XXXXXX")
chmod 755 "$WORK"
PIDS_CORVUS=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  [[ -n "$PIDS_CORVUS" ]] && stop_pid "$PIDS_CORVUS" 10
  [[ -n "$PID_NGINX" ]] && stop_pid "$PID_NGINX" 5
  stop_pg
  if [[ $KEEP_TMP -eq 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

check_disk "$WORK"

# ---------------------------------------------------------------- corvusd
CPORT=""
start_corvus() {
  free_port CPORT
  mkdir -p "$WORK/corvus/data"
  log "corvusd: $CORVUSD on port $CPORT"
  "$CORVUSD" --server-url "http://127.0.0.1:$CPORT" --data-dir "$WORK/corvus/data" \
    >"$WORK/corvus/server.log" 2>&1 &
  PIDS_CORVUS=$!
  if ! wait_http "http://127.0.0.1:$CPORT/metrics" 30; then
    log "corvusd did not answer within 30 s; log tail:"
    tail -20 "$WORK/corvus/server.log" >&2
    return 1
  fi
  local code
  code=$(curl -s -o "$WORK/corvus/createdb.out" -w '%{http_code}' --max-time 30 -X PUT \
    "http://127.0.0.1:$CPORT/admin/databases?name=bench" -H 'Content-Type: application/json' \
    -d '{"DatabaseName":"bench"}')
  if [[ $code != 2* ]]; then
    log "creating database 'bench' answered HTTP $code: $(head -c 300 "$WORK/corvus/createdb.out")"
    return 1
  fi
}

# ---------------------------------------------------------------- runs
RESULTS="$WORK/results.txt"  # target mode clients rep rps p50 p99 errors
: >"$RESULTS"
RUN_TIMEOUT=$((SECS + WARMUP + 90))

record() {  # target rep <result line>
  local target=$1 rep=$2 line=$3
  echo "$line" | awk -v t="$target" -v r="$rep" '{
      for (i = 1; i <= NF; i++) { split($i, a, "="); m[a[1]] = a[2] }
      if (m["rps"] == "") exit 1
      print t, m["mode"], m["clients"], r, m["rps"], m["p50_us"], m["p99_us"], m["errors"]
    }' >>"$RESULTS"
  log "  $target: $line"
}

run_http() {  # target rep mode clients port [extra args]
  local target=$1 rep=$2 mode=$3 c=$4 port=$5 line
  shift 5
  if line=$(timeout "$RUN_TIMEOUT" "$HTTP_LOAD" --port "$port" --mode "$mode" --clients "$c" \
    --seconds "$SECS" --warmup "$WARMUP" --threads "$IO_THREADS" "$@" 2>>"$WORK/load.err"); then
    record "$target" "$rep" "$line"
  else
    log "  $target $mode c=$c failed: $(tail -2 "$WORK/load.err")"
  fi
}

# corvusd's writes per WAL sync during one run: the gauge covers the time since
# the previous scrape, so the run is bracketed by two scrapes.
WPS="$WORK/writes_per_sync.txt"  # mode clients rep wps
: >"$WPS"
scrape_writes_per_sync() {
  curl -s --max-time 10 "http://127.0.0.1:$CPORT/metrics" |
    awk '/^corvus_txmerger_writes_per_sync[ {]/ && /database="bench"/ { print $NF; f = 1 } END { if (!f) print "" }'
}

run_corvus_write() {  # rep mode clients [extra]
  local rep=$1 mode=$2 c=$3 wps
  shift 3
  scrape_writes_per_sync >/dev/null
  run_http corvus "$rep" "$mode" "$c" "$CPORT" "$@"
  wps=$(scrape_writes_per_sync)
  [[ -n $wps ]] && echo "$mode $c $rep $wps" >>"$WPS"
  return 0
}

run_pg() {  # rep mode clients [extra]
  local rep=$1 mode=$2 c=$3 line
  shift 3
  if line=$(timeout "$RUN_TIMEOUT" "$PG_LOAD" --conninfo "$(PG_CONN)" --mode "$mode" --clients "$c" \
    --seconds "$SECS" --warmup "$WARMUP" "$@" 2>>"$WORK/load.err"); then
    record pg "$rep" "$line"
  else
    log "  pg $mode c=$c failed: $(tail -2 "$WORK/load.err")"
  fi
}

run_rocksdb() {  # rep threads
  local rep=$1 t=$2 out dir="$WORK/rocksdb/db-$2"
  mkdir -p "$WORK/rocksdb"
  out=$(timeout "$RUN_TIMEOUT" db_bench --benchmarks=fillrandom --sync=1 --threads="$t" --value_size=1024 \
    --num=100000000 --duration="$SECS" --histogram=1 --db="$dir" --wal_dir="$dir" \
    2>>"$WORK/rocksdb/stderr.log") || { log "  db_bench threads=$t failed"; rm -rf "$dir"; return 0; }
  rm -rf "$dir"
  # "fillrandom : 922.991 micros/op 17249 ops/sec ..." and
  # "Percentiles: P50: 880.43 P75: 1118.17 P99: 1896.78 ..."
  local line
  line=$(echo "$out" | awk -v t="$t" '
      $1 == "fillrandom" { for (i = 1; i <= NF; i++) if ($i == "ops/sec") rps = $(i - 1);
                           for (i = 1; i <= NF; i++) if ($i == "seconds") secs = $(i - 1);
                           for (i = 1; i <= NF; i++) if ($i == "operations;") ops = $(i - 1) }
      $1 == "Percentiles:" { for (i = 1; i <= NF; i++) { if ($i == "P50:") p50 = $(i + 1); if ($i == "P99:") p99 = $(i + 1) } }
      END { if (rps == "") exit 1;
            printf "mode=fillrandom_sync clients=%d requests=%s seconds=%s rps=%s p50_us=%.0f p99_us=%.0f errors=0\n",
                   t, ops, secs, rps, p50, p99 }') || { log "  db_bench threads=$t: cannot parse output"; return 0; }
  record rocksdb "$rep" "$line"
}

log "temp dir $WORK ($FSTYPE on $FSDEV); $SECS s per run after $WARMUP s warm-up; clients: $CLIENTS; repeat $REPEAT"

HAVE_PG=0 HAVE_NGINX=0
if want pg; then if start_pg; then HAVE_PG=1; else log "PostgreSQL failed to start: skipping it"; fi; fi
if want nginx; then if start_nginx; then HAVE_NGINX=1; else log "nginx failed to start: skipping it"; fi; fi
if [[ $HAVE_CORVUS -eq 1 ]]; then
  if ! start_corvus; then log "corvusd failed to start: skipping corvusd rows"; HAVE_CORVUS=0; fi
fi
HAVE_ROCKSDB=0
if want rocksdb; then if command -v db_bench >/dev/null; then HAVE_ROCKSDB=1; else log "db_bench missing: skipping"; fi; fi

# Documents for GET-by-id: bench/g-0 .. bench/g-<IDS-1>, same bodies on both sides.
if [[ $HAVE_PG -eq 1 ]]; then
  log "PostgreSQL: preloading $IDS documents"
  "$PG_LOAD" --conninfo "$(PG_CONN)" --mode preload --ids "$IDS" --clients 4 >/dev/null 2>>"$WORK/load.err" ||
    log "PostgreSQL preload failed: $(tail -2 "$WORK/load.err")"
  timeout 120 "${PGRUN[@]}" "$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d bench -c 'VACUUM ANALYZE docs' \
    >/dev/null 2>&1 || true
fi
if [[ $HAVE_CORVUS -eq 1 ]]; then
  log "corvusd: preloading $IDS documents"
  line=$(timeout 600 "$HTTP_LOAD" --port "$CPORT" --mode preload --ids "$IDS" --clients 16 2>>"$WORK/load.err") ||
    log "corvusd preload failed: $(tail -2 "$WORK/load.err")"
  log "  preload: $line"
fi

for ((rep = 1; rep <= REPEAT; rep++)); do
  log "=== repetition $rep/$REPEAT"
  for c in $CLIENTS; do
    tag="r${rep}c${c}-"
    if [[ $HAVE_PG -eq 1 ]]; then run_pg "$rep" put "$c" --tag "$tag"; fi
    if [[ $HAVE_CORVUS -eq 1 ]]; then run_corvus_write "$rep" put "$c" --tag "$tag"; fi
    if [[ $HAVE_ROCKSDB -eq 1 ]]; then run_rocksdb "$rep" "$c"; fi
    if [[ $HAVE_PG -eq 1 ]]; then run_pg "$rep" overwrite "$c" --ids "$IDS"; fi
    if [[ $HAVE_CORVUS -eq 1 ]]; then run_corvus_write "$rep" overwrite "$c" --ids "$IDS"; fi
    if [[ $HAVE_PG -eq 1 ]]; then run_pg "$rep" get "$c" --ids "$IDS"; fi
    if [[ $HAVE_CORVUS -eq 1 ]]; then run_http corvus "$rep" get "$c" "$CPORT" --ids "$IDS"; fi
    if [[ $HAVE_NGINX -eq 1 ]]; then run_http nginx "$rep" static "$c" "$NGPORT" --path /doc1k.json; fi
  done
done

# ---------------------------------------------------------------- report
# Medians over the repetitions: target mode clients -> rps p50 p99, errors summed.
MEDIANS="$WORK/medians.txt"
sort -k1,1 -k2,2 -k3,3n "$RESULTS" | awk "$AWK_MEDIAN"'
  { k = $1 " " $2 " " $3
    if (!(k in n)) order[++nk] = k
    n[k]++; rps[k] = rps[k] " " $5; p50[k] = p50[k] " " $6; p99[k] = p99[k] " " $7; err[k] += $8 }
  END { for (i = 1; i <= nk; i++) { k = order[i]
          printf "%s %.1f %.0f %.0f %d %d\n", k, median(rps[k]), median(p50[k]), median(p99[k]), err[k], n[k] } }
' >"$MEDIANS"

echo
echo "Corvus benchmark: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $(uname -r), disk $FSDEV ($FSTYPE)"
echo "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); ${SECS}s per run after ${WARMUP}s warm-up;" \
  "medians of $REPEAT repetitions; load generator io threads: $IO_THREADS; 1 KB JSON documents"
if [[ $HAVE_PG -eq 1 ]]; then
  echo "PostgreSQL: $(grep -m1 'corvus-pg-load: server' "$WORK/load.err" | sed 's/^corvus-pg-load: server //'), synchronous_commit=on, TCP 127.0.0.1"
fi
if [[ $HAVE_NGINX -eq 1 ]]; then echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //'), 1 worker, static 1024-byte file"; fi
if [[ $HAVE_ROCKSDB -eq 1 ]]; then echo "RocksDB: db_bench $(db_bench --version 2>&1 | awk '{print $NF}'), fillrandom --sync=1 --value_size=1024, same disk"; fi
if [[ $HAVE_CORVUS -eq 1 ]]; then echo "corvusd: $CORVUSD (built $(date -r "$CORVUSD" '+%Y-%m-%d %H:%M'))"; fi
echo
printf '%-9s %-16s %7s %12s %10s %10s %7s %5s\n' target mode clients "rps" p50_us p99_us errors runs
printf '%-9s %-16s %7s %12s %10s %10s %7s %5s\n' --------- ---------------- ------- ------------ ---------- ---------- ------- -----
awk '{ printf "%-9s %-16s %7d %12.1f %10d %10d %7d %5d\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$MEDIANS"
[[ $HAVE_CORVUS -eq 1 ]] || echo "(corvusd: not measured: $CORVUSD missing or failed to start)"
echo

get_rps() {  # target mode clients
  awk -v t="$1" -v m="$2" -v c="$3" '$1 == t && $2 == m && $3 == c { print $4; f = 1 } END { if (!f) print "" }' "$MEDIANS"
}
get_err() {
  awk -v t="$1" -v m="$2" -v c="$3" '$1 == t && $2 == m && $3 == c { print $7 }' "$MEDIANS"
}
ratio_line() {  # label num_target num_mode num_c den_target den_mode den_c goal ("-": none)
  local label=$1 a b r verdict note="" goal
  goal=$( [[ $8 == - ]] && echo "" || echo "target >= $8")
  a=$(get_rps "$2" "$3" "$4")
  b=$(get_rps "$5" "$6" "$7")
  if [[ -z $a || -z $b ]] || awk -v b="$b" 'BEGIN { exit !(b <= 0) }'; then
    printf '  %-70s %8s   %-14s  %s\n' "$label" "n/a" "$goal" "(not measured)"
    return
  fi
  r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
  verdict=""
  [[ $8 == - ]] || verdict=$(awk -v r="$r" -v g="$8" 'BEGIN { print (r + 0 >= g + 0) ? "PASS" : "MISS" }')
  local e1 e2
  e1=$(get_err "$2" "$3" "$4")
  e2=$(get_err "$5" "$6" "$7")
  [[ ${e1:-0} -gt 0 || ${e2:-0} -gt 0 ]] && note=" (errors in these runs: $e1 / $e2)"
  printf '  %-70s %8s   %-14s  %s%s\n' "$label" "${r}x" "$goal" "$verdict" "$note"
}

# The p50 latency of the denominator over the numerator's: >= 1.0 when
# corvusd's median request is no slower.
get_p50() {
  awk -v t="$1" -v m="$2" -v c="$3" '$1 == t && $2 == m && $3 == c { print $5; f = 1 } END { if (!f) print "" }' "$MEDIANS"
}
latency_line() {  # label num_target num_mode num_c den_target den_mode den_c goal
  local label=$1 a b r verdict
  a=$(get_p50 "$2" "$3" "$4")
  b=$(get_p50 "$5" "$6" "$7")
  if [[ -z $a || -z $b || $a -le 0 ]]; then
    printf '  %-70s %8s   %-14s  %s\n' "$label" "n/a" "target >= $8" "(not measured)"
    return
  fi
  r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')
  verdict=$(awk -v r="$r" -v g="$8" 'BEGIN { print (r + 0 >= g + 0) ? "PASS" : "MISS" }')
  printf '  %-70s %8s   %-14s  %s (p50 %s vs %s us)\n' "$label" "${r}x" "target >= $8" "$verdict" "$a" "$b"
}

echo "Ratios (rps medians unless said otherwise; targets of issue 9):"
for mode in put overwrite; do
  what=$([[ $mode == put ]] && echo "new doc" || echo "overwrite")
  ratio_line "durable PUT ($what), 1 client: corvusd / PostgreSQL upsert" corvus "$mode" 1 pg "$mode" 1 1.0
  latency_line "durable PUT ($what), 1 client: PostgreSQL p50 / corvusd p50" corvus "$mode" 1 pg "$mode" 1 1.0
  for c in 16 64; do
    ratio_line "durable PUT ($what), $c clients: corvusd / PostgreSQL upsert" corvus "$mode" "$c" pg "$mode" "$c" 2.0
    ratio_line "durable PUT ($what), $c clients: corvusd / RocksDB sync ($c thr)" corvus "$mode" "$c" rocksdb fillrandom_sync "$c" 0.8
  done
  ratio_line "scaling: corvusd PUT ($what) 64 clients / 16 clients" corvus "$mode" 64 corvus "$mode" 16 1.0
done
ratio_line "GET-by-id, 64 clients: corvusd / nginx static 1 KB (1 worker)" corvus get 64 nginx static 64 1.0
ratio_line "GET-by-id, 64 clients: corvusd / PostgreSQL select" corvus get 64 pg get 64 2.0
for mode in put overwrite; do
  wps=$(awk -v m="$mode" '$1 == m && $2 == 64 { v = v " " $4 } END { print v }' "$WPS" | awk "$AWK_MEDIAN"'{ if (NF) printf "%.1f", median($0) }')
  if [[ -n $wps ]]; then
    verdict=$(awk -v w="$wps" 'BEGIN { print (w + 0 >= 16) ? "PASS" : "MISS" }')
    printf '  %-70s %8s   %-14s  %s\n' "writes per WAL sync, PUT ($mode), 64 clients (median of runs)" "$wps" "target >= 16" "$verdict"
  fi
done
echo
echo "For reference (scaling of the peers; no targets):"
ratio_line "PostgreSQL PUT 64 / 16 clients" pg put 64 pg put 16 -
ratio_line "PostgreSQL GET 64 / 16 clients" pg get 64 pg get 16 -
ratio_line "RocksDB synced writes 64 / 16 threads" rocksdb fillrandom_sync 64 rocksdb fillrandom_sync 16 -
ratio_line "nginx static 64 / 16 clients" nginx static 64 nginx static 16 -
ratio_line "corvusd GET 64 / 16 clients" corvus get 64 corvus get 16 -

if [[ $HAVE_CORVUS -eq 1 ]]; then
  echo
  echo "corvusd transaction merger (/metrics, corvus_txmerger_*, cumulative over the whole run):"
  metrics=$(curl -s --max-time 10 "http://127.0.0.1:$CPORT/metrics" | grep -E '^corvus_txmerger_' || true)
  if [[ -n $metrics ]]; then
    echo "$metrics" | grep -v '^corvus_txmerger_writes_per_sync' | head -80 | sed 's/^/  /'
    # (writes per WAL sync: per run, in the ratios above; the gauge covers only
    # the time since the previous scrape.)
  else
    echo "  (no corvus_txmerger_* lines in /metrics)"
  fi
fi
diag=$(grep -v 'corvus-pg-load: server' "$WORK/load.err" 2>/dev/null | tail -10 || true)
if [[ -n $diag ]]; then
  echo
  echo "Load generator diagnostics (stderr, last lines):"
  echo "$diag" | sed 's/^/  /'
fi
