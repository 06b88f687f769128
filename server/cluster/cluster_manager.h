#pragma once
// ClusterManager: corvusd's side of Rachis. Owns the rachis::Node (log in
// <data>/rachis, the cluster listener, the Raft thread), answers what the HTTP
// handlers need (this node's tag, the topology in RavenDB's shape) and runs the
// blocking node-to-node HTTP calls (forwarding to the leader, probing a node
// before adding it) on its own worker threads so I/O threads never block.
//
// Owned by ServerStore; opened in ServerStore::open(), closed before the
// databases. Thread-safe after open().

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/json/object.hpp>

#include "rachis/node.h"
#include "server/options/server_options.h"
#include "storage/status.h"

namespace corvus::server::cluster {

class ClusterManager {
 public:
  // `new_cluster_id` is used only when the node has no Rachis store yet (it then
  // bootstraps a one-node cluster, tagged `bootstrap_tag`). IOError when the
  // cluster port cannot be bound (an explicit --cluster-port only; the default
  // falls back to any free port).
  static Result<std::unique_ptr<ClusterManager>> open(const ServerOptions& options, const std::string& new_cluster_id,
                                                      const std::string& public_url, const std::string& bootstrap_tag);
  ~ClusterManager();

  rachis::Node& node() { return *node_; }
  const rachis::Node& node() const { return *node_; }

  // This node's tag in the applied topology; `fallback` while it is not in it yet.
  std::string node_tag(const std::string& fallback) const;
  std::string topology_id() const { return node_->view().identity.cluster_id; }
  // The leader's HTTP URL, or "" when there is no known leader.
  std::string leader_url() const;

  // GET /cluster/topology body (REST.md §1.3).
  boost::json::object topology_json() const;
  // GET /admin/cluster/rachis body: what a leader checks before adding this node.
  boost::json::object rachis_info_json() const;

  // Runs `fn` on a worker thread; joined by close(). Returns false, without
  // running it, after close() or while kMaxWorkers are busy: each forwarded
  // or membership request holds a thread for up to its timeout, so their
  // number is bounded rather than growing with a flood of requests.
  [[nodiscard]] bool run_async(std::function<void()> fn);
  static constexpr size_t kMaxWorkers = 64;

  // Stops the workers and the Rachis node. Idempotent.
  void close();

 private:
  ClusterManager() = default;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  std::unique_ptr<rachis::Node> node_;
  std::string bootstrap_tag_;
  std::chrono::milliseconds election_timeout_{1000};
  std::mutex workers_mu_;
  std::list<Worker> workers_;
  bool closed_ = false;
};

}  // namespace corvus::server::cluster
