#!/usr/bin/env bash
# bench/bulk_insert_bench.sh: bulk insert on one corvusd against its peers, all in
# one run on this machine (issue "Push", bulk insert targets):
#   1. durable 1 KB single-document PUTs at --clients (corvus-http-load): rate P;
#   2. one bulk insert of --docs 1 KB documents streamed by curl from a file made
#      beforehand (POST /databases/bulk<run>/bulk_insert, each flush durable): rate B;
#      target B >= 5 x P;
#   3. RocksDB's own unsynced write rate for 1 KB values on the same disk
#      (db_bench fillseq --sync=0, one thread): rate R; target B >= 0.5 x R.
# Each runs --repeat times; the report gives medians and the ratios. Not a test: it
# never fails on a missed target. Everything listens on 127.0.0.1, lives in one temp
# directory and is removed on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=bulk_insert_bench.sh BENCH_LOG_TAG=bulk
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

SECS=5
REPEAT=3
CLIENTS=64
DOCS=200000
BUILD_DIR="$REPO/build/release"
DO_INSTALL=1
TMP_BASE="$REPO/build"

usage() {
  cat <<EOF
usage: bench/bulk_insert_bench.sh [options]
  --seconds S     seconds of each single-PUT run (default $SECS)
  --repeat K      runs of each measurement; medians reported (default $REPEAT)
  --clients N     clients of the single-PUT runs (default $CLIENTS)
  --docs N        documents per bulk insert (default $DOCS)
  --build-dir D   build tree (default build/release)
  --no-install    do not apt-get install missing packages
  --tmp-dir D     where the temp directory goes (default build/); a real disk
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECS="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --docs) DOCS="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --no-install) DO_INSTALL=0; shift ;;
    --tmp-dir) TMP_BASE="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bulk_insert_bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || bad_int --seconds 1
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -ge 1 ]] || bad_int --repeat 1
[[ $CLIENTS =~ ^[0-9]+$ && $CLIENTS -ge 1 ]] || bad_int --clients 1
[[ $DOCS =~ ^[0-9]+$ && $DOCS -ge 1 ]] || bad_int --docs 1

pkgs=()
command -v curl >/dev/null || pkgs+=(curl)
command -v jq >/dev/null || pkgs+=(jq)
command -v ss >/dev/null || pkgs+=(iproute2)
command -v db_bench >/dev/null || pkgs+=(rocksdb-tools)
install_packages "${pkgs[@]}"
CORVUSD="$BUILD_DIR/server/corvusd"
HTTP_LOAD="$BUILD_DIR/bench/corvus-http-load"
[[ -x $CORVUSD && -x $HTTP_LOAD ]] || die "build corvusd and corvus-http-load first (cmake --build --preset release)"

