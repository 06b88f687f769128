#include "server/external_replication/node_client_tls.h"

#include <cstring>

#include <openssl/err.h>

namespace corvus::server::external_replication {

namespace {

int password_callback(char* buf, int size, int, void* userdata) {
  const auto* password = static_cast<const std::string*>(userdata);
  if (!password || size <= 0) return 0;
  const int n = static_cast<int>(std::min<size_t>(password->size(), static_cast<size_t>(size)));
  std::memcpy(buf, password->data(), static_cast<size_t>(n));
  return n;
}

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  ERR_clear_error();
  return text;
}

}  // namespace

Result<std::shared_ptr<SSL_CTX>> node_client_tls_context(const std::string& pem_path, const std::string& password) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  if (!ctx) return Status::InvalidArgument("cannot create a TLS client context: " + openssl_error());
  SSL_CTX_set_default_passwd_cb(ctx.get(), &password_callback);
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), const_cast<std::string*>(&password));
  const bool ok = SSL_CTX_use_certificate_chain_file(ctx.get(), pem_path.c_str()) == 1 &&
                  SSL_CTX_use_PrivateKey_file(ctx.get(), pem_path.c_str(), SSL_FILETYPE_PEM) == 1 &&
                  SSL_CTX_check_private_key(ctx.get()) == 1;
  // The password is only needed while loading; it does not outlive this call.
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), nullptr);
  if (!ok) return Status::InvalidArgument("cannot use " + pem_path + " as a TLS client certificate: " + openssl_error());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

}  // namespace corvus::server::external_replication
