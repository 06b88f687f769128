#!/usr/bin/env bash
# bench/tls_bench.sh: what TLS costs corvusd's HTTP port. Two corvusd on the same
# disk, one plain HTTP and one HTTPS (--certificate, made here with the openssl
# CLI), loaded in turn (interleaved, repeated, medians) by corvus-http-load:
#
#   get        GET /databases/bench/docs?id=<random preloaded id>, keep-alive
#   put        PUT /databases/bench/docs?id=<fresh id>, 1 KB JSON, durable, keep-alive
#   handshake  GET /build/version with "Connection: close": a new connection per
#              request, so over HTTPS every request is a full TLS handshake
#              (no session resumption)
#   nginx-get  the peer: nginx (as many workers as corvusd has I/O threads,
#              plain and HTTPS on the same certificate, no sendfile) serving,
#              as a static file, the very bytes corvusd answers a get with,
#              at the same clients
#
# Reports req/s both ways and the TLS/plain ratio (target for get and put at 64
# clients: TLS keeps >= 0.75x, i.e. costs at most 25%), handshakes per second,
# and nginx's own HTTPS/plain ratio beside corvusd's: what TLS costs a
# keep-alive GET on this machine with its OpenSSL and this load generator.
# Not a test: it never fails on a missed target (exit status 0 unless something
# could not run at all). All servers listen on 127.0.0.1 only, live in one temp
# directory, and are stopped and removed on exit. See bench/README.md.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=tls_bench.sh BENCH_LOG_TAG=tls
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

SECS=5
REPEAT=3
WARMUP=1
CLIENTS=64
HANDSHAKE_CLIENTS=16
IO_THREADS=1
IDS=1000
KEY_TYPE=ec
BUILD_DIR="$REPO/build/release"
CORVUSD=""
TMP_BASE="$REPO/build"
KEEP_TMP=0
NGINX=1
NGINX_WORKERS=$(nproc)  # as many as corvusd's I/O threads (--threads 0: one per hardware thread)
ONLY=corvus DO_INSTALL=1  # lib.sh's install_packages(): nginx, unless --no-nginx

usage() {
  cat <<USAGE
usage: bench/tls_bench.sh [options]
  --seconds S            measured seconds per run (default $SECS)
  --warmup S             unmeasured warm-up seconds before each run (default $WARMUP)
  --repeat K             repeat the whole set K times and report medians (default $REPEAT)
  --clients N            keep-alive clients for get and put (default $CLIENTS)
  --handshake-clients N  clients for the new-connection-per-request run (default $HANDSHAKE_CLIENTS)
  --io-threads T         load generator io threads (default $IO_THREADS)
  --key-type ec|rsa      server key: P-256 ECDSA or RSA 2048 (default $KEY_TYPE)
  --build-dir D          build tree (default build/release)
  --corvusd PATH         corvusd binary (default <build-dir>/server/corvusd)
  --tmp-dir D            where the temp directory goes (default build/); the disk measured
  --keep-tmp             keep the temp directory (logs, data) for inspection
  --no-nginx             skip the nginx peer
  --nginx-workers N      nginx worker processes (default $NGINX_WORKERS, corvusd's I/O threads)
  --no-install           do not apt-get install nginx when it is missing
USAGE
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --handshake-clients) HANDSHAKE_CLIENTS="$2"; shift 2 ;;
    --io-threads) IO_THREADS="$2"; shift 2 ;;
    --key-type) KEY_TYPE="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --corvusd) CORVUSD="$2"; shift 2 ;;
    --tmp-dir) TMP_BASE="$2"; shift 2 ;;
    --keep-tmp) KEEP_TMP=1; shift ;;
    --no-nginx) NGINX=0; shift ;;
    --nginx-workers) NGINX_WORKERS="$2"; shift 2 ;;
    --no-install) DO_INSTALL=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "tls_bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -n "$CORVUSD" ]] || CORVUSD="$BUILD_DIR/server/corvusd"
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || bad_int --seconds 1
[[ $WARMUP =~ ^[0-9]+$ ]] || bad_int --warmup 0
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -ge 1 ]] || bad_int --repeat 1
[[ $CLIENTS =~ ^[0-9]+$ && $CLIENTS -ge 1 ]] || bad_int --clients 1
[[ $HANDSHAKE_CLIENTS =~ ^[0-9]+$ && $HANDSHAKE_CLIENTS -ge 1 ]] || bad_int --handshake-clients 1
[[ $IO_THREADS =~ ^[0-9]+$ && $IO_THREADS -ge 1 ]] || bad_int --io-threads 1
[[ $NGINX_WORKERS =~ ^[0-9]+$ && $NGINX_WORKERS -ge 1 ]] || bad_int --nginx-workers 1
[[ $KEY_TYPE == ec || $KEY_TYPE == rsa ]] || { echo "tls_bench.sh: --key-type must be ec or rsa" >&2; exit 2; }
for tool in curl ss openssl; do command -v "$tool" >/dev/null || die "$tool is required"; done
if [[ $NGINX -eq 1 ]] && ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then install_packages nginx-light; fi
export PATH="$PATH:/usr/sbin"  # where Debian puts nginx

