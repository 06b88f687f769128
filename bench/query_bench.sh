#!/usr/bin/env bash
# bench/query_bench.sh: queries on one corvusd against PostgreSQL 15 (jsonb with btree
# expression indexes), in one run on this machine (issue 11, "Performance"), on --docs
# 1 KB documents of the Users data set (bench/users_dataset.h). Each repetition, on a
# fresh corvusd and a fresh PostgreSQL table:
#   1. load: corvusd by one bulk insert, PostgreSQL by COPY (same documents, from files
#      written beforehand by corvus-users-gen);
#   2. corvusd's durable write rate: 1 KB PUTs at --put-clients into another database;
#   3. indexing from cold: the first `where City = $p0` query creates the auto-index;
#      documents / seconds until a query on it answers IsStale:false. Then the first
#      `where Score between` query creates the wider index (City and Score), timed the
#      same way. PostgreSQL: CREATE INDEX on each expression, timed;
#   4. a query that needs no index (`from Users limit 100`) must answer from the
#      collection (IndexName collection/Users) and create no index directory;
#   5. at --clients, --seconds each, random parameters, keep-alive HTTP / prepared
#      statements: equality (~docs/cities matches), range (Score interval of
#      --range-width, ~100 matches), wide range (--wide-width, many matches, limit 100),
#      sorted (a page of 100 of every document by Score desc, offset below 1000).
# Medians over --repeat; the ratios against the targets. Not a test: it never fails on
# a missed target. Everything listens on 127.0.0.1, lives in one temp directory and is
# removed on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=query_bench.sh BENCH_LOG_TAG=qbench
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

DOCS=1000000
CITIES=10000
SECS=10
WARMUP=1
REPEAT=3
CLIENTS=16
RANGE_WIDTH=100
WIDE_WIDTH=10000
PUT_CLIENTS=64
PUT_SECS=5
ONLY="pg,corvus"
BUILD_DIR="$REPO/build/release"
DO_INSTALL=1
TMP_BASE="$REPO/build"
KEEP_TMP=0
PROFILE=""

usage() {
  cat <<EOF
usage: bench/query_bench.sh [options]
  --docs N          documents in Users (default $DOCS)
  --cities N        distinct City values (default $CITIES: ~docs/cities per city)
  --seconds S       measured seconds per query run (default $SECS)
  --warmup S        unmeasured seconds before each query run (default $WARMUP)
  --repeat K        repetitions (fresh load each); medians reported (default $REPEAT)
  --clients N       query clients (default $CLIENTS)
  --range-width W   Score interval of the range query (default $RANGE_WIDTH: ~docs*W/1e6 matches)
  --wide-width W    Score interval of the wide range query (default $WIDE_WIDTH; 0: skip it)
  --put-clients N   clients of the durable PUT reference run (default $PUT_CLIENTS)
  --put-seconds S   seconds of that run (default $PUT_SECS; 0: skip it)
  --only LIST       pg,corvus (default both)
  --profile DIR     record corvusd with perf (perf record -g) during the query runs of
                    the first repetition, into DIR/<query>.data
  --build-dir D     build tree (default build/release)
  --no-install      do not apt-get install missing packages
  --tmp-dir D       where the temp directory goes (default build/); a real disk
  --keep-tmp        keep the temp directory (logs, data)
Needs corvusd, corvus-http-load, corvus-pg-load and corvus-users-gen built in --build-dir:
  cmake --build --preset release --target corvusd corvus-http-load corvus-pg-load corvus-users-gen
EOF
}

while [[ $# -gt 0 ]]; do
  common_option "$@" && { shift "$OPT_SHIFT"; continue; }
  case "$1" in
    --docs) var=DOCS ;;
    --cities) var=CITIES ;;
    --clients) var=CLIENTS ;;
    --range-width) var=RANGE_WIDTH ;;
    --wide-width) var=WIDE_WIDTH ;;
    --put-clients) var=PUT_CLIENTS ;;
    --put-seconds) var=PUT_SECS ;;
    --only) var=ONLY ;;
    --profile) var=PROFILE ;;
    -h|--help) usage; exit 0 ;;
    *) echo "query_bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  [[ $# -ge 2 ]] || { echo "query_bench.sh: $1 needs a value" >&2; exit 2; }
  printf -v "$var" '%s' "$2"
  shift 2