mkdir -p "$TMP_BASE"
WORK=$(mktemp -d "$TMP_BASE/bulk-bench.XXXXXX")
PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $PID ]] && { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
check_disk "$WORK"
median() { awk "$AWK_MEDIAN"' { print median($0) }' <<<"$*"; }

free_port PORT
free_port CPORT
URL="http://127.0.0.1:$PORT"
"$CORVUSD" --server-url "$URL" --cluster-port "$CPORT" --data-dir "$WORK/data" --log-level warn >"$WORK/corvusd.log" 2>&1 &
PID=$!
wait_http "$URL/healthz" 30 || die "corvusd did not start: $(tail -3 "$WORK/corvusd.log")"

# Every measured run writes into a database of its own, deleted (hard) right
# after: the same ids again would measure overwrites, and the flushes and
# compactions a finished run leaves behind would compete with the next one
# (measured: 103k, 78k, 53k, 74k, 58k docs/s in five runs that kept their
# databases), where db_bench starts each run from an empty directory.
create_db() { curl -sf -X PUT "$URL/admin/databases?name=$1" -d "{\"DatabaseName\":\"$1\"}" >/dev/null || die "create $1"; }
drop_db() {
  curl -sf -X DELETE "$URL/admin/databases" -d "{\"DatabaseNames\":[\"$1\"],\"HardDelete\":true}" >/dev/null ||
    die "delete $1"
}

# The stream: documents of about 1 KB, as corvus-http-load writes them.
log "writing the bulk insert body: $DOCS documents"
python3 - "$DOCS" >"$WORK/body.json" <<'EOF'
import sys
n = int(sys.argv[1])
pad = "x" * 960
out = sys.stdout
out.write("[")
for i in range(n):
    if i:
        out.write(",")
    out.write('{"Id":"bulk/%d","Type":"PUT","Document":{"n":%d,"pad":"%s","@metadata":{"@collection":"Bulk"}}}' % (i, i, pad))
out.write("]")
EOF

SINGLE=() BULK=() ROCKS=()
for ((rep = 0; rep < REPEAT; rep++)); do
  create_db "single$rep"
  line=$("$HTTP_LOAD" --port "$PORT" --db "single$rep" --mode put --clients "$CLIENTS" --seconds "$SECS" --warmup 1 \
    --tag "s$rep-" --timeout 30 2>>"$WORK/load.err") || die "single PUT load failed: $(tail -1 "$WORK/load.err")"
  drop_db "single$rep"
  log "  single PUT: $line"
  SINGLE+=("$(awk '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == "rps") print a[2] } }' <<<"$line")")

  create_db "bulk$rep"
  id=$(curl -sf "$URL/databases/bulk$rep/operations/next-operation-id" | jq -r .Id)
  start=$(date +%s.%N)
  code=$(curl -s -o "$WORK/bulk.out" -w '%{http_code}' -X POST "$URL/databases/bulk$rep/bulk_insert?id=$id" \
    -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$WORK/body.json")
  end=$(date +%s.%N)
  [[ $code == 200 ]] || die "bulk insert answered $code: $(head -c 300 "$WORK/bulk.out")"
  drop_db "bulk$rep"
  BULK+=("$(awk -v n="$DOCS" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }')")
  log "  bulk insert: $DOCS documents, ${BULK[-1]} docs/s"

  rm -rf "$WORK/rocksdb"
  out=$(db_bench --benchmarks=fillseq --sync=0 --value_size=1024 --num="$DOCS" --threads=1 \
    --db="$WORK/rocksdb" --compression_type=none 2>>"$WORK/rocksdb.err") || die "db_bench failed"
  ROCKS+=("$(tr '\r' '\n' <<<"$out" | awk '/^fillseq/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^ops\/sec/) { print $i; exit } }')")
  [[ -n ${ROCKS[-1]} ]] || die "cannot read db_bench's rate: $(tail -c 300 <<<"$out")"
  log "  db_bench fillseq sync=0: ${ROCKS[-1]} ops/s"
done

P=$(median "${SINGLE[*]}")
B=$(median "${BULK[*]}")
R=$(median "${ROCKS[*]}")
echo
echo "# bulk_insert_bench.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, disk $FSTYPE; medians of $REPEAT runs"
printf '%-52s %12s   %s\n' "measurement" "median" "runs"
printf '%-52s %12s   %s\n' "single-document PUT, $CLIENTS clients (writes/s)" "$P" "${SINGLE[*]}"
printf '%-52s %12s   %s\n' "bulk insert, $DOCS x 1 KB, one stream (docs/s)" "$B" "${BULK[*]}"
printf '%-52s %12s   %s\n' "RocksDB db_bench fillseq --sync=0, 1 KB (ops/s)" "$R" "${ROCKS[*]}"
awk -v b="$B" -v p="$P" -v r="$R" 'BEGIN {
  printf "  bulk / single PUT: %.2f (target >= 5: %s)\n", b / p, (b / p >= 5 ? "PASS" : "MISS")
  printf "  bulk / RocksDB unsynced: %.2f (target >= 0.5: %s)\n", b / r, (b / r >= 0.5 ? "PASS" : "MISS")
}'
