#pragma once
// ClusterStateMachine: applies committed Rachis entries to the ClusterState:
// typed commands (cluster_command.h; the table in command_registry.cc) and
// Raft's own ConfigChange entries (the topology). Each entry's changes and its
// index go to RocksDB in one write batch, so a restart resumes after the last
// applied entry instead of replaying the log.
//
// A command this build cannot decode (unknown type, newer format, malformed)
// or a storage failure makes apply() report `fatal`: the node must stop
// applying (never skip: a skipped command is silently divergent state).
//
// Owned by rachis::Node. apply(), clear() and the snapshot staging run on the
// Raft thread; the readers (read_snapshot() too) may be called from any thread.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rachis/cluster/cluster_command.h"
#include "rachis/cluster/cluster_state.h"
#include "rachis/core/types.h"
#include "storage/status.h"

namespace corvus::rachis::cluster {

// What an applied entry touched, for the server's listeners.
struct AppliedCommand {
  core::Index index = 0;
  std::string type;                    // command type, "ConfigChange" or "Snapshot"
  std::vector<std::string> databases;  // records or cluster-wide transactions that changed
  bool topology_changed = false;
};

// AddLearner context: the node being added.
std::string encode_node_context(const NodeInfo& n);
std::optional<NodeInfo> decode_node_context(const std::string& s);

class ClusterStateMachine {
 public:
  // Opens (or creates) the state in its own RocksDB directory `path`.
  static Result<std::unique_ptr<ClusterStateMachine>> open(const std::string& path);

  struct Outcome {
    CommandResult result;   // for the proposer
    AppliedCommand applied;
    bool fatal = false;     // stop applying; result.status says why
  };
  // Applies one committed entry (Normal, ConfigChange or Noop). An entry at or
  // below applied() is already in the state (a restart) and changes nothing.
  Outcome apply(const core::Entry& e);

  // Snapshot transfer in chunks (see ClusterState): a sender reads a pinned
  // view (any thread), a receiver stages what it pulls and installs it.
  Result<std::unique_ptr<ClusterState::SnapshotReader>> read_snapshot() const { return state_->read_snapshot(); }
  Result<std::unique_ptr<ClusterState::StagedSnapshot>> stage_snapshot() { return state_->stage_snapshot(); }
  Status install_snapshot(std::unique_ptr<ClusterState::StagedSnapshot> staged) {
    return state_->install(std::move(staged));
  }
  Status clear() { return state_->clear(); }
  // Makes every applied entry durable (before the log is compacted past it).
  Status sync() { return state_->sync_wal(); }

  const ClusterState& state() const { return *state_; }
  Topology topology() const { return state_->topology(); }
  core::Index applied() const { return state_->applied(); }
  // PutValue values; nullopt when absent or unreadable.
  std::optional<std::string> value(const std::string& key) const;
  std::size_t value_count() const;

 private:
  explicit ClusterStateMachine(std::unique_ptr<ClusterState> state) : state_(std::move(state)) {}
  Outcome apply_command(const core::Entry& e);
  Outcome apply_config_change(const core::Entry& e);

  std::unique_ptr<ClusterState> state_;
};

}  // namespace corvus::rachis::cluster
