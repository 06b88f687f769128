#pragma once
// make_server_tls_context(): the TLS server context of corvusd's HTTP port,
// from the node's certificate file: PEM (certificate chain and private key in
// one file) or PKCS#12 (.pfx, what RavenDB's --Security.Certificate.Path
// takes), told apart by content. The context asks every client for a
// certificate and accepts any, or none: whether a certificate grants anything
// is the HTTP layer's decision, so a refusal can be explained
// (Request::client_certificate). With `client_too` the context also makes
// client connections (a node dialing another node, server/cluster/node_tls.h).
//
// The context is shared by every TLS connection of the HttpServer (owned
// through shared_ptr by HttpServer::Core); OpenSSL contexts are thread-safe
// once configured, which this function finishes before returning.

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "storage/status.h"

namespace corvus::server::http {

// Errors: InvalidArgument naming the file and what is wrong (unreadable, neither
// PEM nor PKCS#12, wrong password, no private key, key does not match).
Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls_context(const std::string& certificate_path,
                                                                           const std::string& password,
                                                                           bool client_too = false);

}  // namespace corvus::server::http