done
for v in DOCS:1 CITIES:1 SECS:1 WARMUP:0 REPEAT:1 CLIENTS:1 PUT_CLIENTS:1 PUT_SECS:0 RANGE_WIDTH:0 WIDE_WIDTH:0; do
  name=${v%%:*} min=${v##*:}
  [[ ${!name} =~ ^[0-9]+$ && ${!name} -ge $min ]] || bad_int "--$(tr 'A-Z_' 'a-z-' <<<"$name")" "$min"
done

pkgs=()
if want pg; then
  [[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl ]] || pkgs+=(postgresql)
  [[ -f /usr/include/postgresql/libpq-fe.h ]] || pkgs+=(libpq-dev)
fi
command -v curl >/dev/null || pkgs+=(curl)
command -v jq >/dev/null || pkgs+=(jq)
command -v ss >/dev/null || pkgs+=(iproute2)
install_packages "${pkgs[@]}"
CORVUSD="$BUILD_DIR/server/corvusd"
HTTP_LOAD="$BUILD_DIR/bench/corvus-http-load"
PG_LOAD="$BUILD_DIR/bench/corvus-pg-load"
USERS_GEN="$BUILD_DIR/bench/corvus-users-gen"
for b in "$USERS_GEN" $(want corvus && echo "$CORVUSD $HTTP_LOAD") $(want pg && echo "$PG_LOAD"); do
  [[ -x $b ]] || die "$b missing; build it: cmake --build --preset release --target $(basename "$b")"
done
if [[ -n $PROFILE ]]; then
  command -v perf >/dev/null || die "--profile needs perf"
  mkdir -p "$PROFILE"
  PROFILE=$(cd "$PROFILE" && pwd)
fi

# ---------------------------------------------------------------- temp dir, cleanup
mkdir -p "$TMP_BASE"
WORK=$(mktemp -d "$TMP_BASE/query-bench.XXXXXX")
chmod 755 "$WORK"
PID_CORVUS="" PID_PERF=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  [[ -n $PID_PERF ]] && { kill -INT "$PID_PERF" 2>/dev/null; wait "$PID_PERF" 2>/dev/null; }
  stop_pid "$PID_CORVUS" 10
  stop_pg
  if [[ $KEEP_TMP -eq 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
check_disk "$WORK"

RESULTS="$WORK/results.txt"  # name rep value [p50 p99 errors extra...]
: >"$RESULTS"
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }'; }
RUN_TIMEOUT=$((SECS + WARMUP + 90))

# A load generator's result line -> results (rps p50 p99 errors and the rest).
record_load() {  # name rep line
  local rps p50 p99 err
  rps=$(field rps <<<"$3") p50=$(field p50_us <<<"$3") p99=$(field p99_us <<<"$3") err=$(field errors <<<"$3")
  [[ -n $rps ]] || { log "  $1: no result"; return 0; }
  echo "$1 $2 $rps $p50 $p99 $err" >>"$RESULTS"
  log "  $1: $3"
}
record() { echo "$1 $2 $3" >>"$RESULTS"; log "  $1: $3"; }

log "writing the data set: $DOCS documents, $CITIES cities"
gen_out=()
want corvus && gen_out+=(--bulk "$WORK/users.bulk.json")
want pg && gen_out+=(--copy "$WORK/users.copy")
"$USERS_GEN" --docs "$DOCS" --cities "$CITIES" "${gen_out[@]}" || die "corvus-users-gen failed"
chmod a+r "$WORK"/users.* 2>/dev/null || true

QUERIES="eq range"
[[ $WIDE_WIDTH -gt 0 ]] && QUERIES+=" wide"
QUERIES+=" sorted"
# Query kind -> the load generators' mode and range width.
query_args() {
  case "$1" in
    eq) echo "--mode query-eq" ;;
    range) echo "--mode query-range --range-width $RANGE_WIDTH" ;;
    wide) echo "--mode query-range --range-width $WIDE_WIDTH" ;;
    sorted) echo "--mode query-sorted" ;;
  esac
}

# ---------------------------------------------------------------- corvusd
CURL=(curl -s --max-time 120)
corvus_query() {  # RQL, parameters (JSON object) -> the answer on stdout
  "${CURL[@]}" -X POST "$URL/databases/bench/queries" -H 'Content-Type: application/json' \
    -d "{\"Query\":$(jq -Rn --arg q "$1" '$q'),\"QueryParameters\":$2}"
}

