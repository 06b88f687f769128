#!/usr/bin/env bash
# bench/counters_bench.sh: counter increment throughput of one corvusd against its own
# durable single-document PUT throughput, measured in the same run (interleaved) with
# the same load generator (corvus-http-load), then the ratio at 64 clients against the
# target (>= 0.8x). See bench/README.md.
#
#   counter  POST /databases/bench/counters, one Increment of "likes" by 1 on a random
#            one of --ids preloaded documents (each 2xx is durable)
#   put      PUT /databases/bench/docs?id=<fresh id>, 1 KB JSON (each 2xx is durable)
#
# Not a test: it never fails on a missed target (exit status 0 unless something could
# not run at all). corvusd listens on 127.0.0.1 only, lives in one temp directory, and
# is stopped and removed on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=counters_bench.sh BENCH_LOG_TAG=counters
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
usage: bench/counters_bench.sh [options]
  --seconds S      measured seconds per run (default $SECS)
  --warmup S       unmeasured warm-up seconds before each run (default $WARMUP)
  --repeat K       repeat the whole set K times and report medians (default $REPEAT)
  --clients "..."  client counts (default "$CLIENTS")
  --io-threads T   load generator io threads (default $IO_THREADS)
  --ids N          documents whose counters are incremented (default $IDS)
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
    *) echo "counters_bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
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
WORK=$(mktemp -d "$TMP_BASE/counters-bench.XXXXXX")
PID=""
trap cleanup_corvusd_work EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
check_disk "$WORK"
start_preloaded_corvusd

FRESH_IDS_MODE=put  # every put run writes fresh ids; the counters are on the preloaded documents
compare_load_modes "Counter benchmark" put "put (1 KB document)" counter "counter increment" "counter / put" 0.8
