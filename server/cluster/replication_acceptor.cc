#include "server/cluster/replication_acceptor.h"

#include <memory>

#include "replication/frame_socket.h"
#include "replication/messages.h"
#include "server/tcp/tcp_byte_stream.h"
#include "server/tcp/tcp_json_stream.h"

namespace corvus::server::cluster {

void accept_replication_connection(ClusterManager& cluster, DatabasesLandlord& databases, char kind,
                                   std::string payload, rachis::ChannelConnection connection) {
  std::unique_ptr<replication::FrameSocket> socket;
  if (connection.ssl != nullptr) {
    auto stream = std::make_shared<tcp::TcpJsonStream>(connection.fd, 0);
    stream->adopt_tls(connection.ssl);
    socket = std::make_unique<replication::FrameSocket>(std::make_unique<tcp::TcpByteStream>(std::move(stream)));
  } else {
    socket = std::make_unique<replication::FrameSocket>(connection.fd);
  }
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
