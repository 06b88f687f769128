#include "server/external_replication/node_client_tls.h"

#include <openssl/err.h>

#include "server/http/tls_context.h"

namespace corvus::server::external_replication {

Result<std::shared_ptr<SSL_CTX>> node_client_tls_context(const std::string& certificate_path,
                                                         const std::string& password) {
  // The server context's loader reads every format --certificate takes (PEM
  // or PKCS#12, with its password) and says what is wrong; its certificate,
  // key and chain are then presented on the client side too.
  auto server = http::make_server_tls_context(certificate_path, password);
  if (!server.ok()) return server.status();
  SSL_CTX* from = server.value()->native_handle();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  STACK_OF(X509)* chain = nullptr;
  bool ok = ctx && SSL_CTX_use_certificate(ctx.get(), SSL_CTX_get0_certificate(from)) == 1 &&
            SSL_CTX_use_PrivateKey(ctx.get(), SSL_CTX_get0_privatekey(from)) == 1 &&
            SSL_CTX_get0_chain_certs(from, &chain) == 1;
  for (int i = 0; ok && chain && i < sk_X509_num(chain); ++i) ok = SSL_CTX_add1_chain_cert(ctx.get(), sk_X509_value(chain, i)) == 1;
  if (!ok) {
    ERR_clear_error();
    return Status::InvalidArgument("cannot use " + certificate_path + " as a TLS client certificate");
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

}  // namespace corvus::server::external_replication
