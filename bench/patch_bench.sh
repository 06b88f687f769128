#!/usr/bin/env bash
# bench/patch_bench.sh: patch-by-id throughput of one corvusd against its own durable
# PUT of the same documents, measured in the same run (interleaved) with the same load
# generator (corvus-http-load), then the ratio at 64 clients against the target
# (>= 0.6x), and the per-script overhead: p50 of a patch minus p50 of the PUT at 1 client.
# See bench/README.md.
#
#   patch      PATCH /databases/bench/docs?id=<one of --ids preloaded 1 KB documents>,
#              script "this.Patched = (this.Patched || 0) + 1;" (load, run, durable write)
#   overwrite  PUT /databases/bench/docs?id=<one of the same documents>, 1 KB JSON
#
# Not a test: it never fails on a missed target (exit status 0 unless something could
# not run at all). corvusd listens on 127.0.0.1 only, lives in one temp directory, and
# is stopped and removed on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=patch_bench.sh BENCH_LOG_TAG=patch
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

SECS=5
REPEAT=3
WARMUP=1
CLIENTS="1 16 64"
IO_THREADS=1
IDS=1000
BUILD_DIR="$REPO/build/release"
CORVUSD=""
TMP_BASE="$REPO/build"
KEEP_TMP=0
ONLY=corvus DO_INSTALL=0  # lib.sh's want()/install_packages(): nothing to install here

usage() {
  cat <<EOF
usage: bench/patch_bench.sh [options]
  --seconds S      measured seconds per run (default $SECS)
  --warmup S       unmeasured warm-up seconds before each run (default $WARMUP)
  --repeat K       repeat the whole set K times and report medians (default $REPEAT)
  --clients "..."  client counts (default "$CLIENTS")
  --io-threads T   load generator io threads (default $IO_THREADS)
  --ids N          documents patched and overwritten (default $IDS)
  --build-dir D    build tree (default build/release)
  --corvusd PATH   corvusd binary (default <build-dir>/server/corvusd)
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
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --corvusd) CORVUSD="$2"; shift 2 ;;
    --tmp-dir) TMP_BASE="$2"; shift 2 ;;
    --keep-tmp) KEEP_TMP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "patch_bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -n "$CORVUSD" ]] || CORVUSD="$BUILD_DIR/server/corvusd"
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || bad_int --seconds 1
[[ $WARMUP =~ ^[0-9]+$ ]] || bad_int --warmup 0
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -ge 1 ]] || bad_int --repeat 1
[[ $IDS =~ ^[0-9]+$ && $IDS -ge 1 ]] || bad_int --ids 1
[[ $IO_THREADS =~ ^[0-9]+$ && $IO_THREADS -ge 1 ]] || bad_int --io-threads 1
for c in $CLIENTS; do [[ $c =~ ^[0-9]+$ && $c -ge 1 ]] || bad_int "--clients entries" 1; done
for tool in curl ss; do command -v "$tool" >/dev/null || die "$tool is required"; done

LOAD="$BUILD_DIR/bench/corvus-http-load"
[[ -x $LOAD ]] || die "$LOAD missing: cmake --build --preset release --target corvus-http-load"
[[ -x $CORVUSD ]] || die "$CORVUSD missing: cmake --build --preset release --target corvusd"

mkdir -p "$TMP_BASE"
WORK=$(mktemp -d "$TMP_BASE/patch-bench.XXXXXX")
PID=""
trap cleanup_corvusd_work EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
check_disk "$WORK"
start_preloaded_corvusd

