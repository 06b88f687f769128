// describe_certificate(): see client_certificate.h.

#include "server/http/client_certificate.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <ctime>
#include <memory>
#include <string>

namespace corvus::server::http {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

std::string upper_hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

// Seconds since the epoch; 0 when OpenSSL cannot read the time.
int64_t unix_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

// The pin of HPKP / "Server Key Hash": SHA-256 over the DER SubjectPublicKeyInfo.
std::string spki_sha256_base64(X509* cert) {
  X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert);
  if (spki == nullptr) return "";
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(spki, &der);
  if (len <= 0) return "";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), digest);
  OPENSSL_free(der);
  unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(b64), static_cast<size_t>(n));
}

}  // namespace

ClientCertificate describe_certificate(X509* cert) {
  ClientCertificate c;
  if (cert == nullptr) return c;
  unsigned char sha1[EVP_MAX_MD_SIZE];
  unsigned int sha1_len = 0;
  if (X509_digest(cert, EVP_sha1(), sha1, &sha1_len) == 1) c.thumbprint = upper_hex(sha1, sha1_len);
  c.public_key_hash = spki_sha256_base64(cert);
  if (BioPtr bio(BIO_new(BIO_s_mem())); bio) {
    // RFC 2253 order and escaping: "CN=client,O=Example".
    if (X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
      c.subject = bio_text(bio.get());
    }
  }
  c.not_before_unix = unix_time(X509_get0_notBefore(cert));
  c.not_after_unix = unix_time(X509_get0_notAfter(cert));
  if (BioPtr bio(BIO_new(BIO_s_mem())); bio && PEM_write_bio_X509(bio.get(), cert) == 1) c.pem = bio_text(bio.get());
  return c;
}

}  // namespace corvus::server::http