# Runs the query (which creates its auto-index), then repeats it until it answers
# IsStale:false; records documents per second since the first was sent.
time_indexing() {  # name rep RQL parameters
  local name=$1 rep=$2 t0 t1 answer stale index i
  t0=$(now)
  answer=$(corvus_query "$3" "$4")
  index=$(jq -r .IndexName <<<"$answer" 2>/dev/null) || die "$name: not a query answer: ${answer:0:300}"
  for ((i = 0; i < 36000; i++)); do  # 2 hours at most
    stale=$(jq -r .IsStale <<<"$answer" 2>/dev/null || echo error)
    [[ $stale == false ]] && break
    [[ $stale == true ]] || die "$name: bad answer while indexing: ${answer:0:300}"
    sleep 0.2
    answer=$(corvus_query "$3" "$4")
  done
  t1=$(now)
  [[ $stale == false ]] || die "$name: index $index still stale after 2 hours"
  record "$name" "$rep" "$(rate "$DOCS" "$t0" "$t1")"
  log "    ($index, $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)"
}

# The newest index directory of database bench (they are numbered in creation order:
# query::IndexStore), 0 when none; fails when the indexes directory is not there.
newest_index() {
  local dir="$DATA/databases/bench/indexes"
  [[ -d $dir ]] || { log "no $dir (has corvusd's layout changed?)"; return 1; }
  find "$dir" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | grep -E '^[0-9]+$' | sort -n | tail -1 | grep . || echo 0
}

corvus_rep() {  # rep
  local rep=$1 port cport id code t0 t1 line q answer before after
  DATA="$WORK/corvus-$rep"
  free_port port
  free_port cport
  URL="http://127.0.0.1:$port"
  "$CORVUSD" --server-url "$URL" --cluster-port "$cport" --data-dir "$DATA" --log-level warn \
    >"$WORK/corvusd-$rep.log" 2>&1 &
  PID_CORVUS=$!
  wait_http "$URL/healthz" 30 || die "corvusd did not start: $(tail -3 "$WORK/corvusd-$rep.log")"
  for db in bench puts; do
    "${CURL[@]}" -f -X PUT "$URL/admin/databases?name=$db" -d "{\"DatabaseName\":\"$db\"}" >/dev/null ||
      die "cannot create database $db"
  done

  log "corvusd: bulk insert of $DOCS documents"
  id=$("${CURL[@]}" -f "$URL/databases/bench/operations/next-operation-id" | jq -r .Id)
  t0=$(now)
  # -T streams the file (--data-binary would read all of it into memory first).
  code=$(curl -s --max-time 3600 -o "$WORK/bulk.out" -w '%{http_code}' -X POST -T "$WORK/users.bulk.json" \
    "$URL/databases/bench/bulk_insert?id=$id" -H 'Content-Type: application/json' -H 'Expect:')
  t1=$(now)
  [[ $code == 200 ]] || die "bulk insert answered $code: $(head -c 300 "$WORK/bulk.out")"
  record corvus_load "$rep" "$(rate "$DOCS" "$t0" "$t1")"

  if [[ $PUT_SECS -gt 0 ]]; then
    line=$(timeout $((PUT_SECS + 90)) "$HTTP_LOAD" --port "$port" --db puts --mode put --clients "$PUT_CLIENTS" \
      --seconds "$PUT_SECS" --warmup 1 --tag "r$rep-" 2>>"$WORK/load.err") || die "PUT load failed: $(tail -1 "$WORK/load.err")"
    record_load corvus_put "$rep" "$line"
  fi

  # The indexes directory exists once the database is open; no index yet.
  before=$(newest_index) || die "cannot see corvusd's index directories"
  [[ $before -eq 0 ]] || die "corvusd has index $before before any query"
  log "corvusd: indexing from cold"
  # shellcheck disable=SC2016  # $p0 and $p1 are RQL parameters
  time_indexing corvus_index_city "$rep" 'from Users where City = $p0 limit 100' '{"p0":"City-1"}'
  # shellcheck disable=SC2016
  time_indexing corvus_index_city_score "$rep" 'from Users where Score between $p0 and $p1 limit 100' \
    '{"p0":1000.0,"p1":1100.0}'

  # A query with nothing to filter or sort needs no index and must not build one.
  before=$(newest_index) || die "cannot see corvusd's index directories"
  [[ $before -ge 2 ]] || die "the indexing queries made no index directory (newest: $before)"
  t0=$(now)
  answer=$(corvus_query 'from Users limit 100' '{}')
  t1=$(now)
  after=$(newest_index) || die "cannot see corvusd's index directories"
  q=$(jq -r '"\(.IndexName) \(.Results | length) \(.TotalResults)"' <<<"$answer" 2>/dev/null || echo "error")
  if [[ $q == "collection/Users 100 $DOCS" && $after -eq $before ]]; then
    record corvus_noindex_ok "$rep" 1
  else
    record corvus_noindex_ok "$rep" 0
    log "    no-index query: IndexName/results/total '$q', newest index directory $before -> $after"
  fi
  record corvus_noindex_ms "$rep" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')"

  for q in $QUERIES; do
    local perf_out=""
    if [[ -n $PROFILE && $rep -eq 1 ]]; then
      perf_out="$PROFILE/$q.data"
      perf record -g -o "$perf_out" -p "$PID_CORVUS" >/dev/null 2>"$WORK/perf-$q.log" &
      PID_PERF=$!
    fi
    # shellcheck disable=SC2046  # query_args is words
    line=$(timeout "$RUN_TIMEOUT" "$HTTP_LOAD" --port "$port" --clients "$CLIENTS" --seconds "$SECS" \
      --warmup "$WARMUP" --cities "$CITIES" --timeout 60 $(query_args "$q") 2>>"$WORK/load.err") ||
      { log "  corvus $q failed: $(tail -2 "$WORK/load.err")"; line=""; }
    if [[ -n $PID_PERF ]]; then
      kill -INT "$PID_PERF" 2>/dev/null
      wait "$PID_PERF" 2>/dev/null || true
      PID_PERF=""
    fi
    [[ -n $line ]] && record_load "corvus_$q" "$rep" "$line"
  done
  stop_pid "$PID_CORVUS" 30
  PID_CORVUS=""
  rm -rf "$DATA"
}

