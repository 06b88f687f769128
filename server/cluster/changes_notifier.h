#pragma once
// ChangesNotifier: turns the cluster's applied commands into Changes API
// events. For every database record the cluster added, changed or removed it
// tells the server-wide feed (GET /changes) a DatabaseChange; when a
// database's group changed (its topology stamp moved) it tells a
// TopologyChange to the server-wide feed and to that database's own feed if a
// client watches it on this node (clients then fetch the topology again).
//
// Owned by ServerStore; start() subscribes to the AppliedFeed (before
// ClusterManager::start_feed) and remembers the records as they are, so that
// start-up tells nothing. on_applied runs on the AppliedFeed thread only, so
// the remembered stamps need no lock.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "rachis/cluster/cluster_state_machine.h"
#include "server/changes/changes_feed.h"
#include "server/cluster/cluster_manager.h"
#include "server/databases_landlord.h"

namespace corvus::server::cluster {

class ChangesNotifier {
 public:
  // `url`: this node's public URL, the TopologyChange's Url.
  ChangesNotifier(ClusterManager& cluster, DatabasesLandlord& landlord, std::shared_ptr<changes::ChangesFeed> server_feed,
                  std::string url);

  void start();

 private:
  void on_applied(const rachis::cluster::AppliedCommand& c);
  // Compares one database's record with what was remembered and tells the change.
  void check(const std::string& name, uint64_t raft_index);

  ClusterManager& cluster_;
  DatabasesLandlord& landlord_;
  std::shared_ptr<changes::ChangesFeed> server_feed_;
  const std::string url_;
  struct Known {
    std::string name;  // as spelled in the record
    uint64_t topology_stamp = 0;
  };
  std::map<std::string, Known> known_;  // lowered name -> last record seen
};

}  // namespace corvus::server::cluster
