#include "server/security/certificate_generator.h"

#include "server/security/self_signed.h"

#include <openssl/evp.h>
#include <openssl/pkcs12.h>

#include <array>
#include <cstdint>
#include <memory>

namespace corvus::server::security {

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(PKCS12* p) const { PKCS12_free(p); }
};

std::uint32_t crc32(std::string_view bytes) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void le16(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
}
void le32(std::string& out, std::uint32_t v) {
  le16(out, v & 0xFFFF);
  le16(out, v >> 16);
}

}  // namespace

std::string make_zip(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out, central;
  for (const auto& [name, data] : files) {
    const std::uint32_t offset = static_cast<std::uint32_t>(out.size());
    const std::uint32_t crc = crc32(data);
    const auto size = static_cast<std::uint32_t>(data.size());
    // Local file header: version 2.0, no flags, stored, no time.
    le32(out, 0x04034b50);
    le16(out, 20);
    le16(out, 0);
    le16(out, 0);
    le16(out, 0);
    le16(out, 0x21);  // 1980-01-01
    le32(out, crc);
    le32(out, size);
    le32(out, size);
    le16(out, static_cast<std::uint32_t>(name.size()));
    le16(out, 0);
    out += name;
    out += data;
    // Its central directory entry.
    le32(central, 0x02014b50);
    le16(central, 20);
    le16(central, 20);
    le16(central, 0);
    le16(central, 0);
    le16(central, 0);
    le16(central, 0x21);
    le32(central, crc);
    le32(central, size);
    le32(central, size);
    le16(central, static_cast<std::uint32_t>(name.size()));
    le16(central, 0);
    le16(central, 0);
    le16(central, 0);
    le16(central, 0);
    le32(central, 0);
    le32(central, offset);
    central += name;
  }
  const auto central_offset = static_cast<std::uint32_t>(out.size());
  out += central;
  le32(out, 0x06054b50);
  le16(out, 0);
  le16(out, 0);
  le16(out, static_cast<std::uint32_t>(files.size()));
  le16(out, static_cast<std::uint32_t>(files.size()));
  le32(out, static_cast<std::uint32_t>(central.size()));
  le32(out, central_offset);
  le16(out, 0);
  return out;
}

Result<GeneratedCertificate> generate_client_certificate(std::string_view name, std::string_view password,
                                                         int valid_days) {
  if (name.empty() || name.find_first_of("/\\\0", 0, 3) != std::string_view::npos || name.size() > 200) {
    return Status::InvalidArgument("a certificate name must be 1-200 characters without '/' or '\\'");
  }
  const std::string cn(name);
  std::unique_ptr<EVP_PKEY, Free> key(EVP_RSA_gen(2048));
  if (!key) return Status::Internal("cannot generate an RSA key");
  auto cert = sign_self_signed(key.get(), cn, {}, valid_days);
  if (!cert.ok()) return cert.status();
  GeneratedCertificate out;
  out.certificate_pem = certificate_pem(cert->get());
  const std::string key_pem = private_key_pem(key.get());
  if (out.certificate_pem.empty() || key_pem.empty()) return Status::Internal("cannot write the certificate as PEM");
  const std::string pass(password);
  std::unique_ptr<PKCS12, Free> p12(
      PKCS12_create(pass.c_str(), cn.c_str(), key.get(), cert->get(), nullptr, 0, 0, 0, 0, 0));
  if (!p12) return Status::Internal("cannot build the PKCS#12 bundle");
  unsigned char* der = nullptr;
  const int len = i2d_PKCS12(p12.get(), &der);
  if (len <= 0) return Status::Internal("cannot encode the PKCS#12 bundle");
  std::string pfx(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  out.zip = make_zip({{cn + ".crt", out.certificate_pem}, {cn + ".key", key_pem}, {cn + ".pfx", pfx}});
  return out;
}

}  // namespace corvus::server::security
