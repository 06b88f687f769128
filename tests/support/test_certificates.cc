// TestCertificate: see test_certificates.h.

#include "tests/support/test_certificates.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace corvus::testing {

namespace {

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("TestCertificate: ") + what + " failed");
}

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  check(static_cast<bool>(out), "writing the file");
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "making an extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

}  // namespace

TestCertificate::TestCertificate(const Options& o, const TestCertificate* issuer) {
  // P-256 keys: fast to make, as OpenSSL-compatible as RSA for these tests.
  key_ = EVP_EC_gen("P-256");
  check(key_ != nullptr, "EVP_EC_gen");
  cert_ = X509_new();
  check(cert_ != nullptr, "X509_new");
  X509_set_version(cert_, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert_), o.serial);
  X509_gmtime_adj(X509_getm_notBefore(cert_), static_cast<long>(o.not_before_offset));
  X509_gmtime_adj(X509_getm_notAfter(cert_), static_cast<long>(o.not_after_offset));
  X509_set_pubkey(cert_, key_);
  X509_NAME* name = X509_get_subject_name(cert_);
  if (!o.organization.empty()) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(o.organization.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(o.common_name.c_str()),
                             -1, -1, 0);
  X509* signer_cert = issuer ? issuer->cert_ : cert_;
  X509_set_issuer_name(cert_, X509_get_subject_name(signer_cert));
  if (!o.subject_alt_names.empty()) add_extension(cert_, signer_cert, NID_subject_alt_name, o.subject_alt_names);
  add_extension(cert_, signer_cert, NID_basic_constraints, issuer ? "CA:FALSE" : "critical,CA:TRUE");
  check(X509_sign(cert_, issuer ? issuer->key_ : key_, EVP_sha256()) > 0, "X509_sign");
}

TestCertificate::~TestCertificate() {
  X509_free(cert_);
  EVP_PKEY_free(key_);
}

std::string TestCertificate::certificate_pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  check(PEM_write_bio_X509(bio.get(), cert_) == 1, "PEM_write_bio_X509");
  return bio_to_string(bio.get());
}

std::string TestCertificate::thumbprint() const {
  unsigned char sha1[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  check(X509_digest(cert_, EVP_sha1(), sha1, &n) == 1, "X509_digest");
  std::string out;
  char hex[3];
  for (unsigned i = 0; i < n; ++i) {
    std::snprintf(hex, sizeof(hex), "%02X", sha1[i]);
    out += hex;
  }
  return out;
}

std::string TestCertificate::der_base64() const {
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert_, &der);
  check(n > 0, "i2d_X509");
  std::string out(4 * ((static_cast<size_t>(n) + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), der, n);
  OPENSSL_free(der);
  out.resize(static_cast<size_t>(written));
  return out;
}

std::string TestCertificate::public_key_hash() const {
  unsigned char* spki = nullptr;
  const int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert_), &spki);
  check(n > 0, "i2d_X509_PUBKEY");
  unsigned char sha256[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const bool ok = EVP_Digest(spki, static_cast<size_t>(n), sha256, &len, EVP_sha256(), nullptr) == 1;
  OPENSSL_free(spki);
  check(ok, "EVP_Digest");
  std::string out(4 * ((len + 2) / 3), '\0');
  out.resize(static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), sha256, static_cast<int>(len))));
  return out;
}

std::string TestCertificate::private_key_pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  check(PEM_write_bio_PrivateKey(bio.get(), key_, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  return bio_to_string(bio.get());
}

void TestCertificate::write_pem(const std::string& path) const {
  write_file(path, certificate_pem() + private_key_pem());
}
void TestCertificate::write_certificate_pem(const std::string& path) const { write_file(path, certificate_pem()); }
void TestCertificate::write_private_key_pem(const std::string& path) const { write_file(path, private_key_pem()); }

void TestCertificate::write_pfx(const std::string& path, const std::string& password,
                                const TestCertificate* chain_ca) const {
  STACK_OF(X509)* chain = nullptr;
  if (chain_ca != nullptr) {
    chain = sk_X509_new_null();
    sk_X509_push(chain, chain_ca->cert_);
  }
  PKCS12* p12 = PKCS12_create(password.c_str(), "corvus-test", key_, cert_, chain, 0, 0, 0, 0, 0);
  if (chain != nullptr) sk_X509_free(chain);  // the certificate itself is still owned by chain_ca
  check(p12 != nullptr, "PKCS12_create");
  unsigned char* der = nullptr;
  int len = i2d_PKCS12(p12, &der);
  PKCS12_free(p12);
  check(len > 0, "i2d_PKCS12");
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  write_file(path, bytes);
}

}  // namespace corvus::testing
