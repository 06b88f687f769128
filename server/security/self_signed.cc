#include "server/security/self_signed.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <array>

namespace corvus::server::security {

namespace {

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

bool add_subject_alt_names(X509* cert, const std::vector<std::string>& names) {
  if (names.empty()) return true;
  std::string value;
  for (const auto& n : names) value += (value.empty() ? "" : ",") + n;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, value.c_str());
  if (!ext) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

Result<X509Ptr> sign_self_signed(EVP_PKEY* key, std::string_view common_name,
                                 const std::vector<std::string>& subject_alt_names, int valid_days) {
  X509Ptr cert(X509_new());
  if (!cert) return Status::Internal("cannot create a certificate");
  std::array<unsigned char, 16> serial{};
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1) return Status::Internal("no randomness");
  serial[0] &= 0x7F;  // positive
  BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(valid_days) * 86400);
  X509_set_pubkey(cert.get(), key);
  const std::string cn(common_name);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), subject);
  if (!add_subject_alt_names(cert.get(), subject_alt_names)) {
    return Status::Internal("cannot add the subject alternative names to the certificate");
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) return Status::Internal("cannot sign the certificate");
  return cert;
}

std::string certificate_pem(X509* cert) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return "";
  return bio_text(bio.get());
}

std::string private_key_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) return "";
  return bio_text(bio.get());
}

}  // namespace corvus::server::security