LOAD="$BUILD_DIR/bench/corvus-http-load"
[[ -x $LOAD ]] || die "$LOAD missing: cmake --build --preset release --target corvus-http-load"
[[ -x $CORVUSD ]] || die "$CORVUSD missing: cmake --build --preset release --target corvusd"

mkdir -p "$TMP_BASE"
WORK=$(mktemp -d "$TMP_BASE/tls-bench.XXXXXX")
PIDS=()
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ $KEEP_TMP -eq 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
check_disk "$WORK"

if [[ $KEY_TYPE == ec ]]; then keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); else keyopt=(-newkey rsa:2048); fi
openssl req -x509 "${keyopt[@]}" -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null ||
  die "openssl could not make the server certificate"
cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/server.pem"
# A secured corvusd authorizes every request by the client certificate: the
# load client and curl present the server's own one (ClusterAdmin), so the
# TLS numbers include the authorization check.
CLIENT_CERT=(--cert "$WORK/server.pem" --key "$WORK/key.pem")

free_port PLAIN_PORT
free_port TLS_PORT
CORVUSD_BUILT=$(date -r "$CORVUSD" '+%Y-%m-%d %H:%M:%S')
start_node() {  # name url [args...]
  local name=$1 url=$2
  shift 2
  "$CORVUSD" --server-url "$url" --data-dir "$WORK/$name" --cluster-port 0 --log-level warn "$@" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}
start_node plain "http://127.0.0.1:$PLAIN_PORT"
start_node tls "https://127.0.0.1:$TLS_PORT" --certificate "$WORK/server.pem"
for side in plain tls; do
  if [[ $side == plain ]]; then url="http://127.0.0.1:$PLAIN_PORT"; else url="https://127.0.0.1:$TLS_PORT"; fi
  for _ in $(seq 300); do curl -sk -o /dev/null --max-time 1 "$url/healthz" && break; sleep 0.1; done
  code=$(curl -sk "${CLIENT_CERT[@]}" -o /dev/null -w '%{http_code}' --max-time 10 -X PUT "$url/admin/databases?name=bench" \
    -H 'Content-Type: application/json' --data-binary '{"DatabaseName":"bench"}')
  [[ $code == 2* ]] || die "$side: PUT /admin/databases?name=bench: HTTP $code ($(tail -3 "$WORK/$side.log"))"
