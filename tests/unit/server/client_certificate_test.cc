// describe_certificate() and make_server_tls_context() against certificates
// made in memory with the OpenSSL API (tests/support/test_certificates.h).

#include "server/http/client_certificate.h"
#include "server/http/tls_context.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <ctime>
#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"

using namespace corvus;
using namespace corvus::server::http;
using corvus::testing::TempDir;
using corvus::testing::TestCertificate;

namespace {

std::string hex_upper(const unsigned char* p, size_t n) {
  std::string out;
  char buf[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof(buf), "%02X", p[i]);
    out += buf;
  }
  return out;
}

std::string base64(const unsigned char* p, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

}  // namespace

TEST_CASE("describe_certificate: thumbprint, key hash, subject, validity, PEM") {
  TestCertificate::Options o;
  o.common_name = "alice";
  o.organization = "Acme";
  o.not_before_offset = -10 * 86400;
  o.not_after_offset = 30 * 86400;
  TestCertificate cert(o);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));

  ClientCertificate c = describe_certificate(cert.x509());

  // Thumbprint: SHA-1 of the whole DER certificate, upper-case hex (40 digits).
  unsigned char* der = nullptr;
  int der_len = i2d_X509(cert.x509(), &der);
  REQUIRE(der_len > 0);
  unsigned char sha1[SHA_DIGEST_LENGTH];
  SHA1(der, static_cast<size_t>(der_len), sha1);
  OPENSSL_free(der);
  CHECK(c.thumbprint == hex_upper(sha1, sizeof(sha1)));
  CHECK(c.thumbprint.size() == 40);

  // Key hash: SHA-256 of the DER SubjectPublicKeyInfo of the key, base64,
  // computed here from the key rather than from the certificate.
  unsigned char* spki = nullptr;
  int spki_len = i2d_PUBKEY(cert.key(), &spki);
  REQUIRE(spki_len > 0);
  unsigned char sha256[SHA256_DIGEST_LENGTH];
  SHA256(spki, static_cast<size_t>(spki_len), sha256);
  OPENSSL_free(spki);
  CHECK(c.public_key_hash == base64(sha256, sizeof(sha256)));
  CHECK(c.public_key_hash.size() == 44);

  CHECK(c.subject == "CN=alice,O=Acme");
  // X509_gmtime_adj offsets from "now" as it ran; allow a minute of slack.
  CHECK(c.not_before_unix >= now - 10 * 86400 - 60);
  CHECK(c.not_before_unix <= now - 10 * 86400 + 60);
  CHECK(c.not_after_unix >= now + 30 * 86400 - 60);
  CHECK(c.not_after_unix <= now + 30 * 86400 + 60);
  CHECK(c.pem == cert.certificate_pem());
}

TEST_CASE("describe_certificate: an expired certificate keeps its dates; two keys differ") {
  TestCertificate::Options o;
  o.not_before_offset = -20 * 86400;
  o.not_after_offset = -86400;
  TestCertificate expired(o);
  TestCertificate other(TestCertificate::Options{});
  ClientCertificate a = describe_certificate(expired.x509());
  ClientCertificate b = describe_certificate(other.x509());
  CHECK(a.not_after_unix < static_cast<int64_t>(std::time(nullptr)));
  CHECK(a.not_before_unix < a.not_after_unix);
  CHECK(a.thumbprint != b.thumbprint);
  CHECK(a.public_key_hash != b.public_key_hash);
  CHECK(describe_certificate(nullptr).thumbprint.empty());
}

TEST_CASE("make_server_tls_context: PEM, PKCS#12 with and without password, clear errors") {
  TempDir dir;
  TestCertificate::Options ca_options;
  ca_options.common_name = "test-ca";
  TestCertificate ca(ca_options);
  TestCertificate::Options server_options;
  server_options.common_name = "localhost";
  server_options.serial = 2;
  TestCertificate server(server_options, &ca);

  server.write_pem(dir.sub("server.pem"));
  CHECK(make_server_tls_context(dir.sub("server.pem"), "").ok());

  server.write_pfx(dir.sub("server.pfx"), "", &ca);
  CHECK(make_server_tls_context(dir.sub("server.pfx"), "").ok());

  server.write_pfx(dir.sub("secret.pfx"), "s3cret");
  CHECK(make_server_tls_context(dir.sub("secret.pfx"), "s3cret").ok());
  auto wrong = make_server_tls_context(dir.sub("secret.pfx"), "nope");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().message().find("wrong --certificate-password") != std::string::npos);

  auto missing = make_server_tls_context(dir.sub("absent.pem"), "");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find("cannot read the file") != std::string::npos);

  server.write_certificate_pem(dir.sub("cert-only.pem"));
  auto no_key = make_server_tls_context(dir.sub("cert-only.pem"), "");
  REQUIRE_FALSE(no_key.ok());
  CHECK(no_key.status().message().find("no usable private key") != std::string::npos);

  // Certificate of one key pair, private key of another.
  std::ofstream(dir.sub("mismatch.pem")) << server.certificate_pem() << ca.private_key_pem();
  auto mismatch = make_server_tls_context(dir.sub("mismatch.pem"), "");
  REQUIRE_FALSE(mismatch.ok());
  CHECK(mismatch.status().message().find("does not match") != std::string::npos);

  std::ofstream(dir.sub("junk.bin")) << "not a certificate";
  auto junk = make_server_tls_context(dir.sub("junk.bin"), "");
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.status().message().find("neither PEM nor PKCS#12") != std::string::npos);
}
