#pragma once
// TestCertificate: an X.509 certificate and its private key made in memory
// with the OpenSSL API, for tests of the TLS layer: self-signed or signed by
// another TestCertificate, with chosen subject and validity. Written out as
// PEM (certificate + key in one file, what --certificate takes) or PKCS#12.
// One owner; not thread-safe.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <string>

namespace corvus::testing {

class TestCertificate {
 public:
  struct Options {
    std::string common_name = "corvus-test";
    std::string organization;  // empty: no O= in the subject
    // Validity relative to now, in seconds (negative: in the past).
    int64_t not_before_offset = -3600;
    int64_t not_after_offset = 365 * 24 * 3600;
    // Subject alternative names "DNS:localhost,IP:127.0.0.1" (empty: none).
    std::string subject_alt_names = "DNS:localhost,IP:127.0.0.1";
    long serial = 1;
  };
  // Self-signed when `issuer` is null. Throws std::runtime_error if OpenSSL fails.
  explicit TestCertificate(const Options& options, const TestCertificate* issuer = nullptr);
  ~TestCertificate();
  TestCertificate(const TestCertificate&) = delete;
  TestCertificate& operator=(const TestCertificate&) = delete;

  X509* x509() const { return cert_; }
  EVP_PKEY* key() const { return key_; }
  std::string certificate_pem() const;
  // What RavenDB names a certificate by: the SHA-1 of its DER, upper-case hex.
  std::string thumbprint() const;
  // Its public key pin: base64 SHA-256 of the DER SubjectPublicKeyInfo.
  std::string public_key_hash() const;
  // Its DER, base64 (what the certificate APIs take).
  std::string der_base64() const;
  std::string private_key_pem() const;
  // Writes certificate then key into one PEM file.
  void write_pem(const std::string& path) const;
  void write_certificate_pem(const std::string& path) const;
  void write_private_key_pem(const std::string& path) const;
  // PKCS#12 (.pfx) with the certificate, its key and `chain_ca` if given.
  void write_pfx(const std::string& path, const std::string& password,
                 const TestCertificate* chain_ca = nullptr) const;

 private:
  X509* cert_ = nullptr;
  EVP_PKEY* key_ = nullptr;
};

}  // namespace corvus::testing