done
"$LOAD" --port "$PLAIN_PORT" --mode preload --ids "$IDS" --clients 16 >/dev/null || die "preload (plain) failed"
"$LOAD" --port "$TLS_PORT" --tls 1 "${CLIENT_CERT[@]}" --mode preload --ids "$IDS" --clients 16 >/dev/null || die "preload (tls) failed"
log "plain corvusd on :$PLAIN_PORT, TLS corvusd ($KEY_TYPE key) on :$TLS_PORT; temp dir $WORK ($FSTYPE on $FSDEV)"
RUNS="get put handshake"
if [[ $NGINX -eq 1 ]]; then
  if ! start_nginx "$WORK/cert.pem" "$WORK/key.pem"; then
    [[ -n $PID_NGINX ]] && PIDS+=("$PID_NGINX")
    die "nginx did not start ($(tail -3 "$WORK/nginx/error.log" 2>/dev/null))"
  fi
  PIDS+=("$PID_NGINX")
  # What corvusd answers a get with (the load generator's first preloaded id), byte for byte.
  curl -sf --max-time 10 -o "$WORK/nginx/www/get.json" "http://127.0.0.1:$PLAIN_PORT/databases/bench/docs?id=bench%2Fg-0" ||
    die "could not read bench/g-0 from the plain corvusd"
  chmod a+r "$WORK/nginx/www/get.json"
  RUNS="$RUNS nginx-get"
fi

RESULTS="$WORK/results.txt"  # run side rep rps p50 p99 errors
: >"$RESULTS"
run_load() {  # run side rep
  local run=$1 side=$2 rep=$3 line err="$WORK/load-$1-$2-$3.err" args=()
  if [[ $run == nginx-get ]]; then
    if [[ $side == plain ]]; then args+=(--port "$NGPORT"); else args+=(--port "$NGTLSPORT" --tls 1 "${CLIENT_CERT[@]}"); fi
  elif [[ $side == plain ]]; then
    args+=(--port "$PLAIN_PORT")
  else
    args+=(--port "$TLS_PORT" --tls 1 "${CLIENT_CERT[@]}")
  fi
  case "$run" in
    get) args+=(--mode get --ids "$IDS" --clients "$CLIENTS") ;;
    nginx-get) args+=(--mode static --path /get.json --clients "$CLIENTS") ;;
    put) args+=(--mode put --tag "r${rep}${side}-" --clients "$CLIENTS") ;;
    handshake) args+=(--mode static --path /build/version --connection-close 1 --clients "$HANDSHAKE_CLIENTS") ;;
  esac
  if ! line=$(timeout $((SECS + WARMUP + 60)) "$LOAD" "${args[@]}" --seconds "$SECS" --warmup "$WARMUP" \
    --threads "$IO_THREADS" --timeout 10 2>"$err"); then
    log "  $run $side: load generator failed: $(tail -2 "$err")"
    return 0
  fi
  log "  $run $side: $line"
  [[ -s $err ]] && log "  $run $side: $(head -c 400 "$err")"
  awk -v run="$run" -v side="$side" -v r="$rep" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); m[a[1]] = a[2] }
      print run, side, r, m["rps"], m["p50_us"], m["p99_us"], m["errors"] }' <<<"$line" >>"$RESULTS"
}

log "${SECS}s per run after ${WARMUP}s warm-up; $CLIENTS clients (handshakes: $HANDSHAKE_CLIENTS); repeat $REPEAT"
for ((rep = 1; rep <= REPEAT; rep++)); do
  log "=== repetition $rep/$REPEAT"
  for run in $RUNS; do
    # Alternate which side goes first, so a drift in the machine's load hits both.
    if ((rep % 2)); then sides="plain tls"; else sides="tls plain"; fi
    for side in $sides; do run_load "$run" "$side" "$rep"; done
  done
done

MEDIANS="$WORK/medians.txt"  # run side rps p50 p99 errors
awk "$AWK_MEDIAN"'
  { k = $1 " " $2; if (!(k in n)) order[++nk] = k
    n[k]++; err[k] += $7; rps[k] = rps[k] " " $4; p50[k] = p50[k] " " $5; p99[k] = p99[k] " " $6 }
  END { for (i = 1; i <= nk; i++) { k = order[i]
          printf "%s %.1f %.0f %.0f %d\n", k, median(rps[k]), median(p50[k]), median(p99[k]), err[k] } }
