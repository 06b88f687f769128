#pragma once
// SinkSet: the pull replication sinks one database runs on this node, kept
// in step with its record (set()): a sink whose definition or connection
// string changed is restarted, a removed one stopped, a new one started.
// Owned by the DocumentDatabase; stop() before its replication stops.
// Thread-safety: set() and stop() from any thread (one mutex).

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "rachis/cluster/pull_replication_config.h"
#include "replication/database_replication.h"
#include "server/pull_replication/sink_replication.h"

namespace corvus::server::pull_replication {

struct SinkSpec {
  rachis::cluster::SinkDefinition definition;
  rachis::cluster::RavenConnectionString connection_string;
  std::string own_url;  // this node's URL, told to the hub
};

struct SinkState {
  bool connected = false;
  std::string hub_url;  // the hub node it last connected to
};

class SinkSet {
 public:
  SinkSet(storage::DocumentsStorage& storage, replication::ReplicationIdentity identity);
  ~SinkSet();

  // The sinks to run now (an empty list stops them all).
  void set(const std::shared_ptr<replication::DatabaseReplication>& replication, const std::vector<SinkSpec>& sinks);
  void stop();
  // nullopt when this node does not run sink `task_id`.
  std::optional<SinkState> state(std::uint64_t task_id);

 private:
  struct Running {
    std::string fingerprint;  // definition + connection string, as JSON
    std::unique_ptr<SinkReplication> sink;
  };
  storage::DocumentsStorage& storage_;
  const replication::ReplicationIdentity identity_;
  std::mutex mu_;
  std::map<std::uint64_t, Running> running_;  // by task id
};

}  // namespace corvus::server::pull_replication
