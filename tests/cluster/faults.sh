#!/usr/bin/env bash
# Runs a fault test for as long as you like, or replays a seed's fault schedule,
# from a built tree:
#
#   tests/cluster/faults.sh [--test cmpxchg|replication] [--seconds N] [--seed S]
#                           [--clients C] [--keys K] [--history FILE]
#                           [--conflicts latest|kept] [--build-dir DIR]
#
# --test cmpxchg (default): tests/cluster/cmpxchg_faults_test.cc, compare-exchange
# (defaults 15 s, 6 clients, 4 keys; --clients, --keys, --history are its own).
# --test replication: tests/cluster/replication_faults_test.cc, replicated writes
# (default 7 s under each conflict policy; --conflicts runs only one). Both print
# their random seed. Build dir build/release. It
# does not build: run
#   cmake --build --preset release --target cmpxchg_faults_test replication_faults_test
# first. Exit status is the test's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build/release"
test_name=cmpxchg

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit "$1"
}
number() {
  [[ "$2" =~ ^[0-9]+$ ]] || { echo "faults.sh: $1 needs a non-negative integer, got '$2'" >&2; exit 2; }
}

while [ $# -gt 0 ]; do
  case "$1" in -h | --help) usage 0 ;; esac
  [ $# -ge 2 ] || { echo "faults.sh: $1 needs a value" >&2; usage 2; }
  case "$1" in
    --test)
      case "$2" in cmpxchg | replication) test_name=$2 ;; *) echo "faults.sh: --test is cmpxchg or replication, got '$2'" >&2; exit 2 ;; esac ;;
    --seconds) number "$1" "$2"; export CORVUS_FAULT_SECONDS=$2 ;;
    --seed) number "$1" "$2"; export CORVUS_FAULT_SEED=$2 ;;
    --clients) number "$1" "$2"; export CORVUS_FAULT_CLIENTS=$2 ;;
    --keys) number "$1" "$2"; export CORVUS_FAULT_KEYS=$2 ;;
    --history) export CORVUS_FAULT_HISTORY=$2 ;;
    --conflicts)
      case "$2" in latest | kept) export CORVUS_FAULT_CONFLICTS=$2 ;; *) echo "faults.sh: --conflicts is latest or kept, got '$2'" >&2; exit 2 ;; esac ;;
    --build-dir) build=$2 ;;
    *) echo "faults.sh: unknown option $1" >&2; usage 2 ;;
  esac
  shift 2
done

bin="$build/tests/cluster/${test_name}_faults_test"
if [ ! -x "$bin" ]; then
  echo "faults.sh: $bin is missing; build it first:" >&2
  echo "  cmake --build --preset release --target ${test_name}_faults_test" >&2
  exit 2
fi
exec "$bin"
