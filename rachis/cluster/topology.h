#pragma once
// The cluster topology as the state machine holds it: node tag <-> NodeId <->
// URL and Raft address, each node's role and the command version it runs.
// Plain value types.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "rachis/core/types.h"

namespace corvus::rachis::cluster {

// RavenDB's words: a Member votes; a Promotable is a learner that will be
// promoted once caught up; a Watcher stays a non-voting learner.
enum class NodeRole : std::uint8_t { Member, Promotable, Watcher };
const char* node_role_name(NodeRole r);

// The newest cluster command format this build understands. A command type
// records the version that introduced it; the leader proposes it only when
// every node of the topology runs at least that version.
// 1: node list and values; 2: databases, compare-exchange, identities,
// cluster-wide transactions; 3: SetDatabasesLock, EditRevisionsConfiguration;
// 4: ModifyConflictSolver; 5: PutCertificate, DeleteCertificate; 6: PutSubscription,
// AcknowledgeSubscriptionBatch, DeleteSubscription; 7: PutPullReplicationHub,
// DeletePullReplicationHub, PutReplicationHubAccess, DeleteReplicationHubAccess,
// PutRavenConnectionString, PutPullReplicationSink, DeletePullReplicationSink;
// 8: SeedIdentity; 9: PutExternalReplication, DeleteExternalReplication,
// ToggleExternalReplication, RemoveRavenConnectionString; 10: RegisterHubSink;
// 11: AcknowledgeSubscriptionBatch with Delivered (without it, still 6).
inline constexpr std::uint32_t kCommandVersion = 11;

struct NodeInfo {
  std::string tag;
  core::NodeId id = core::kNoNode;
  std::string url;      // HTTP URL clients and other nodes use
  std::string address;  // host:port other nodes dial for Raft traffic
  NodeRole role = NodeRole::Member;
  std::uint32_t command_version = 1;  // nodes from before versions were recorded run 1

  boost::json::object to_json() const;
  // `need_id`: false for AddLearner contexts (the id travels in the ConfigChange).
  static std::optional<NodeInfo> from_json(const boost::json::value& v, bool need_id = true);
};

// A consistent copy of the topology at some applied index.
struct Topology {
  std::string cluster_id;                 // RavenDB's TopologyId
  std::map<std::string, NodeInfo> nodes;  // by tag
  std::string last_node_tag;              // the last tag assigned
  core::NodeId last_node_id = 0;          // the highest NodeId assigned
  core::Index etag = 0;                   // log index of the last topology change
  core::Index applied = 0;                // log index applied when copied

  const NodeInfo* by_id(core::NodeId id) const;
  // The next tag after last_node_tag not in use: A..Z, then AA, AB, ...
  std::string next_free_tag() const;

  boost::json::object to_json() const;
  static bool from_json(const boost::json::object& o, Topology* out);
};

}  // namespace corvus::rachis::cluster
