#pragma once
// DatabasesObserver: makes this node serve what the database records say.
// On every applied command that touched databases (and once at start) it
// opens each database whose group names this node, closes those that no
// longer do, deletes the files of those the record says to hard-delete here
// and confirms the deletion to the cluster, keeps each database replicating to
// the other nodes of its group, and applies pending cluster-wide
// transactions to the open databases in Raft order. Runs on the AppliedFeed
// thread; a retry thread re-runs it every few seconds so that a confirmation
// that found no leader, or a database still busy, is not forgotten.
//
// Owned by ServerStore; stop() before the landlord and the cluster go.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <openssl/ssl.h>

#include "rachis/cluster/cluster_state_machine.h"
#include "server/cluster/cluster_manager.h"
#include "server/databases_landlord.h"

namespace corvus::server::cluster {

class DatabasesObserver {
 public:
  // `node_tls`: this node's certificate as a TLS client (external
  // replication dials other clusters with it); null on an unsecured node.
  DatabasesObserver(ClusterManager& cluster, DatabasesLandlord& landlord, std::shared_ptr<SSL_CTX> node_tls = nullptr);
  ~DatabasesObserver() { stop(); }

  // Subscribes to the feed and reconciles once (opening this node's
  // databases at start-up). Before ClusterManager::start_feed().
  void start();
  void stop();

 private:
  void on_applied(const rachis::cluster::AppliedCommand& c);
  void reconcile();
  void apply_cluster_transactions(const std::shared_ptr<DocumentDatabase>& db);
  // Starts the database's replication and points it at the other nodes of its group.
  void replicate(DocumentDatabase& db, const rachis::cluster::DatabaseRecord& r, const std::string& self);
  void retry_loop();

  ClusterManager& cluster_;
  DatabasesLandlord& landlord_;
  const std::shared_ptr<SSL_CTX> node_tls_;
  std::mutex mu_;  // one reconcile at a time (feed thread or retry thread)
  // Deletions proposed, not yet answered. Its own lock: the answer may come
  // on any thread, even inline while reconcile() holds mu_.
  std::mutex confirming_mu_;
  std::set<std::string> confirming_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread retry_;
};

}  // namespace corvus::server::cluster
