#pragma once
// ClusterStateMachine: what the Rachis log agrees on, applied from committed
// entries: the cluster topology (node tag <-> NodeId <-> URL and Raft address,
// members / promotables / watchers, the last assigned tag) and a small key/value
// map (the first cluster command besides membership; compare-exchange and
// database records will be further command types).
//
// Owned by rachis::Node. apply()/restore() run on the Node's Raft thread; the
// accessors may be called from any thread (a shared mutex guards the state).
//
// Encoding: Normal entries carry a JSON command {"Type": "<name>", ...}. Known
// types are listed in apply_command(); an unknown type is skipped (logged by the
// caller through the returned Status) so that nodes of an older version keep
// applying the rest of the log. Membership travels in ConfigChange entries whose
// context is a JSON NodeInfo (encode_node_context). Snapshots are one JSON
// document holding the whole state.

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>

#include "rachis/core/types.h"
#include "storage/status.h"

namespace corvus::rachis::cluster {

// RavenDB's words: a Member votes; a Promotable is a learner that will be
// promoted once caught up; a Watcher stays a non-voting learner.
enum class NodeRole : std::uint8_t { Member, Promotable, Watcher };
const char* node_role_name(NodeRole r);

struct NodeInfo {
  std::string tag;
  core::NodeId id = core::kNoNode;
  std::string url;      // HTTP URL clients and other nodes use
  std::string address;  // host:port other nodes dial for Raft traffic
  NodeRole role = NodeRole::Member;
};

// A consistent copy of the topology at some applied index.
struct Topology {
  std::string cluster_id;           // RavenDB's TopologyId
  std::map<std::string, NodeInfo> nodes;  // by tag
  std::string last_node_tag;        // the last tag assigned
  core::NodeId last_node_id = 0;    // the highest NodeId assigned
  core::Index etag = 0;             // log index of the last topology change
  core::Index applied = 0;          // log index applied when copied

  const NodeInfo* by_id(core::NodeId id) const;
  // The next tag after last_node_tag not in use: A..Z, then AA, AB, ...
  std::string next_free_tag() const;
};

// JSON commands (the Normal entry payloads).
std::string make_bootstrap_command(const std::string& cluster_id, const NodeInfo& self);
std::string make_put_value_command(const std::string& key, const std::string& value);
std::string make_update_node_command(const NodeInfo& node);  // url/address change

// AddLearner context.
std::string encode_node_context(const NodeInfo& n);
std::optional<NodeInfo> decode_node_context(const std::string& s);

class ClusterStateMachine {
 public:
  // Applies one committed entry (Normal, ConfigChange or Noop) at its index.
  // An unreadable or unknown command leaves the state unchanged and returns
  // InvalidArgument (the index still counts as applied).
  Status apply(const core::Entry& e);

  // The whole state as JSON, and back. restore() replaces everything.
  std::string snapshot() const;
  Status restore(const std::string& data, core::Index index);
  void clear();

  Topology topology() const;
  core::Index applied() const;
  std::optional<std::string> value(const std::string& key) const;
  std::size_t value_count() const;

 private:
  Status apply_command(const std::string& data, core::Index index);
  Status apply_config_change(const std::string& data, core::Index index);

  mutable std::shared_mutex mu_;
  Topology topology_;
  std::map<std::string, std::string> values_;
};

}  // namespace corvus::rachis::cluster
