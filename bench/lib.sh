# shellcheck shell=bash
# bench/lib.sh: helpers shared by the bench/*.sh scripts. Sourced, not run. The
# sourcing script sets BENCH_NAME (its name, for usage errors) and BENCH_LOG_TAG (the
# log prefix) first; want() reads ONLY, install_packages() DO_INSTALL, start_pg() WORK.

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

# Reads one of the options the bench scripts share, when "$1" is one: --seconds S,
# --warmup S, --repeat K, --build-dir D, --tmp-dir D, --no-install, --keep-tmp (into
# SECS WARMUP REPEAT BUILD_DIR TMP_BASE DO_INSTALL KEEP_TMP). Sets OPT_SHIFT to the
# number of words used; returns 1 when "$1" is not one of them. Usage:
#   while [[ $# -gt 0 ]]; do common_option "$@" && { shift "$OPT_SHIFT"; continue; }; case ...
# shellcheck disable=SC2034  # the variables are the sourcing script's
common_option() {
  OPT_SHIFT=2
  case "$1" in
    --seconds | --warmup | --repeat | --build-dir | --tmp-dir)
      [[ $# -ge 2 ]] || { echo "$BENCH_NAME: $1 needs a value" >&2; exit 2; } ;;
  esac
  case "$1" in
    --seconds) SECS="$2" ;;
    --warmup) WARMUP="$2" ;;
    --repeat) REPEAT="$2" ;;
    --build-dir) BUILD_DIR="$2" ;;
    --tmp-dir) TMP_BASE="$2" ;;
    --no-install) DO_INSTALL=0; OPT_SHIFT=1 ;;
    --keep-tmp) KEEP_TMP=1; OPT_SHIFT=1 ;;
    *) return 1 ;;
  esac
}