RESULTS="$WORK/results.txt"  # mode clients rep rps p50 p99 errors
: >"$RESULTS"
run_load() {  # mode clients rep
  local line err="$WORK/load-$1-$2-$3.err" tag=()
  if ! line=$(timeout $((SECS + WARMUP + 60)) "$LOAD" --port "$PORT" --mode "$1" --clients "$2" \
    --seconds "$SECS" --warmup "$WARMUP" --threads "$IO_THREADS" --ids "$IDS" --timeout 10 \
    "${tag[@]}" 2>"$err"); then
    log "  $1 c=$2: load generator failed: $(tail -2 "$err")"
    return 0
  fi
  log "  $line"
  [[ -s $err ]] && log "  $1 c=$2: $(head -c 400 "$err")"
  awk -v r="$3" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); m[a[1]] = a[2] }
                   print m["mode"], m["clients"], r, m["rps"], m["p50_us"], m["p99_us"], m["errors"] }' \
    <<<"$line" >>"$RESULTS"
}

log "${SECS}s per run after ${WARMUP}s warm-up; clients: $CLIENTS; repeat $REPEAT"
for ((rep = 1; rep <= REPEAT; rep++)); do
  log "=== repetition $rep/$REPEAT"
  for c in $CLIENTS; do
    run_load overwrite "$c" "$rep"
    run_load patch "$c" "$rep"
  done
done

MEDIANS="$WORK/medians.txt"  # mode clients rps p50 p99 errors
sort -k1,1 -k2,2n "$RESULTS" | awk "$AWK_MEDIAN"'
  { k = $1 " " $2; if (!(k in n)) order[++nk] = k
    n[k]++; err[k] += $7; rps[k] = rps[k] " " $4; p50[k] = p50[k] " " $5; p99[k] = p99[k] " " $6 }
  END { for (i = 1; i <= nk; i++) { k = order[i]
          printf "%s %.1f %.0f %.0f %d\n", k, median(rps[k]), median(p50[k]), median(p99[k]), err[k] } }
' >"$MEDIANS"

echo
echo "Patch benchmark: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $(uname -r), disk $FSDEV ($FSTYPE)"
echo "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); corvusd $CORVUSD (built $CORVUSD_BUILT);" \
  "${SECS}s per run after ${WARMUP}s warm-up; medians of $REPEAT repetitions; closed loop, one keep-alive" \
  "connection per client; load generator io threads: $IO_THREADS"
printf '\n%7s | %-27s | %-27s\n' "" "PUT (1 KB document)" "PATCH (trivial script)"
printf '%7s | %9s %7s %8s  | %9s %7s %8s\n' clients req/s p50_us p99_us req/s p50_us p99_us
cell() { awk -v m="$1" -v c="$2" '$1 == m && $2 == c { f = 1; printf "%9.0f %7d %8d%s", $3, $4, $5, ($6 > 0 ? "*" : " ") }
                                   END { if (!f) printf "%-27s", "not run" }' "$MEDIANS"; }
for c in $CLIENTS; do printf '%7d | %s | %s\n' "$c" "$(cell overwrite "$c")" "$(cell patch "$c")"; done
if awk '$6 > 0 { f = 1 } END { exit !f }' "$MEDIANS"; then echo "(* = some runs behind this cell had errors; see the log above)"; fi

echo
for c in $CLIENTS; do
  awk -v c="$c" -v target="$([[ $c == 64 ]] && echo 0.6)" '
    $2 == c && $1 == "overwrite" { p = $3 } $2 == c && $1 == "patch" { k = $3 }
    END { if (p <= 0 || k <= 0) { printf "  %2d clients: patch / PUT throughput: n/a (not measured)\n", c; exit }
          r = k / p
          if (target != "") printf "  %2d clients: patch / PUT throughput: %.2fx   target >= %.1fx  %s\n", c, r, target, (r >= target ? "PASS" : "MISS")
          else printf "  %2d clients: patch / PUT throughput: %.2fx\n", c, r }' "$MEDIANS"
done
awk '$2 == 1 && $1 == "overwrite" { p = $4 } $2 == 1 && $1 == "patch" { k = $4 }
     END { if (p > 0 && k > 0) printf "  per-script overhead at 1 client: p50 PATCH %d us - p50 PUT %d us = %d us\n", k, p, k - p }' "$MEDIANS"
