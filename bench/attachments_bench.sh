#!/usr/bin/env bash
# bench/attachments_bench.sh: attachment upload and download throughput of a
# real corvusd next to `cp` of the same file on the same disk.
#
#   bench/attachments_bench.sh [--corvusd PATH] [--tmp-dir DIR] [--runs N] [--sizes-mb "1 100"]
#
# For each size: a random source file; then --runs times (default 5), interleaved:
#   cp       cp src dst && sync dst      (the copy made durable, as an upload is)
#   upload   curl -T src PUT /databases/bench/attachments  (streamed, hashed,
#            fsynced, committed; a 201 means durable)
#   download curl GET ... -o dst        (to a file on the same disk, not synced;
#            the blob is usually in the page cache, as cp's source is)
# and prints the median MB/s of each and the ratios upload/cp and download/cp.
# corvusd's data directory and the files are all under --tmp-dir (default
# /var/tmp), so both sides use the same disk. Not a test: nothing asserts.
set -euo pipefail
BENCH_NAME=attachments_bench.sh
BENCH_LOG_TAG=att-bench
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

CORVUSD=$HERE/../build/release/server/corvusd
TMP_BASE=/var/tmp
RUNS=5
SIZES="1 100"
while [[ $# -gt 0 ]]; do
  case $1 in
    --corvusd) CORVUSD=$2; shift 2 ;;
    --tmp-dir) TMP_BASE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --sizes-mb) SIZES=$2; shift 2 ;;
    *) echo "usage: $0 [--corvusd PATH] [--tmp-dir DIR] [--runs N] [--sizes-mb \"1 100\"]" >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[0-9]+$ && $RUNS -ge 1 ]] || bad_int --runs 1
[[ -x $CORVUSD ]] || die "corvusd not found: $CORVUSD (build it or pass --corvusd)"
command -v curl >/dev/null || die "curl is required"

WORK=$(mktemp -d "$TMP_BASE/corvus-att-bench.XXXXXX")
PID=
cleanup() {
  if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
check_disk "$WORK"

free_port PORT
URL=http://127.0.0.1:$PORT
"$CORVUSD" --server-url "$URL" --data-dir "$WORK/data" --log-level warn >"$WORK/corvusd.log" 2>&1 &
PID=$!
wait_http "$URL/healthz" 20 || die "corvusd did not start: $(tail -5 "$WORK/corvusd.log")"
curl -sf -o /dev/null -X PUT "$URL/admin/databases?name=bench" -d '{"DatabaseName":"bench"}' || die "create database"
curl -sf -o /dev/null -X PUT "$URL/databases/bench/docs?id=files/1" -d '{"kind":"bench"}' || die "create document"

now_ns() { date +%s%N; }
seconds_to_ns() { awk -v s="$1" 'BEGIN { printf "%d", s * 1e9 }'; }
# MB/s for `bytes` moved in `ns`.
mbps() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.1f", (b / 1048576) / (ns / 1e9) }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

printf '%-8s %10s %12s %14s %10s %12s %14s\n' size cp_MB/s upload_MB/s download_MB/s runs upload/cp download/cp
for mb in $SIZES; do
  src=$WORK/src-$mb.bin
  head -c "$((mb * 1048576))" /dev/urandom >"$src"
  bytes=$(stat -c %s "$src")
  cp_r="" up_r="" down_r=""
  for ((i = 0; i < RUNS; i++)); do
    t0=$(now_ns); cp "$src" "$WORK/cp.bin" && sync "$WORK/cp.bin"; t1=$(now_ns)
    cp_r+=" $(mbps "$bytes" $((t1 - t0)))"
    rm -f "$WORK/cp.bin"

    # curl's own clock (connect to last byte): its process start (libcurl,
    # TLS libraries: ~10-20 ms here) is not the server's time.
    read -r code secs < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -T "$src" \
      "$URL/databases/bench/attachments?id=files/1&name=f$mb-$i.bin")
    [[ $code == 201 ]] || die "upload answered $code"
    up_r+=" $(mbps "$bytes" "$(seconds_to_ns "$secs")")"

    read -r code secs < <(curl -s -o "$WORK/down.bin" -w '%{http_code} %{time_total}\n' \
      "$URL/databases/bench/attachments?id=files/1&name=f$mb-$i.bin")
    [[ $code == 200 ]] || die "download answered $code"
    cmp -s "$src" "$WORK/down.bin" || die "downloaded bytes differ"
    down_r+=" $(mbps "$bytes" "$(seconds_to_ns "$secs")")"
    rm -f "$WORK/down.bin"
    # The same bytes under a new name share one blob: delete so each upload stores them again.
    curl -sf -o /dev/null -X DELETE "$URL/databases/bench/attachments?id=files/1&name=f$mb-$i.bin"
  done
  c=$(echo "$cp_r" | median); u=$(echo "$up_r" | median); d=$(echo "$down_r" | median)
  printf '%-8s %10s %12s %14s %10s %12s %14s\n' "${mb}MB" "$c" "$u" "$d" "$RUNS" \
    "$(awk -v a="$u" -v b="$c" 'BEGIN { printf "%.2f", a / b }')" \
    "$(awk -v a="$d" -v b="$c" 'BEGIN { printf "%.2f", a / b }')"
done
log "disk: $FSDEV ($FSTYPE); medians of $RUNS runs; cp = cp + sync of the copy (wall time, its process start included); upload/download = curl's time_total"