# ---------------------------------------------------------------- PostgreSQL
pg_rep() {  # rep
  local rep=$1 t0 t1 q line
  psql_bench -c 'DROP TABLE IF EXISTS users' -c 'CREATE TABLE users (id text PRIMARY KEY, body jsonb NOT NULL)' ||
    die "PostgreSQL: cannot create users"
  log "PostgreSQL: COPY of $DOCS documents"
  t0=$(now)
  psql_bench -c "\\copy users (id, body) FROM '$WORK/users.copy'" || die "PostgreSQL: COPY failed"
  t1=$(now)
  record pg_load "$rep" "$(rate "$DOCS" "$t0" "$t1")"
  t0=$(now)
  psql_bench -c "CREATE INDEX users_city ON users ((body->>'City'))" || die "PostgreSQL: CREATE INDEX failed"
  t1=$(now)
  record pg_index_city "$rep" "$(rate "$DOCS" "$t0" "$t1")"
  t0=$(now)
  psql_bench -c "CREATE INDEX users_score ON users (((body->>'Score')::float8))" || die "PostgreSQL: CREATE INDEX failed"
  t1=$(now)
  record pg_index_score "$rep" "$(rate "$DOCS" "$t0" "$t1")"
  psql_bench -c 'VACUUM ANALYZE users' || die "PostgreSQL: VACUUM ANALYZE failed"
  for q in $QUERIES; do
    # shellcheck disable=SC2046
    line=$(timeout "$RUN_TIMEOUT" "$PG_LOAD" --conninfo "$(PG_CONN)" --clients "$CLIENTS" --seconds "$SECS" \
      --warmup "$WARMUP" --cities "$CITIES" $(query_args "$q") 2>>"$WORK/load.err") ||
      { log "  pg $q failed: $(tail -2 "$WORK/load.err")"; continue; }
    record_load "pg_$q" "$rep" "$line"
  done
}

log "temp dir $WORK ($FSTYPE on $FSDEV); $DOCS documents; $CLIENTS clients, $SECS s per query run; repeat $REPEAT"
if want pg; then start_pg || die "PostgreSQL failed to start"; fi
for ((rep = 1; rep <= REPEAT; rep++)); do
  log "=== repetition $rep/$REPEAT"
  if want corvus; then corvus_rep "$rep"; fi
  if want pg; then pg_rep "$rep"; fi
done

