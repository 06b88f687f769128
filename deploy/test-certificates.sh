#!/usr/bin/env bash
# deploy/test-certificates.sh DIR: makes, with the openssl CLI, a throw-away CA
# and certificates signed by it for a corvusd on localhost / 127.0.0.1:
#   DIR/ca.pem                    the CA certificate (clients trust it)
#   DIR/server.pem, server.pfx    the server certificate and key (PEM; PKCS#12 without password)
#   DIR/client.pem                a client certificate with its RSA key (PKCS#1, what the
#                                 npm client's "pem" authOptions parse)
# then prints the environment the official client suite's https tests read.
# For tests and local trials only: the keys are not protected.
set -euo pipefail
DIR=${1:?usage: deploy/test-certificates.sh DIR}
mkdir -p "$DIR"
cd "$DIR"
days=30
openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=Corvus test CA" \
  -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
  -extfile server.ext -out server.crt 2>/dev/null
cat server.crt server.key >server.pem
openssl pkcs12 -export -in server.crt -inkey server.key -certfile ca.pem -passout pass: -out server.pfx
openssl genrsa -traditional -out client.key 2048 2>/dev/null
openssl req -new -key client.key -subj "/CN=corvus-test-client" -out client.csr 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
  -extfile client.ext -out client.crt 2>/dev/null
cat client.crt client.key >client.pem
rm -f server.csr client.csr server.ext client.ext ca.srl
abs=$(pwd)
cat <<ENV
export RAVENDB_TEST_SERVER_CERTIFICATE_PATH=$abs/server.pfx
export RAVENDB_TEST_HTTPS_SERVER_URL=https://localhost:0
export RAVENDB_TEST_CLIENT_CERT_PATH=$abs/client.pem
export RAVENDB_TEST_CA_PATH=$abs/ca.pem
export CORVUS_ADMIN_CERTIFICATE_THUMBPRINT=$(openssl x509 -in client.crt -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
ENV
