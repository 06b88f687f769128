#pragma once
// ExternalReplicationTcpHandler: the destination's side of external
// replication, the TCP listener's "ExternalReplication" operation. A node of
// another cluster (the source) dials this port (TLS with its node
// certificate on a secured server; the listener's authorizer lets it through
// only with ReadWrite or Admin access to the database the header names, or
// as an admin: server/main.cc), says which database it pushes from, and then
// the connection carries group replication's frames one way: the source
// pushes, this node applies with an IncomingReplication keyed by the source
// database id, which keeps the source's position with the items (so the
// source resumes after a restart or a cut) and resolves conflicts by the
// database's policy. Nothing is ever sent back.
//
// Owned by main (outlives the listener). Thread-safety: serve() runs on each
// connection's own thread; it reads the cluster state and the landlord only.

#include <memory>
#include <vector>

#include "server/tcp/tcp_listener.h"

namespace corvus::server {
class ServerStore;
}

namespace corvus::server::external_replication {

class ExternalReplicationTcpHandler final : public tcp::TcpOperationHandler {
 public:
  explicit ExternalReplicationTcpHandler(ServerStore& store) : store_(store) {}
  std::vector<std::int64_t> versions() const override;
  void serve(std::shared_ptr<tcp::TcpJsonStream> stream, const tcp::TcpConnectionHeader& header) override;

 private:
  ServerStore& store_;
};

}  // namespace corvus::server::external_replication
