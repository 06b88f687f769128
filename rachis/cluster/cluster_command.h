#pragma once
// ClusterCommand: one kind of change the cluster agrees on through the Raft log.
// Each command is a small struct in rachis/cluster/commands/ with its fields,
// its encoding (to_json / a static decode), and its apply(), all in one place.
//
// An entry's payload is {"Type": "<name>", "Version": <n>, ...fields}. Version is
// the command format version that introduced the type (see kCommandVersion in
// topology.h): the leader refuses to propose a command some node is too old to
// apply, and a node that meets a type it does not know stops applying (never
// skips: a skipped command is silently divergent state).
//
// Apply runs on the Raft thread, reads the state as of the previous entry,
// stages its changes in the batch, and returns a result for the proposer: a
// Status (a command may be refused, e.g. a compare-exchange with a wrong index:
// the entry still counts as applied) and a JSON value.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "rachis/cluster/cluster_state.h"
#include "rachis/core/types.h"
#include "storage/status.h"

namespace corvus::rachis::cluster {

struct CommandResult {
  Status status;             // Ok, or why the command was refused
  boost::json::value value;  // what the proposer needs (null when nothing)
};

struct ApplyContext {
  core::Index index = 0;  // the entry's log index
  const ClusterState& state;
  ClusterState::Batch& batch;
  Topology& topology;  // the topology as of this entry; batch.put_topology() when changed
  // What the command touched, for the server's listeners (DatabasesLandlord).
  std::vector<std::string> databases_changed;
};

class ClusterCommand {
 public:
  virtual ~ClusterCommand() = default;
  virtual std::string_view type() const = 0;
  // The command format version that introduced this type.
  virtual std::uint32_t version() const = 0;
  // The command's fields (without Type and Version).
  virtual boost::json::object fields() const = 0;
  virtual CommandResult apply(ApplyContext& ctx) const = 0;
};

// The entry payload for `c`.
std::string encode_command(const ClusterCommand& c);

// What decoding found: a command, or why there is none. `unknown` (a type or a
// version this build does not know) and `malformed` both stop the apply loop.
struct DecodedCommand {
  std::unique_ptr<ClusterCommand> command;
  std::string type;   // as read, for the log line
  Status status;      // not Ok when command is null
};
DecodedCommand decode_command(std::string_view payload);

}  // namespace corvus::rachis::cluster
