#pragma once
// DatabaseSupervisor: RavenDB's cluster observer, on the leader. Once a second
// it looks at every database group: a Member whose node has not been heard
// from (Raft traffic) for the rehab grace (--database-rehab-grace, default
// 15 s) moves to Rehab, so the clients' topology prefers the others; a Rehab
// or Promotable whose node answers again, has applied the cluster log up to
// the group's last change and has its copy open moves (back) to Member. The
// last Member of a group is never moved out. Decisions are
// UpdateDatabaseTopology commands carrying the stamp they were based on, so a
// decision on a stale view is refused, never applied.
//
// Until replication exists, "caught up" cannot mean "has the documents": a
// returning node has the cluster-wide state (compare-exchange, cluster-wide
// transactions) but not the documents written elsewhere while it was away.
//
// Owned by ServerStore; runs on its own thread; stop() joins it.

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "server/cluster/cluster_manager.h"

namespace corvus::server::cluster {

class DatabaseSupervisor {
 public:
  DatabaseSupervisor(ClusterManager& cluster, std::chrono::seconds grace);
  ~DatabaseSupervisor() { stop(); }
  void start();
  void stop();

 private:
  void run();
  void check();
  // When this leader last heard from the node of `tag` (now for itself).
  std::chrono::system_clock::time_point last_heard(const std::string& tag, const rachis::NodeView& view,
                                                   const rachis::cluster::Topology& topo);
  bool serves(const std::string& url, const std::string& database);

  ClusterManager& cluster_;
  const std::chrono::seconds grace_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace corvus::server::cluster
