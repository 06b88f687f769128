#pragma once
// describe_certificate(): the ClientCertificate (request.h) of an X.509
// certificate: RavenDB's thumbprint, the SPKI pin, subject, validity, PEM.
// The TLS layer calls it once per connection for the certificate the client
// presented. Pure function of the certificate; thread-safe.

#include <openssl/x509.h>

#include "server/http/request.h"

namespace corvus::server::http {

// `cert` is only read. Fields OpenSSL cannot produce (a malformed date, a
// certificate that does not encode) are left empty / 0.
ClientCertificate describe_certificate(X509* cert);

}  // namespace corvus::server::http
