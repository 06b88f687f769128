# shellcheck shell=bash
# bench/lib.sh: helpers shared by bench/run.sh and bench/cmpxchg_bench.sh. Sourced, not
# run. The sourcing script sets BENCH_NAME (its name, for usage errors) and
# BENCH_LOG_TAG (the log prefix) first; want() reads ONLY, install_packages()
# DO_INSTALL.

want() { [[ ",$ONLY," == *",$1,"* ]]; }
log() { printf '[%s %(%H:%M:%S)T] %s\n' "$BENCH_LOG_TAG" -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
bad_int() { echo "$BENCH_NAME: $1 must be an integer >= $2" >&2; exit 2; }

# Installs the given Debian packages, if any; dies when that is not allowed
# (--no-install) or not possible (not root).
install_packages() {  # package...
  [[ $# -eq 0 ]] && return 0
  if [[ $DO_INSTALL -eq 0 ]]; then die "missing packages: $* (run without --no-install)"; fi
  [[ $(id -u) -eq 0 ]] || die "missing packages: $*; run as root or apt-get install them"
  log "installing: $*"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "$@" >/dev/null
}

# Sets FSTYPE and FSDEV for the directory and warns when it is in memory, where synced
# writes cost nothing.
# shellcheck disable=SC2034  # FSDEV is for the sourcing script's report
check_disk() {  # dir
  FSTYPE=$(findmnt -n -o FSTYPE -T "$1" 2>/dev/null || echo '?')
  FSDEV=$(findmnt -n -o SOURCE -T "$1" 2>/dev/null || echo '?')
  if [[ $FSTYPE == tmpfs || $FSTYPE == ramfs ]]; then
    log "WARNING: $1 is on $FSTYPE: synced writes cost nothing there; use --tmp-dir on a real disk"
  fi
}

# Sets the named variable (an array element such as "PORTS[2]" is fine) to a port
# nobody listens on and that no earlier call handed out. Call it directly, not in a
# subshell, so that USED_PORTS remembers the port.
USED_PORTS=" "
free_port() {  # variable name
  local p i
  for ((i = 0; i < 500; i++)); do
    # Below the kernel's ephemeral range (32768+), where an outgoing connection can
    # take the port between this check and the server's bind.
    p=$((20000 + RANDOM % 12000))
    [[ $USED_PORTS == *" $p "* ]] && continue
    if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
      USED_PORTS+="$p "
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  die "no free port found"
}

# Waits until the URL answers at all (any status).
wait_http() {  # url seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  return 1
}

# An awk function for the reports: median(" 3 1 2") of space-separated numbers.
# shellcheck disable=SC2034  # used by the sourcing scripts
AWK_MEDIAN='
  function median(s,   n, a, i, j, t) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }'
