#include "server/security/certificate_upload.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <cctype>
#include <memory>

#include "server/http/client_certificate.h"
#include "storage/clock.h"

namespace corvus::server::security {

namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::string base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

// Strict base64 (whitespace ignored); false on any other character or a bad length.
bool decode_base64(std::string_view text, std::string* out) {
  std::string compact;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && c != '=') return false;
    compact.push_back(c);
  }
  if (compact.empty() || compact.size() % 4 != 0) return false;
  out->assign(compact.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()),
                                reinterpret_cast<const unsigned char*>(compact.data()), static_cast<int>(compact.size()));
  if (n < 0) return false;
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the '=' padding as zero bytes.
  for (size_t i = compact.size(); i > 0 && compact[i - 1] == '='; --i) --len;
  out->resize(len);
  return true;
}

}  // namespace

std::string thumbprint_of(std::string_view der) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(der.data()), der.size(), digest);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

bool is_pkcs12(std::string_view text) {
  std::string der;
  if (!decode_base64(text, &der)) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  PKCS12* p12 = d2i_PKCS12(nullptr, &p, static_cast<long>(der.size()));
  if (p12 == nullptr) return false;
  PKCS12_free(p12);
  return true;
}

std::string format_certificate_date(int64_t unix_seconds) { return storage::format_iso8601(unix_seconds * 1'000'000); }

std::string der_base64(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  if (len <= 0) return {};
  std::string out = base64(der, static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

Result<ParsedCertificate> parse_certificate(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return Status::InvalidArgument("the certificate is empty");
  X509Ptr cert;
  if (text.substr(first).starts_with("-----BEGIN")) {
    if (text.find("-----BEGIN CERTIFICATE-----") == std::string_view::npos) {
      return Status::InvalidArgument(
          "the PEM text holds no certificate (\"-----BEGIN CERTIFICATE-----\"); send the certificate only, never its "
          "private key");
    }
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    cert.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return Status::InvalidArgument("the PEM certificate cannot be read (damaged or not X.509)");
  } else {
    std::string der;
    if (!decode_base64(text, &der)) {
      return Status::InvalidArgument("the certificate is neither PEM nor base64 of a DER-encoded X.509 certificate");
    }
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    cert.reset(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
      return Status::InvalidArgument(
          "the base64 data is not a DER-encoded X.509 certificate (a PKCS#12 bundle or a key is not accepted: export "
          "the certificate alone)");
    }
  }
  ParsedCertificate out;
  unsigned char* der_buf = nullptr;
  const int der_len = i2d_X509(cert.get(), &der_buf);
  if (der_len <= 0) return Status::InvalidArgument("the certificate cannot be encoded as DER");
  const std::string der(reinterpret_cast<char*>(der_buf), static_cast<size_t>(der_len));
  OPENSSL_free(der_buf);
  out.der_base64 = base64(reinterpret_cast<const unsigned char*>(der.data()), der.size());
  // The same facts the TLS layer records for a presented certificate.
  out.info = http::describe_certificate(cert.get());
  if (out.info.public_key_hash.empty()) return Status::InvalidArgument("the certificate's public key cannot be read");
  return out;
}

}  // namespace corvus::server::security
