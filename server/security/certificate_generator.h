#pragma once
// generate_client_certificate(): what CreateClientCertificateOperation
// (POST /admin/certificates) hands back: a new RSA 2048 key and a
// certificate over it ("CN=<name>", valid from an hour ago for `valid_days`),
// packed as RavenDB does into a zip of <name>.crt (PEM certificate),
// <name>.key (PEM private key) and <name>.pfx (PKCS#12, protected by
// `password`, empty for none).
//
// The certificate is self-signed: corvusd trusts a client certificate by its
// registration (thumbprint or public key hash), not by its issuer, so no CA
// is needed. Pure function (OpenSSL); thread-safe.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/status.h"

namespace corvus::server::security {

struct GeneratedCertificate {
  std::string certificate_pem;
  std::string zip;  // the client's download: .crt, .key, .pfx
};

// InvalidArgument for a name that cannot be a file name; Internal when
// OpenSSL fails.
Result<GeneratedCertificate> generate_client_certificate(std::string_view name, std::string_view password,
                                                         int valid_days);

// A zip archive (stored, not compressed) of `files` (name, bytes), for tests
// and the generator.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace corvus::server::security
