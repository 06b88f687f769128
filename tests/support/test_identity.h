#pragma once
// A client identity for TLS tests: a self-signed certificate made by the test
// (TestCertificate), written as PEM files a TlsClient presents, with the
// thumbprint the server knows it by. Header-only; no shared state.

#include <cstdint>
#include <string>

#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"

namespace corvus::testing {

struct TestIdentity {
  std::string cert_file;
  std::string key_file;
  std::string pem;         // the certificate
  std::string thumbprint;  // SHA-1, upper-case hex
  std::string der_base64;  // what the certificate APIs take
};

// Valid from `not_before` to `not_after` seconds from now (an hour ago to a day on).
inline TestIdentity make_test_identity(const TempDir& dir, const std::string& name, int64_t not_before = -3600,
                                       int64_t not_after = 86400) {
  TestCertificate::Options o;
  o.common_name = name;
  o.subject_alt_names = "";
  o.not_before_offset = not_before;
  o.not_after_offset = not_after;
  TestCertificate c(o);
  TestIdentity id{dir.sub(name + ".crt"), dir.sub(name + ".key"), c.certificate_pem(), c.thumbprint(), c.der_base64()};
  c.write_certificate_pem(id.cert_file);
  c.write_private_key_pem(id.key_file);
  return id;
}

}  // namespace corvus::testing
