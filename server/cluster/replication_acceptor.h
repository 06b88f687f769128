#pragma once
// Accepts database replication connections ('D' on the cluster port) for the
// databases this node serves: checks the handshake against the cluster state
// (our cluster, our tag, both nodes in the database's group) and hands the
// connection to the database's DatabaseReplication, or refuses it with a
// reason the source logs. Runs on a ClusterManager worker thread (the
// channel handler); owns `connection` (its socket, and its TLS session on a
// secured node: the transport already checked the peer's certificate) from
// the call on.

#include <string>

#include "server/cluster/cluster_manager.h"
#include "server/databases_landlord.h"

namespace corvus::server::cluster {

void accept_replication_connection(ClusterManager& cluster, DatabasesLandlord& databases, char kind,
                                   std::string payload, rachis::ChannelConnection connection);

}  // namespace corvus::server::cluster
