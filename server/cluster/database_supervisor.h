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
// "Caught up" is both: the cluster log applied up to the group's stamp (the
// cluster-wide state) and replication: its database change vector contains
// that of every member that answers (read before its own), so it has every
// document, counter, attachment and revision they had a moment before.
//
// Owned by ServerStore; runs on its own thread; stop() joins it.

#include <chrono>
#include <condition_variable>
#include <map>
#include <optional>
#include <mutex>
#include <string>
#include <thread>

#include "server/cluster/cluster_manager.h"
#include "storage/change_vector.h"

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
  // The database change vector the node at `url` reports for `database`
  // (GET /stats), or nullopt when it does not serve it.
  std::optional<storage::ChangeVector> database_change_vector(const std::string& url, const std::string& database);
  // Whether the node at `url` has everything the members that answer have of
  // `record`'s database: their change vectors, read first, are contained in its own.
  bool caught_up_with_members(const rachis::cluster::DatabaseRecord& record, const std::string& url,
                              const rachis::cluster::Topology& topo);

  ClusterManager& cluster_;
  const std::chrono::seconds grace_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace corvus::server::cluster
