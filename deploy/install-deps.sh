#!/usr/bin/env bash
# Installs what building, running and testing Corvus needs on Debian 12.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-all-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev librocksdb-dev libsimdjson-dev doctest-dev
  libmozjs-102-dev  # SpiderMonkey: patch scripts (server/scripting)
  curl ca-certificates python3 iproute2
  docker-compose  # validates docker-compose.yml (no Docker engine is needed or used)
)
# The compatibility tests drive the server with the official npm client.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
