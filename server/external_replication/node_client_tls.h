#pragma once
// The TLS client context a node dials other clusters with: its own
// certificate and key (--certificate: PEM or PKCS#12), so the other side can
// judge it as a client certificate (external replication: the destination
// lets it write only with ReadWrite or Admin access to its database). The
// other side's certificate is pinned by HubConnector against what its
// /info/remote-task/tcp advertises, not checked against a CA.
//
// Built once by ServerStore::open; the context is shared and immutable after.

#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "storage/status.h"

namespace corvus::server::external_replication {

// InvalidArgument naming what is wrong with the file.
Result<std::shared_ptr<SSL_CTX>> node_client_tls_context(const std::string& certificate_path,
                                                         const std::string& password);

}  // namespace corvus::server::external_replication
