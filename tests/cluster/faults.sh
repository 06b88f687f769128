#!/usr/bin/env bash
# Runs the compare-exchange fault test (tests/cluster/cmpxchg_faults_test.cc) for
# as long as you like, or replays a seed's fault schedule, from a built tree:
#
#   tests/cluster/faults.sh [--seconds N] [--seed S] [--clients C] [--keys K]
#                           [--history FILE] [--build-dir DIR]
#
# Defaults: the test's own (15 s, a random seed that it prints, 6 clients, 4 keys),
# build dir build/release. It does not build: run
#   cmake --build --preset release --target cmpxchg_faults_test
# first. Exit status is the test's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build/release"

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit "$1"
}
number() {
  [[ "$2" =~ ^[0-9]+$ ]] || { echo "faults.sh: $1 needs a non-negative integer, got '$2'" >&2; exit 2; }
}

while [ $# -gt 0 ]; do
  case "$1" in -h | --help) usage 0 ;; esac
  [ $# -ge 2 ] || { echo "faults.sh: $1 needs a value" >&2; usage 2; }
  case "$1" in
    --seconds) number "$1" "$2"; export CORVUS_FAULT_SECONDS=$2 ;;
    --seed) number "$1" "$2"; export CORVUS_FAULT_SEED=$2 ;;
    --clients) number "$1" "$2"; export CORVUS_FAULT_CLIENTS=$2 ;;
    --keys) number "$1" "$2"; export CORVUS_FAULT_KEYS=$2 ;;
    --history) export CORVUS_FAULT_HISTORY=$2 ;;
    --build-dir) build=$2 ;;
    *) echo "faults.sh: unknown option $1" >&2; usage 2 ;;
  esac
  shift 2
done

bin="$build/tests/cluster/cmpxchg_faults_test"
if [ ! -x "$bin" ]; then
  echo "faults.sh: $bin is missing; build it first:" >&2
  echo "  cmake --build --preset release --target cmpxchg_faults_test" >&2
  exit 2
fi
exec "$bin"
