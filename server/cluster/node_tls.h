#pragma once
// NodeTls: a secured node's side of node-to-node TLS (the node has
// --certificate). It holds the TLS context of the node's certificate for both
// roles (the cluster port's listener and dialers, and the HTTP calls to other
// nodes, where it is the client certificate), applies the trust rule to a
// peer node's certificate, and dials a peer's cluster port for database
// replication over TLS.
//
// The trust rule (rachis/README.md, "Transport"; server/README.md): a peer
// node may talk to us when its certificate, valid now, has the same public
// key as ours (one cluster certificate for every node, RavenDB's usual
// set-up), or it is in --admin-certificate-thumbprint or (by its public key
// hash) --admin-certificate-key-hash, or it is
// registered in the cluster's certificate registry (by thumbprint or by
// public key hash) with ClusterAdmin clearance. Pinning, not a PKI: nodes may
// use self-signed certificates, no CA is consulted.
//
// Created by ClusterManager::open (shared with the transport's callbacks and
// the HTTP pool). Immutable after load(); thread-safe.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include "rachis/cluster/cluster_state.h"
#include "replication/frame_socket.h"
#include "server/http/request.h"
#include "storage/status.h"

namespace corvus::server::cluster {

class NodeTls {
 public:
  // The node's certificate file (PEM or PKCS#12, as --certificate). Errors:
  // InvalidArgument naming the file and what is wrong.
  static Result<std::shared_ptr<NodeTls>> load(const std::string& certificate_path, const std::string& password,
                                               std::vector<std::string> admin_thumbprints,
                                               std::vector<std::string> admin_key_hashes = {});

  SSL_CTX* native() const { return context_->native_handle(); }
  boost::asio::ssl::context& context() const { return *context_; }
  const http::ClientCertificate& own() const { return own_; }

  // The trust rule for `peer` (nullptr: none presented): "" = a node we talk
  // to, else why not, in words a person can act on. `state` (the applied
  // cluster state) may be null while the node is opening: then the registry
  // is not consulted.
  std::string refuse_peer(X509* peer, const rachis::cluster::ClusterState* state) const;

  // Dials the cluster port at `address` ("host:port"), makes the TLS
  // handshake as the client and checks the listener's certificate with
  // refuse_peer(): a FrameSocket for database replication. Busy when the
  // peer cannot be reached or refused (the caller retries with back-off).
  Result<std::unique_ptr<replication::FrameSocket>> dial(const std::string& address,
                                                         std::chrono::milliseconds timeout,
                                                         const rachis::cluster::ClusterState* state) const;

 private:
  std::shared_ptr<boost::asio::ssl::context> context_;
  http::ClientCertificate own_;
  std::vector<std::string> admin_thumbprints_;
  std::vector<std::string> admin_key_hashes_;
};

}  // namespace corvus::server::cluster