' "$RESULTS" >"$MEDIANS"

echo
echo "TLS benchmark: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $(uname -r), disk $FSDEV ($FSTYPE)"
echo "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); corvusd $CORVUSD (built $CORVUSD_BUILT);" \
  "$(openssl version | cut -d' ' -f1-2); server key $KEY_TYPE; ${SECS}s per run after ${WARMUP}s warm-up;" \
  "medians of $REPEAT repetitions; closed loop; load generator io threads: $IO_THREADS"
printf '\n%-10s %7s | %-27s | %-27s | %s\n' "" "" "plain HTTP" "HTTPS" ""
printf '%-10s %7s | %9s %7s %8s  | %9s %7s %8s  | %s\n' run clients req/s p50_us p99_us req/s p50_us p99_us "TLS/plain"
for run in $RUNS; do
  c=$CLIENTS; [[ $run == handshake ]] && c=$HANDSHAKE_CLIENTS
  awk -v run="$run" -v c="$c" -v target="$([[ $run == get || $run == put ]] && [[ $CLIENTS == 64 ]] && echo 0.75)" '
    $1 == run && $2 == "plain" { p = $3; pl = sprintf("%9.0f %7d %8d%s", $3, $4, $5, ($6 > 0 ? "*" : " ")) }
    $1 == run && $2 == "tls"   { t = $3; tl = sprintf("%9.0f %7d %8d%s", $3, $4, $5, ($6 > 0 ? "*" : " ")) }
    END { if (pl == "") pl = sprintf("%-27s", "not run"); if (tl == "") tl = sprintf("%-27s", "not run")
          r = (p > 0 && t > 0) ? sprintf("%.2fx", t / p) : "n/a"
          if (target != "" && p > 0 && t > 0) r = r sprintf("  target >= %.2fx %s", target, (t / p >= target ? "PASS" : "MISS"))
          printf "%-10s %7d | %s | %s | %s\n", run, c, pl, tl, r }' "$MEDIANS"
done
if awk '$6 > 0 { f = 1 } END { exit !f }' "$MEDIANS"; then echo "(* = some runs behind this cell had errors; see the log above)"; fi
echo "handshake over HTTPS: req/s = full TLS handshakes per second (each request a new connection)"
if [[ $NGINX -eq 1 ]]; then
  # Each repetition's plain and HTTPS runs follow each other, so their ratio
  # sees one moment of the machine; the medians above mix moments.
  for run in get nginx-get; do
    awk -v run="$run" -v n="$REPEAT" '$1 == run { rps[$2 " " $3] = $4 }
      END { for (i = 1; i <= n; i++) { p = rps["plain " i]; t = rps["tls " i]
              line = line sprintf(" %s", (p > 0 && t > 0) ? sprintf("%.2f", t / p) : "n/a") }
            printf "HTTPS/plain by repetition, %-9s:%s\n", run, line }' "$RESULTS"
  done
  awk '$1 == "get" && $2 == "plain" { gp = $3 } $1 == "get" && $2 == "tls" { gt = $3 }
       $1 == "nginx-get" && $2 == "plain" { np = $3 } $1 == "nginx-get" && $2 == "tls" { nt = $3 }
       END { if (gp > 0 && gt > 0 && np > 0 && nt > 0)
               printf "get: corvusd keeps %.2fx of its plain throughput over HTTPS, nginx %.2fx of its own (medians)\n", gt / gp, nt / np }' "$MEDIANS"
  echo "nginx-get: nginx $(nginx -v 2>&1 | sed 's/.*: //'), $NGINX_WORKERS worker(s), serving corvusd's get answer ($(wc -c <"$WORK/nginx/www/get.json") bytes) as a static file"
fi
