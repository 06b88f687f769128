#pragma once
// sign_self_signed(): an X.509 v3 certificate over `key`, issued by itself:
// subject and issuer "CN=<common_name>", a random positive serial, valid
// from an hour ago (clock skew between peers) for `valid_days`, with the
// given subjectAltNames ("DNS:name" or "IP:address") when any, signed with
// SHA-256. Shared by the client certificates the server hands out
// (certificate_generator) and the node's own certificate (node_certificate).
// corvusd trusts certificates by registration or key pin, never by issuer,
// so self-signed is enough for both. Pure function (OpenSSL); thread-safe.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace corvus::server::security {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// Internal when OpenSSL fails.
Result<X509Ptr> sign_self_signed(EVP_PKEY* key, std::string_view common_name,
                                 const std::vector<std::string>& subject_alt_names, int valid_days);

// PEM text of a certificate or of a private key (unencrypted); "" if OpenSSL fails.
std::string certificate_pem(X509* cert);
std::string private_key_pem(EVP_PKEY* key);

}  // namespace corvus::server::security
