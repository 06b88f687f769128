// make_server_tls_context(): see tls_context.h.

#include "server/http/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>
#include <sstream>

namespace corvus::server::http {

namespace asio = boost::asio;

namespace {

// The oldest error OpenSSL queued (the root cause), and clear the queue.
std::string openssl_error() {
  unsigned long code = ERR_get_error();
  std::string out;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    out = buf;
  }
  ERR_clear_error();
  return out.empty() ? "unknown OpenSSL error" : out;
}

struct Pkcs12Parts {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* chain = nullptr;
  ~Pkcs12Parts() {
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
  }
};

// Loads OpenSSL's "legacy" provider once for the process (with "default":
// loading one replaces the implicit default). Kept loaded: a provider in use
// by a context must not be unloaded, and the handles stay reachable.
bool load_legacy_provider() {
  static OSSL_PROVIDER* const legacy = OSSL_PROVIDER_load(nullptr, "legacy");
  static OSSL_PROVIDER* const fallback = legacy ? OSSL_PROVIDER_load(nullptr, "default") : nullptr;
  (void)fallback;
  return legacy != nullptr;
}

// PKCS#12 made by older tools (.NET, Windows, OpenSSL 1.x) encrypts with
// RC2/3DES, which OpenSSL 3 keeps in its "legacy" provider.
bool parse_pkcs12(const std::string& bytes, const std::string& password, Pkcs12Parts& out, std::string& error) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    PKCS12* p12 = d2i_PKCS12(nullptr, &p, static_cast<long>(bytes.size()));
    if (p12 == nullptr) {
      error = "neither PEM nor PKCS#12 (" + openssl_error() + ")";
      return false;
    }
    int ok = PKCS12_parse(p12, password.c_str(), &out.key, &out.cert, &out.chain);
    PKCS12_free(p12);
    if (ok == 1) return true;
    error = "cannot open the PKCS#12 file (wrong --certificate-password?): " + openssl_error();
    if (attempt == 0 && !load_legacy_provider()) return false;
  }
  return false;
}

}  // namespace

Result<std::shared_ptr<asio::ssl::context>> make_server_tls_context(const std::string& certificate_path,
                                                                    const std::string& password, bool client_too) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("certificate " + certificate_path + ": " + why);
  };
  std::ifstream in(certificate_path, std::ios::binary);
  if (!in) return bad("cannot read the file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) return bad("the file is empty");

  auto ctx = std::make_shared<asio::ssl::context>(client_too ? asio::ssl::context::tls : asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                   asio::ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();

  if (bytes.find("-----BEGIN") != std::string::npos) {
    if (!password.empty()) {
      ctx->set_password_callback([password](std::size_t, asio::ssl::context::password_purpose) { return password; });
    }
    boost::system::error_code ec;
    ctx->use_certificate_chain(asio::buffer(bytes), ec);
    if (ec) return bad("no usable certificate in the PEM file (" + ec.message() + ")");
    ctx->use_private_key(asio::buffer(bytes), asio::ssl::context::pem, ec);
    if (ec && ec.message().find("mismatch") != std::string::npos) {
      return bad("the private key does not match the certificate");
    }
    if (ec) {
      return bad("no usable private key in the PEM file (" + ec.message() +
                 "; an encrypted key needs --certificate-password)");
    }
  } else {
    Pkcs12Parts parts;
    std::string error;
    if (!parse_pkcs12(bytes, password, parts, error)) return bad(error);
    if (parts.cert == nullptr || parts.key == nullptr) {
      return bad("the PKCS#12 file holds no certificate with its private key");
    }
    if (SSL_CTX_use_certificate(native, parts.cert) != 1) return bad("certificate refused: " + openssl_error());
    if (SSL_CTX_use_PrivateKey(native, parts.key) != 1) {
      return bad("private key refused (does it match the certificate?): " + openssl_error());
    }
    for (int i = 0; parts.chain != nullptr && i < sk_X509_num(parts.chain); ++i) {
      if (SSL_CTX_add1_chain_cert(native, sk_X509_value(parts.chain, i)) != 1) {
        return bad("chain certificate refused: " + openssl_error());
      }
    }
  }
  if (SSL_CTX_check_private_key(native) != 1) return bad("the private key does not match the certificate");

  // AES-128-GCM first (with AES-NI the cheapest per record), the server's order.
  SSL_CTX_set_ciphersuites(native, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384");
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);

  // Ask for a client certificate, accept any or none: the HTTP layer judges it.
  ctx->set_verify_mode(asio::ssl::verify_peer);
  ctx->set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
  // Needed with verify_peer, or OpenSSL refuses to resume sessions.
  static constexpr unsigned char kSessionContext[] = "corvus-http";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  return ctx;
}

}  // namespace corvus::server::http
