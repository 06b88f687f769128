#pragma once
// Node: the Rachis shell around one core::Raft. It owns the RocksDB LogStorage,
// the TcpTransport, the ClusterStateMachine and one Raft thread that runs the
// loop described in rachis/core/raft.h: take inputs (messages, proposals, ticks
// from a steady clock), then for each Ready persist (one WriteBatch, synced when
// asked), send, apply committed entries, advance, and compact when hinted.
// Everything queued while the previous Ready was being synced is handled in the
// next one, so many concurrent proposals share one append and one fsync.
//
// Snapshots (rachis/snapshot_stream.h): compaction syncs the state and stores a
// small descriptor as the snapshot. A follower handed a snapshot pulls the
// state from the leader over the cluster port, in chunks, into a staging
// directory, swaps it in and only then persists the snapshot in its log; if the
// pull fails it drops that Ready and reloads the core from disk (the leader
// sends the snapshot again). The Raft thread is busy during a pull.
//
// Membership (RavenDB rules on top of thesis §4): a fresh node bootstraps a
// one-node cluster (NodeId 1, tag A). add_node() on the leader assigns the next
// NodeId and the next free tag and appends AddLearner; the leader dials the new
// node, whose listener accepts a handshake from another cluster only while the
// node is *fresh* (its cluster never had another node): it then wipes its own
// one-node log and restarts as that NodeId, empty, and the leader replicates the
// whole log (or a snapshot) to it. A Promotable learner is promoted to voter by the
// leader once its match index has reached the commit index the leader had at its
// previous check (checks run every 3 ticks), i.e. once it keeps pace with the
// log even under load; a Watcher stays a learner. A node that comes back with
// another URL or cluster address is corrected in the topology by the leader
// (UpdateNode): its own on becoming leader, a peer's when its handshake
// advertises a new address. remove_node() appends RemoveNode; a
// removed node stops ticking and reports itself as removed.
//
// Lifecycle: open() recovers (or initializes) the store, starts the transport and
// the Raft thread; stop() (or the destructor) completes pending proposals with
// ShuttingDown and joins everything. Thread-safety: every public function may be
// called from any thread; completion callbacks run on the Raft thread and must not
// block.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "rachis/cluster/cluster_state_machine.h"
#include "rachis/core/raft.h"
#include "rachis/log_storage.h"
#include "rachis/tcp_transport.h"
#include "storage/status.h"

namespace corvus::rachis {

struct NodeOptions {
  // Directory of the RocksDB log store. Required.
  std::string path;
  // Cluster (topology) id used when this store is new. Required for a new store.
  std::string new_cluster_id;
  // Tag this node takes when it bootstraps a new cluster. Default: "A"
  std::string bootstrap_tag = "A";
  // HTTP URL of this node, recorded in the topology. Required.
  std::string url;
  // Where the cluster listener binds.
  TransportOptions listen;
  // host:port other nodes dial to reach this node's listener (may be a proxy).
  // Default: empty = advertise_host:<bound port>
  std::string advertise_address;
  // Host part of the default advertise address; empty = listen.host (which is
  // useless to peers when it is a wildcard such as 0.0.0.0). Default: empty
  std::string advertise_host;
  // Wall-clock length of one Raft tick. Smaller fails over faster but costs more
  // heartbeats. Default: 100 ms
  std::chrono::milliseconds tick{100};
  // Election timeout in ticks (randomized up to twice that). Default: 10
  std::uint32_t election_tick = 10;
  // Entries kept after a snapshot before the next one is taken. Default: 10000
  std::uint64_t snapshot_threshold = 10000;
  // Pending proposals fail with Timeout after this long. Default: 15 s
  std::chrono::milliseconds propose_timeout{15000};
  // Directory of the RocksDB cluster state (what the log applied).
  // Default: empty = path + "-state"
  std::string state_path;
  // Where the node reports notable events ("info"/"warn"/"error", message).
  // Called from the node's threads. Default: none
  std::function<void(const char* level, const std::string& message)> log;
  // Told about every applied entry, on the Raft thread: must not block (queue
  // the work elsewhere). Default: none
  std::function<void(const cluster::AppliedCommand&)> on_applied;
  // Connections of other channels on the cluster port (TransportHandler::on_channel).
  // Default: none (refused)
  std::function<void(char kind, std::string payload, ChannelConnection connection)> on_channel;
};

// A point-in-time view for monitoring and for /cluster/topology.
struct NodeView {
  NodeIdentity identity;
  core::Role role = core::Role::Follower;
  core::Term term = 0;
  core::NodeId leader = core::kNoNode;
  core::Index commit = 0;
  core::Index applied = 0;
  core::Index last_index = 0;
  core::Configuration config;
  std::chrono::steady_clock::time_point leader_since{};  // when this node became leader
  std::map<core::NodeId, core::Index> match;  // leader only: each follower's match index
  bool removed = false;  // this node was removed from its cluster
  bool fresh = false;    // may still join another cluster
};

class Node {
 public:
  // Called once the proposal is applied (Ok, with its log index) or failed:
  // NotLeader, Busy (a membership change is already in progress; retry),
  // InvalidArgument, Timeout, ShuttingDown, or Internal when the entry was lost to
  // a leader change (safe to retry).
  using Done = std::function<void(Status, core::Index)>;
  // A command's completion: its result (the status says whether it was
  // applied at all, or refused by apply) and its log index.
  using CommandDone = std::function<void(cluster::CommandResult, core::Index)>;

  // A CommandDone that reports only the status (for callers that need no result).
  static CommandDone as_command_done(Done done) {
    return [done = std::move(done)](cluster::CommandResult r, core::Index i) { done(r.status, i); };
  }

