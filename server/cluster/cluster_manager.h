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
#include "server/cluster/applied_feed.h"
#include "server/cluster/http_connection_pool.h"
#include "server/cluster/node_tls.h"
#include "server/options/server_options.h"
#include "storage/status.h"

namespace corvus::server::cluster {

// The leader's answer to a forwarded command: {"Index", "Status", "Result"}.
boost::json::object forwarded_reply_json(const rachis::cluster::CommandResult& r, rachis::core::Index index);

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
  const rachis::cluster::ClusterState& state() const { return node_->state().state(); }
  AppliedFeed& feed() { return feed_; }
  HttpConnectionPool& connections() { return connections_; }

  using CommandDone = rachis::Node::CommandDone;
  // Runs a cluster command: proposed here when this node leads, else sent to
  // the leader (pooled keep-alive connection) which proposes it. `done` gets
  // apply()'s result once *this* node has applied it and the server reacted
  // (AppliedFeed), so the caller can read its own write; NotLeader when there
  // is no leader, Busy when too many forwarded commands are in flight,
  // Timeout when this node does not catch up in time.
  void execute(const rachis::cluster::ClusterCommand& command, CommandDone done);
  // The leader's side of a forwarded command (POST /admin/rachis/execute).
  void execute_forwarded(std::string payload, CommandDone done);

  // A linearizable read point: `then(Ok)` runs once this node has applied
  // (and processed) everything committed before the call; reads of the local
  // state after that see every acknowledged write.
  void read_barrier(std::function<void(Status)> then);

  // This node leaves cluster `topology_id` (wiping its Rachis log and state) —
  // only once another node of that cluster confirms this node is no longer in
  // its applied topology (the leader removed it), unless `force` (loses this
  // node's cluster data; documented on POST /admin/cluster/leave). Refusals
  // are InvalidArgument saying what to do instead.
  void leave(const std::string& topology_id, bool force, std::function<void(Status)> done);

  // Membership (leader; callers forward otherwise). add_node first asks the
  // node at `url` who it is (reachable, fresh, its cluster address and command
  // version) and refuses with InvalidArgument saying why; `done` gets the tag
  // it was given. remove_node tells the removed node to leave once committed.
  using AddNodeDone = std::function<void(Status, rachis::core::Index, const std::string& tag)>;
  void add_node(const std::string& url, const std::string& tag, bool watcher, AddNodeDone done);
  void remove_node(const std::string& tag, rachis::Node::Done done);

  // Starts the applied-command feed; call after every subscriber registered.
  void start_feed() { feed_.start(node_->state().applied()); }

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
  static constexpr size_t kMaxWorkers = 256;

  // Connections of other channels on the cluster port (database
  // replication's 'D'): `handler` gets each on a worker thread (run_async) and
  // owns `connection`. Refused (closed) while no handler is set or workers are full.
  using ChannelHandler = std::function<void(char kind, std::string payload, rachis::ChannelConnection connection)>;
  void set_channel_handler(ChannelHandler handler);

  // A secured node's node-to-node TLS (its certificate, the trust rule);
  // nullptr on an unsecured node.
  const NodeTls* tls() const { return tls_.get(); }
  // A connection to a peer's cluster port for database replication: TLS with
  // the peer's certificate checked on a secured node, plain TCP otherwise.
  Result<std::unique_ptr<replication::FrameSocket>> dial_replication(const std::string& address) const;
  // The trust rule for a peer node's certificate ("" = trusted); see NodeTls.
  std::string refuse_peer(X509* certificate) const;

  // Stops the workers and the Rachis node. Idempotent.
  void close();

 private:
  ClusterManager() = default;
  // `done` after the feed processed the command's index (leader side).
  CommandDone after_processed(CommandDone done);
  // Worker thread: sends `payload` to the leader, waiting through elections.
  void forward_to_leader(std::string payload, CommandDone done);
  void wait_local_apply(rachis::cluster::CommandResult r, rachis::core::Index index, CommandDone done);
  void read_barrier_until(std::chrono::steady_clock::time_point deadline, std::function<void(Status)> then);
  // The transport's on_channel (its I/O thread): hands over to a worker.
  void dispatch_channel(char kind, std::string payload, rachis::ChannelConnection connection);

  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  std::shared_ptr<NodeTls> tls_;  // before node_: its transport calls refuse_peer
  // node_'s applied state once node_ is set (the transport may ask the trust
  // rule before: then the registry is not consulted).
  std::atomic<const rachis::cluster::ClusterState*> trust_state_{nullptr};
  AppliedFeed feed_;  // outlives node_: the node's Raft thread pushes into it
  HttpConnectionPool connections_;
  std::unique_ptr<rachis::Node> node_;
  std::string bootstrap_tag_;
  std::chrono::milliseconds election_timeout_{1000};
  std::mutex workers_mu_;
  std::list<Worker> workers_;
  bool closed_ = false;
  std::mutex channel_mu_;
  ChannelHandler channel_handler_;
};

}  // namespace corvus::server::cluster
