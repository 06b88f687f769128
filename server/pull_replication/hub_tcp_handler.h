#pragma once
// PullReplicationHubHandler: the hub's side of pull replication, the TCP
// listener's "PullReplication" operation. A sink dials the hub's TCP port
// over TLS with its certificate, names the hub in the connection header's
// AuthorizeInfo (the listener's authorizer lets only a certificate registered
// for that hub through: security::decide_pull_replication), then says which
// direction this connection carries. Hub to sink: the hub's database pushes
// to the sink on this connection (an OutgoingReplication in one-shot mode,
// filtered by the access's allowed paths when the hub filters); sink to hub:
// the sink pushes and the hub applies (an IncomingReplication, filtered
// likewise). Both are handed to the database's DatabaseReplication, which
// owns them from then on; the sink redials when a connection ends.
//
// Owned by main (outlives the listener). Thread-safety: serve() runs on each
// connection's own thread; it reads the cluster state and the landlord only.

#include <memory>
#include <string_view>
#include <vector>

#include "server/tcp/tcp_listener.h"

namespace corvus::server {
class ServerStore;
}

namespace corvus::server::pull_replication {

inline constexpr std::string_view kPullReplicationOperation = "PullReplication";
inline constexpr std::int64_t kPullReplicationVersion = 1;

class PullReplicationHubHandler final : public tcp::TcpOperationHandler {
 public:
  explicit PullReplicationHubHandler(ServerStore& store) : store_(store) {}
  std::vector<std::int64_t> versions() const override { return {kPullReplicationVersion}; }
  void serve(std::shared_ptr<tcp::TcpJsonStream> stream, const tcp::TcpConnectionHeader& header) override;

 private:
  // Records the sink in the database record (RegisterHubSink) and waits for
  // the cluster to apply it.
  Status register_sink(const std::string& database, const std::string& sink_database_id);

  ServerStore& store_;
};

}  // namespace corvus::server::pull_replication
