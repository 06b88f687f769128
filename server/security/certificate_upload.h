#pragma once
// parse_certificate(): reads a certificate an administrator uploads
// (PutClientCertificateOperation's "Certificate": base64 of the DER, as the
// official clients send it, or PEM text) into the same facts the TLS layer
// records for a presented one (http::ClientCertificate: thumbprint, public
// key hash, subject, validity) plus the base64 DER the registry stores.
// Pure functions of their input (OpenSSL); thread-safe.

#include <string>
#include <string_view>

#include <openssl/x509.h>

#include "server/http/request.h"
#include "storage/status.h"

namespace corvus::server::security {

struct ParsedCertificate {
  http::ClientCertificate info;  // thumbprint, public_key_hash, subject, dates, pem
  std::string der_base64;        // the certificate, base64 DER
};

// InvalidArgument saying what is wrong when `text` is neither a PEM
// certificate nor base64 of a DER certificate (a private key, a PKCS#12 bundle,
// garbage, empty).
Result<ParsedCertificate> parse_certificate(std::string_view text);

// True when `text` is base64 of a PKCS#12 bundle (.pfx) OpenSSL can read
// (what ReplaceClusterCertificateOperation uploads).
bool is_pkcs12(std::string_view text);

// Base64 of `cert`'s DER (what the registry stores, and /info/tcp's Certificate).
std::string der_base64(X509* cert);

// Upper-case hex of SHA-1 over `der` (RavenDB's thumbprint).
std::string thumbprint_of(std::string_view der);

// RavenDB's date form for NotBefore / NotAfter ("2026-12-06T19:00:00.0000000Z").
std::string format_certificate_date(int64_t unix_seconds);

}  // namespace corvus::server::security
