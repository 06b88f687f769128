#include "server/cluster/replication_acceptor.h"

#include <memory>

#include "replication/frame_socket.h"
#include "replication/messages.h"

namespace corvus::server::cluster {

void accept_replication_connection(ClusterManager& cluster, DatabasesLandlord& databases, char kind,
                                   std::string payload, int fd) {
  auto socket = std::make_unique<replication::FrameSocket>(fd);
  auto refuse = [&](const std::string& why) { (void)socket->send(replication::frames::kRefusal, why); };
  if (kind != replication::frames::kHandshake) return refuse(std::string("unknown channel '") + kind + "'");
  auto hello = replication::decode_handshake(payload);
  if (!hello.ok()) return refuse(hello.status().message());
  if (hello->version != replication::kProtocolVersion) {
    return refuse("replication protocol version " + std::to_string(hello->version) + " is not " +
                  std::to_string(replication::kProtocolVersion));
  }
  if (hello->cluster_id != cluster.topology_id()) return refuse("not this node's cluster");
  const std::string self = cluster.node_tag("");
  if (self.empty() || hello->to != self) return refuse("this node is not " + hello->to);
  auto record = cluster.state().record(hello->database);
  if (!record || !record->topology.contains(self) || !record->topology.contains(hello->from)) {
    return refuse("node " + hello->from + " and node " + self + " are not both in the group of database '" +
                  hello->database + "'");
  }
  auto db = databases.get(hello->database);
  auto replication = db ? db->replication() : nullptr;
  if (!replication) return refuse("database '" + hello->database + "' is not open here yet");
  replication->accept(std::move(socket), std::move(hello).value());
}

}  // namespace corvus::server::cluster
