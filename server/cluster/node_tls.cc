#include "server/cluster/node_tls.h"

#include <algorithm>
#include <ctime>

#include "server/http/client_certificate.h"
#include "server/http/tls_context.h"
#include "server/tcp/tcp_byte_stream.h"
#include "server/tcp/tcp_json_stream.h"

namespace corvus::server::cluster {
namespace rc = rachis::cluster;

namespace {


}  // namespace

Result<std::shared_ptr<NodeTls>> NodeTls::load(const std::string& certificate_path, const std::string& password,
                                               std::vector<std::string> admin_thumbprints,
                                               std::vector<std::string> admin_key_hashes) {
  auto ctx = http::make_server_tls_context(certificate_path, password, /*client_too=*/true);
  if (!ctx.ok()) return ctx.status();
  auto tls = std::shared_ptr<NodeTls>(new NodeTls());
  tls->context_ = std::move(ctx).value();
  // Both roles on one context: a node accepts and dials cluster connections
  // and calls other nodes over HTTPS. The context asks the peer for a
  // certificate and accepts any at the TLS level: refuse_peer() judges it.
  tls->own_ = http::describe_certificate(SSL_CTX_get0_certificate(tls->native()));
  tls->admin_thumbprints_ = std::move(admin_thumbprints);
  tls->admin_key_hashes_ = std::move(admin_key_hashes);
  return tls;
}

std::string NodeTls::refuse_peer(X509* peer, const rc::ClusterState* state) const {
  if (peer == nullptr) return "no certificate presented: a secured node's peers present their node certificate";
  const http::ClientCertificate c = http::describe_certificate(peer);
  const std::string who = "certificate '" + c.subject + "' (thumbprint " + c.thumbprint + ")";
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (c.not_after_unix != 0 && now > c.not_after_unix) return who + " has expired";
  if (c.not_before_unix != 0 && now < c.not_before_unix) return who + " is not valid yet";
  if (c.thumbprint == own_.thumbprint || (!c.public_key_hash.empty() && c.public_key_hash == own_.public_key_hash)) {
    return "";
  }
  if (std::find(admin_thumbprints_.begin(), admin_thumbprints_.end(), c.thumbprint) != admin_thumbprints_.end() ||
      std::find(admin_key_hashes_.begin(), admin_key_hashes_.end(), c.public_key_hash) != admin_key_hashes_.end()) {
    return "";
  }
  if (state != nullptr) {
    auto record = state->certificate(c.thumbprint);
    if (!record) record = state->certificate_by_key_hash(c.public_key_hash);
    if (record && record->clearance == rc::SecurityClearance::ClusterAdmin) return "";
    if (record) {
      return who + " is registered with " + std::string(rc::to_string(record->clearance)) +
             " clearance; a cluster node needs ClusterAdmin";
    }
  }
  return who + " is not trusted by this node: its public key is not this node's, it is not in "
               "--admin-certificate-thumbprint or --admin-certificate-key-hash, and it is not registered with ClusterAdmin clearance (give every "
               "node the cluster's certificate, or register this one: PUT /admin/certificates)";
}

Result<std::unique_ptr<replication::FrameSocket>> NodeTls::dial(const std::string& address,
                                                                std::chrono::milliseconds timeout,
                                                                const rc::ClusterState* state) const {
  auto fd = replication::connect_tcp(address, timeout);
  if (!fd.ok()) return fd.status();
  auto stream = std::make_shared<tcp::TcpJsonStream>(fd.value(), 0);
  if (Status s = stream->connect_tls(native(), timeout); !s.ok()) {
    return Status::Busy(s.message() + " (is the node at " + address +
                        " started without a certificate? a secured node talks to secured nodes only)");
  }
  if (std::string why = refuse_peer(stream->peer_certificate(), state); !why.empty()) {
    return Status::Busy("refusing the certificate of node at " + address + ": " + why);
  }
  return std::make_unique<replication::FrameSocket>(std::make_unique<tcp::TcpByteStream>(std::move(stream)));
}

}  // namespace corvus::server::cluster