# ---------------------------------------------------------------- report
# name -> median of column 3 (and of p50, p99; errors summed), runs.
MEDIANS="$WORK/medians.txt"
sort -k1,1 -k2,2n "$RESULTS" | awk "$AWK_MEDIAN"'
  { k = $1; if (!(k in n)) order[++nk] = k
    n[k]++; v[k] = v[k] " " $3; runs[k] = runs[k] " " $3
    if (NF >= 6) { p50[k] = p50[k] " " $4; p99[k] = p99[k] " " $5; err[k] += $6; lat[k] = 1 } }
  END { for (i = 1; i <= nk; i++) { k = order[i]
          printf "%s %s %s %s %s %s\n", k, median(v[k]), lat[k] ? median(p50[k]) : "-", lat[k] ? median(p99[k]) : "-",
                 lat[k] ? err[k] : "-", substr(runs[k], 2) } }' >"$MEDIANS"
med() { awk -v k="$1" '$1 == k { print $2 }' "$MEDIANS"; }

echo
echo "# query_bench.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, disk $FSTYPE, commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# $DOCS x 1 KB Users documents, $CITIES cities; queries at $CLIENTS clients, ${SECS}s after ${WARMUP}s warm-up; medians of $REPEAT"
if want corvus; then echo "# corvusd: $CORVUSD (built $(date -u -r "$CORVUSD" '+%Y-%m-%d %H:%M UTC'))"; fi
if want pg; then echo "# PostgreSQL $(psql_bench -At -c 'SHOW server_version' 2>/dev/null), default shared_buffers, jsonb + btree expression indexes"; fi
printf '%-26s %12s %9s %9s %6s   %s\n' measurement median p50_us p99_us errors runs
awk '{ runs = $6; for (i = 7; i <= NF; i++) runs = runs " " $i
       printf "%-26s %12s %9s %9s %6s   %s\n", $1, $2, $3, $4, $5, runs }' "$MEDIANS"
echo
echo "  load: docs/s; put: durable PUT/s at $PUT_CLIENTS clients; index_*: docs/s from the first query to"
echo "  non-stale (PostgreSQL: CREATE INDEX); eq/range/wide: queries/s (Score interval $RANGE_WIDTH / $WIDE_WIDTH);"
echo "  sorted: queries/s of a page of 100 of every document by Score desc at a random offset below 1000"
echo
ratio() {  # label numerator denominator target ("-": none)
  local a b
  a=$(med "$2") b=$(med "$3")
  if [[ -z $a || -z $b ]]; then printf '  %-58s %8s\n' "$1" n/a; return; fi
  awk -v l="$1" -v a="$a" -v b="$b" -v t="$4" 'BEGIN {
    r = b > 0 ? a / b : 0
    printf (r < 0.1 ? "  %-58s %7.3fx" : "  %-58s %7.2fx"), l, r
    if (t != "-") printf "   target >= %s: %s", t, (r >= t ? "PASS" : "MISS")
    printf "\n" }'
}
echo "Ratios (medians):"
ratio "equality query, corvusd / PostgreSQL" corvus_eq pg_eq 1.0
ratio "range query (~100 matches), corvusd / PostgreSQL" corvus_range pg_range 1.0
ratio "wide range query (limit 100), corvusd / PostgreSQL" corvus_wide pg_wide -
ratio "sorted page (order by Score desc), corvusd / PostgreSQL" corvus_sorted pg_sorted -
ratio "indexing City / durable PUT rate ($PUT_CLIENTS clients)" corvus_index_city corvus_put 0.5
ratio "indexing City+Score / durable PUT rate" corvus_index_city_score corvus_put -
ratio "indexing City / bulk insert rate" corvus_index_city corvus_load -
ratio "indexing City / PostgreSQL CREATE INDEX City" corvus_index_city pg_index_city -
ratio "load: bulk insert / PostgreSQL COPY" corvus_load pg_load -
if want corvus; then
  ok=$(awk '$1 == "corvus_noindex_ok" { runs = $6; for (i = 7; i <= NF; i++) runs = runs " " $i; print runs }' "$MEDIANS")
  if [[ $ok =~ ^1( 1)*$ ]]; then v=PASS; else v="MISS (runs: $ok)"; fi
  printf '  %-58s %8s   %s\n' "from Users limit 100: no index built (collection/Users)" "" "$v"
fi
diag=$(tail -5 "$WORK/load.err" 2>/dev/null | grep -v 'corvus-pg-load: server' || true)
if [[ -n $diag ]]; then
  echo
  echo "Load generator diagnostics (stderr, last lines):"
  while IFS= read -r l; do echo "  $l"; done <<<"$diag"
fi