  static Result<std::unique_ptr<Node>> open(const NodeOptions& options);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Appends a cluster command; `done` gets apply()'s result once this node
  // applied it. Leader only. InvalidArgument when some node of the cluster is
  // too old to apply this command type.
  void propose(const cluster::ClusterCommand& command, CommandDone done);
  // The same for an encoded command (forwarded by a follower). InvalidArgument
  // when this node cannot decode it.
  void propose_encoded(std::string payload, CommandDone done);
  // Linearizable read point (thesis §6.4): `done` gets an index such that a
  // read of the local state once applied() >= index sees every write committed
  // before the call. Any node with a leader; NotLeader/Timeout otherwise.
  void read_index(Done done);
  // Adds a node as a learner (Promotable, or Watcher when `watcher`). `tag` empty
  // picks the next free tag. Leader only. InvalidArgument when the tag or URL is in
  // use.
  // `command_version`: the newest cluster command format the node runs.
  void add_node(const std::string& tag, const std::string& url, const std::string& address, bool watcher,
                std::uint32_t command_version, Done done);
  // Removes the node with `tag`. Leader only. NotFound when there is none.
  void remove_node(const std::string& tag, Done done);
  // Leadership transfer to the most up-to-date other voter. Leader only.
  void reelect(Done done);
  // Wipes this node's log and state and starts it over as a fresh one-node
  // cluster (NodeId 1, the bootstrap tag, a new cluster id), so it can be added
  // again. Used once the leader removed this node (the leader stops sending to
  // a removed node, so it never sees its removal commit; the caller confirms it
  // with the cluster first). While this node is still a voter of a multi-node
  // configuration as it knows it, leave refuses (InvalidArgument) unless
  // `force`: wiping a voter can erase a majority's acknowledgements. After
  // leaving, the old cluster's traffic addressed to the old NodeId is refused
  // (never rejoined as that id). InvalidArgument when `cluster_id` is not ours.
  void leave(const std::string& cluster_id, bool force, Done done);

  // Waits until the local state machine applied `index`; false on timeout.
  bool wait_applied(core::Index index, std::chrono::milliseconds timeout) const;

  NodeView view() const;
  const cluster::ClusterStateMachine& state() const { return *sm_; }
  std::map<core::NodeId, PeerStatus> peer_status() const { return transport_->peer_status(); }
  std::string advertise_address() const { return advertise_; }
  std::uint16_t cluster_port() const { return transport_->port(); }
  // Synced log writes so far.
  std::uint64_t sync_count() const { return storage_->sync_count(); }

  void stop();

 private:
  struct Pending {
    core::Term term = 0;
    CommandDone done;
    std::chrono::steady_clock::time_point deadline;
  };
  struct PendingRead {
    Done done;
    std::chrono::steady_clock::time_point deadline;
  };

  explicit Node(const NodeOptions& options);
  Status recover();
  void post(std::function<void()> task);
  void run();
  void process_ready();
  // Follower, Raft thread: pulls the state for `snapshot` from the leader into a
  // staging directory and swaps it in. Busy/ShuttingDown: nothing changed,
  // retry later; any other error is fatal (the swap may be half done).
  Status pull_snapshot(const core::Snapshot& snapshot);
  // The transport's snapshot thread: a view of the state for node `from`,
  // at least at `index`.
  Result<std::unique_ptr<SnapshotSource>> serve_snapshot(const std::string& cluster_id, core::NodeId from,
                                                         core::NodeId to, core::Index index);
  void apply_entry(const core::Entry& e);
  void housekeeping();
  void maybe_promote();
  void maybe_bootstrap();
  void update_peers();
  void update_view();
  void track(const core::ProposeResult& r, CommandDone done);
  void track(const core::ProposeResult& r, Done done);
  void propose_checked(std::string payload, std::string_view type, std::uint32_t version, CommandDone done);
  void fail_all_pending(const Status& s);
  std::string on_handshake(const std::string& cluster_id, core::NodeId from, core::NodeId to,
                           const std::string& address);
  void maybe_update_address(core::NodeId id, const std::string& url, const std::string& address);
  void join(const std::string& cluster_id, core::NodeId id, core::NodeId inviter);
  Status start_over(const std::string& cluster_id, core::NodeId id, bool voter);
  bool is_fresh() const;  // Raft thread
  // The (cluster id, NodeId) pairs this node had before it left: handshakes to
  // them are refused. Persisted beside the log (<path>-left.txt).
  Status remember_left(const std::string& cluster_id, core::NodeId id);
  void load_left();
  Status not_leader() const;

  NodeOptions opts_;
  std::string advertise_;
  std::unique_ptr<LogStorage> storage_;
  std::unique_ptr<TcpTransport> transport_;
  std::unique_ptr<cluster::ClusterStateMachine> sm_;
  core::SeededRandom rng_;
  std::unique_ptr<core::Raft> raft_;  // Raft thread only

  // Raft thread only.
  std::map<core::Index, Pending> pending_;
  std::map<std::string, PendingRead> pending_reads_;  // by read context
  std::uint64_t next_read_ = 0;
  core::Index bootstrap_index_ = 0;
  core::Term bootstrap_term_ = 0;
  std::uint64_t ticks_ = 0;
  std::map<core::NodeId, core::Index> promote_targets_;  // learner -> commit index at the last check
  core::NodeId last_leader_ = core::kNoNode;
  core::Role last_role_ = core::Role::Follower;
  std::chrono::steady_clock::time_point leader_since_{};

  std::mutex left_mu_;
  std::map<std::string, core::NodeId> left_;  // cluster id -> our NodeId there

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;

  mutable std::mutex view_mu_;
  mutable std::condition_variable applied_cv_;
  NodeView view_;
};

}  // namespace corvus::rachis
