#!/usr/bin/env bash
# deploy/cluster-certificates.sh DIR [HOST...]: makes, with the openssl CLI, the
# certificates of a secured cluster and its edge (deploy/local-cluster.sh,
# docker-compose.yml):
#   DIR/ca.pem                 a throw-away CA (curl --cacert trusts it)
#   DIR/cluster.pem            THE cluster certificate and key, one for every node of
#                              the hub cluster (nodes trust a peer whose certificate has
#                              the same public key: rachis/README.md, "Transport");
#                              names: localhost, 127.0.0.1 and each HOST
#                              (default: corvus-a corvus-b corvus-c)
#   DIR/edge.pem, edge.crt, edge.pfx
#                              the edge's certificate (its own key: the edge is its own
#                              cluster): serves the edge's HTTPS and is what its sink
#                              presents to the hub (PKCS#12 without password)
#   DIR/admin.pem, admin.crt, admin.key
#                              an admin client certificate (--admin-certificate-thumbprint)
#   DIR/admin.thumbprint       its thumbprint (SHA-1, upper-case hex)
# Signed by the CA so that curl can check the servers; the nodes themselves pin
# keys and need no CA. For local trials and tests: the keys are not protected.
# Re-running keeps what exists.
set -euo pipefail
DIR=${1:?usage: deploy/cluster-certificates.sh DIR [HOST...]}
shift
hosts=("$@")
[ ${#hosts[@]} -gt 0 ] || hosts=(corvus-a corvus-b corvus-c)
mkdir -p "$DIR"
cd "$DIR"
days=365
sign() {  # name, subject, extensions
  openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  cat "$1.crt" "$1.key" >"$1.pem"
  rm -f "$1.csr" "$1.ext"
}
if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=Corvus cluster CA" \
    -keyout ca.key -out ca.pem 2>/dev/null
fi
if [ ! -f cluster.pem ]; then
  san="DNS:localhost,IP:127.0.0.1"
  for h in "${hosts[@]}"; do san="$san,DNS:$h"; done
  sign cluster "/CN=corvus-cluster" "subjectAltName=$san
extendedKeyUsage=serverAuth,clientAuth"
fi
if [ ! -f edge.pem ]; then
  sign edge "/CN=corvus-edge" "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:corvus-edge
extendedKeyUsage=serverAuth,clientAuth"
  openssl pkcs12 -export -in edge.crt -inkey edge.key -passout pass: -out edge.pfx
fi
if [ ! -f admin.pem ]; then
  sign admin "/CN=corvus-admin" "extendedKeyUsage=clientAuth"
fi
openssl x509 -in admin.crt -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : >admin.thumbprint
rm -f ca.srl
# Readable by the container user (the keys are throw-away).
chmod 644 ./*.pem ./*.crt ./*.key ./*.pfx admin.thumbprint
echo "certificates in $(pwd): cluster.pem (every hub node), edge.pem, admin.pem (thumbprint $(cat admin.thumbprint)), ca.pem"