# Sends TERM, waits up to `seconds`, then KILL.
stop_pid() {  # pid [seconds, default 10]
  local pid=$1 wait=${2:-10} i
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < wait * 10; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- named corvusd nodes
# For scripts that run several nodes in $WORK: start_node NAME (a free HTTP and
# cluster port the first time, the same ones on a restart; data in $WORK/NAME,
# log in $WORK/NAME.log), url NAME, stop_node NAME [SIGNAL] (SIGNAL, default TERM,
# then KILL after 10 s), doc_count NAME DB, http METHOD URL [BODY] -> "<status>
# <body>", and cleanup_nodes (the EXIT trap: stops them all, removes $WORK unless
# KEEP_TMP=1).
declare -A PID_OF=() HPORT=() CPORT=()
url() { echo "http://127.0.0.1:${HPORT[$1]}"; }
start_node() {  # name
  [[ -n ${HPORT[$1]:-} ]] || { free_port "HPORT[$1]"; free_port "CPORT[$1]"; }
  mkdir -p "$WORK/$1"
  "$CORVUSD" --server-url "$(url "$1")" --cluster-port "${CPORT[$1]}" --data-dir "$WORK/$1" \
    --log-level warn >>"$WORK/$1.log" 2>&1 &
  PID_OF[$1]=$!
  wait_http "$(url "$1")/healthz" 30 || die "$1 did not answer /healthz in 30 s: $(tail -3 "$WORK/$1.log")"
}
stop_node() {  # name [signal]
  local pid=${PID_OF[$1]:-} i
  [[ -n $pid ]] || return 0
  kill "-${2:-TERM}" "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "PID_OF[$1]"
}
cleanup_nodes() {
  local rc=$? n
  trap - EXIT INT TERM
  set +e
  for n in "${!PID_OF[@]}"; do stop_node "$n"; done
  if [[ $KEEP_TMP -eq 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
http() {  # method url [body] -> "<status> <body>"
  local out code data=()
  [[ $# -ge 3 ]] && data=(-H 'Content-Type: application/json' --data-binary "$3")
  out=$(mktemp "$WORK/http.XXXXXX")
  code=$(curl -s -o "$out" -w '%{http_code}' --max-time 30 -X "$1" "$2" "${data[@]}" 2>/dev/null) || true
  printf '%s %s' "${code:-000}" "$(head -c 600 "$out")"
  rm -f "$out"
}
doc_count() {  # name db -> CountOfDocuments, or -1
  local r
  r=$(curl -s --max-time 5 "$(url "$1")/databases/$2/stats" 2>/dev/null) || r=""
  jq -r '.CountOfDocuments // -1' <<<"$r" 2>/dev/null || echo -1
}

# ---------------------------------------------------------------- one corvusd with preloaded documents
# start_preloaded_corvusd: corvusd ($CORVUSD) on a free port (PORT, URL; PID) with
# its data in $WORK/data, a database `bench` and $IDS documents of ~1 KB written by
# corvus-http-load --mode preload ($LOAD, $IO_THREADS io threads); CORVUSD_BUILT is
# the binary's time. cleanup_corvusd_work (the EXIT trap) stops it and removes $WORK
# unless KEEP_TMP=1, keeping the script's exit status.
start_preloaded_corvusd() {
  free_port PORT
  URL="http://127.0.0.1:$PORT"
  CORVUSD_BUILT=$(date -r "$CORVUSD" '+%Y-%m-%d %H:%M:%S')
  "$CORVUSD" --server-url "$URL" --data-dir "$WORK/data" --log-level warn >"$WORK/corvusd.log" 2>&1 &
  PID=$!
  wait_http "$URL/healthz" 30 || die "corvusd did not answer /healthz in 30 s: $(tail -3 "$WORK/corvusd.log")"
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PUT "$URL/admin/databases?name=bench" \
    -H 'Content-Type: application/json' --data-binary '{"DatabaseName":"bench"}')
  [[ $code == 2* ]] || die "PUT /admin/databases?name=bench: HTTP $code"
  "$LOAD" --port "$PORT" --mode preload --ids "$IDS" --clients 16 --threads "$IO_THREADS" >/dev/null ||
    die "preloading $IDS documents failed"
  log "corvusd on $URL, database bench with $IDS documents; temp dir $WORK ($FSTYPE on $FSDEV)"
}

# compare_load_modes: corvus-http-load modes A and B against the corvusd started by
# start_preloaded_corvusd, at each of $CLIENTS, $REPEAT times interleaved ($SECS s
# after $WARMUP s); prints the medians side by side and the B / A throughput per
# client count (with a target at 64 clients when given). Leaves the medians in
# $MEDIANS ("mode clients rps p50 p99 errors"). A mode listed in FRESH_IDS_MODE
# writes new ids each run (--tag), for modes that insert.
compare_load_modes() {  # title mode_a label_a mode_b label_b ratio_name target_at_64
  local title=$1 a=$2 label_a=$3 b=$4 label_b=$5 ratio=$6 target=$7 rep c
  RESULTS="$WORK/results.txt"  # mode clients rep rps p50 p99 errors
  : >"$RESULTS"
  log "${SECS}s per run after ${WARMUP}s warm-up; clients: $CLIENTS; repeat $REPEAT"
  for ((rep = 1; rep <= REPEAT; rep++)); do
    log "=== repetition $rep/$REPEAT"
    for c in $CLIENTS; do
      run_one_load "$a" "$c" "$rep"
      run_one_load "$b" "$c" "$rep"
    done
  done
  MEDIANS="$WORK/medians.txt"
  sort -k1,1 -k2,2n "$RESULTS" | awk "$AWK_MEDIAN"'
    { k = $1 " " $2; if (!(k in n)) order[++nk] = k
      n[k]++; err[k] += $7; rps[k] = rps[k] " " $4; p50[k] = p50[k] " " $5; p99[k] = p99[k] " " $6 }
    END { for (i = 1; i <= nk; i++) { k = order[i]
            printf "%s %.1f %.0f %.0f %d\n", k, median(rps[k]), median(p50[k]), median(p99[k]), err[k] } }
  ' >"$MEDIANS"

  echo
  echo "$title: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $(uname -r), disk $FSDEV ($FSTYPE)"
  echo "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); corvusd $CORVUSD (built $CORVUSD_BUILT);" \
    "${SECS}s per run after ${WARMUP}s warm-up; medians of $REPEAT repetitions; closed loop, one keep-alive" \
    "connection per client; load generator io threads: $IO_THREADS"
  printf '\n%7s | %-27s | %-27s\n' "" "$label_a" "$label_b"
  printf '%7s | %9s %7s %8s  | %9s %7s %8s\n' clients req/s p50_us p99_us req/s p50_us p99_us
  for c in $CLIENTS; do printf '%7d | %s | %s\n' "$c" "$(median_cell "$a" "$c")" "$(median_cell "$b" "$c")"; done
  if awk '$6 > 0 { f = 1 } END { exit !f }' "$MEDIANS"; then echo "(* = some runs behind this cell had errors; see the log above)"; fi

  echo
  for c in $CLIENTS; do
    awk -v c="$c" -v a="$a" -v b="$b" -v name="$ratio" -v target="$([[ $c == 64 ]] && echo "$target")" '
      $2 == c && $1 == a { p = $3 } $2 == c && $1 == b { k = $3 }
      END { if (p <= 0 || k <= 0) { printf "  %2d clients: %s throughput: n/a (not measured)\n", c, name; exit }
            r = k / p
            if (target != "") printf "  %2d clients: %s throughput: %.2fx   target >= %.1fx  %s\n", c, name, r, target, (r >= target ? "PASS" : "MISS")
            else printf "  %2d clients: %s throughput: %.2fx\n", c, name, r }' "$MEDIANS"
  done
}

run_one_load() {  # mode clients rep
  local line err="$WORK/load-$1-$2-$3.err" tag=()
  [[ $1 == "${FRESH_IDS_MODE:-}" ]] && tag=(--tag "r$3c$2-")
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

median_cell() {  # mode clients
  awk -v m="$1" -v c="$2" '$1 == m && $2 == c { f = 1; printf "%9.0f %7d %8d%s", $3, $4, $5, ($6 > 0 ? "*" : " ") }
                           END { if (!f) printf "%-27s", "not run" }' "$MEDIANS"
}

cleanup_corvusd_work() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  stop_pid "$PID"
  [[ -n $PID ]] && wait "$PID" 2>/dev/null
  if [[ $KEEP_TMP -eq 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}

# ---------------------------------------------------------------- a private PostgreSQL 15
# start_pg: initdb in $WORK/pg/data and start it on 127.0.0.1 and a free port (PGPORT),
# fsync=on, synchronous_commit=on, default shared_buffers, its unix socket in
# $WORK/pg/sock, then create the database `bench`. As root it runs as user postgres.
# stop_pg (call it from the
# EXIT trap) stops it if it was started; psql_bench runs psql in `bench`.
PGBIN=/usr/lib/postgresql/15/bin
PGPORT="" PG_STARTED=0
PGRUN=()
[[ $(id -u) -eq 0 ]] && PGRUN=(runuser -u postgres --)

# nginx with NGINX_WORKERS workers (default 1) serving $WORK/nginx/www
# (doc1k.json: a 1024-byte JSON document, made here) with keep-alive on a free
# port NGPORT. Given a certificate and its key (PEM), over HTTPS on NGTLSPORT
# too, and then without sendfile on either port: TLS 1.2/1.3, the TLS 1.3
# suites in corvusd's order (server/http/tls_context.cc), a client certificate
# asked for as corvusd does. Sets PID_NGINX; the caller stops it.
NGPORT="" NGTLSPORT="" PID_NGINX=""
start_nginx() {  # [cert.pem key.pem]
  local cert=${1:-} key=${2:-} tls_server="" sendfile=on size
  local d="$WORK/nginx"
  free_port NGPORT
  mkdir -p "$d/www" "$d/tmp"
  # A 1024-byte JSON document.
  { printf '{"Name":"static","Payload":"'; head -c 994 /dev/zero | tr '\0' 'x'; printf '"}'; } >"$d/www/doc1k.json"
  if [[ -n $cert ]]; then
    # sendfile cannot carry TLS (no kernel TLS here): without it on both
    # servers, they serve the file the same way and TLS is the one difference.
    sendfile=off
    free_port NGTLSPORT
    cp "$cert" "$d/cert.pem"
    cp "$key" "$d/key.pem"
    tls_server="server {
    listen 127.0.0.1:$NGTLSPORT ssl;
    root $d/www;
    ssl_certificate $d/cert.pem;
    ssl_certificate_key $d/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384;
    ssl_verify_client optional_no_ca;
  }"
  fi
  chmod -R a+rX "$d"
  chmod a+x "$WORK"  # the worker runs as nobody
  local user_line=""
  [[ $(id -u) -eq 0 ]] && user_line="user nobody nogroup;"
  cat >"$d/nginx.conf" <<EOF
$user_line
worker_processes ${NGINX_WORKERS:-1};
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  types { application/json json; }
  default_type application/octet-stream;
  sendfile $sendfile;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$NGPORT;
    root $d/www;
  }
  $tls_server
}
EOF
  log "nginx: ${NGINX_WORKERS:-1} worker(s) on port $NGPORT${NGTLSPORT:+, HTTPS on $NGTLSPORT}"
  nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf" >"$d/stdout.log" 2>&1 &
  # shellcheck disable=SC2034  # for the caller, which stops it
  PID_NGINX=$!
  wait_http "http://127.0.0.1:$NGPORT/doc1k.json" 15 || { cat "$d/error.log" >&2; return 1; }
  size=$(curl -s "http://127.0.0.1:$NGPORT/doc1k.json" | wc -c)
  [[ $size -eq 1024 ]] || { log "nginx serves $size bytes, expected 1024"; return 1; }
  if [[ -n $NGTLSPORT ]]; then
    size=$(curl -sk "https://127.0.0.1:$NGTLSPORT/doc1k.json" | wc -c)
    [[ $size -eq 1024 ]] || { log "nginx serves $size bytes over HTTPS, expected 1024"; return 1; }
  fi
}

start_pg() {
  free_port PGPORT
  mkdir -p "$WORK/pg/sock"
  [[ ${#PGRUN[@]} -gt 0 ]] && chown -R postgres: "$WORK/pg"
  log "PostgreSQL: initdb in $WORK/pg/data, port $PGPORT"
  (cd "$WORK/pg" && timeout 120 "${PGRUN[@]}" "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres -A trust -E UTF8 \
    --no-instructions >"$WORK/pg/initdb.log" 2>&1) || { tail "$WORK/pg/initdb.log" >&2; return 1; }
  cat >>"$WORK/pg/data/postgresql.conf" <<EOF
# corvus bench
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$WORK/pg/sock'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
EOF
  PG_STARTED=1
  (cd "$WORK/pg" && timeout 90 "${PGRUN[@]}" "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w -t 60 start \
    >/dev/null 2>&1) || { tail "$WORK/pg/server.log" >&2; return 1; }
  timeout 30 "${PGRUN[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres bench || return 1
}

stop_pg() {
  [[ $PG_STARTED -eq 1 ]] || return 0
  PG_STARTED=0
  timeout 30 "${PGRUN[@]}" "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop >/dev/null 2>&1
  local pgpid
  pgpid=$(head -1 "$WORK/pg/data/postmaster.pid" 2>/dev/null)
  [[ -n "$pgpid" ]] && stop_pid "$pgpid" 5
  return 0
}

PG_CONN() { echo "host=127.0.0.1 port=$PGPORT dbname=bench user=postgres"; }

psql_bench() {  # psql arguments (-c SQL ...)
  timeout "${PSQL_TIMEOUT:-600}" "${PGRUN[@]}" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" \
    -U postgres -d bench "$@"
}
