#pragma once
// Cluster: N Rachis cores on a simulated network and simulated disks, for the
// deterministic simulation test and the scenario scripts.
//
// Everything is driven from one thread by a seeded RNG: the network drops, delays,
// duplicates, reorders and partitions messages; a crash discards the node's memory
// and anything its current Ready had not synced; a restart rebuilds the core from
// the synced "disk". Each node applies committed entries to a small key/value +
// compare-exchange state machine. After every step the invariants are checked and
// the first violation is kept in violation().

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rachis/core/raft.h"
#include "tests/sim/linearizability.h"

namespace corvus::rachis::sim {

using core::Entry;
using core::Index;
using core::Message;
using core::NodeId;
using core::Term;

struct SimParams {
  std::uint64_t seed = 1;
  int founding_voters = 3;
  double drop = 0;           // per message
  double duplicate = 0;      // per message
  std::uint32_t min_delay = 1;
  std::uint32_t max_delay = 1;  // time units, inclusive
  bool shuffle = false;         // deliver messages due at the same time in random order
  double crash_in_ready = 0;    // per Ready: crash before it is synced
  double tick_skip = 0;         // per node and time unit: miss a tick (clock drift)
  double compact_chance = 1.0;  // act on a compact hint
  bool fixed_timeouts = false;  // node i always draws i - 1: timeout election_tick + i - 1
  core::Options raft;           // id is filled in per node
};

// A fixed or seeded source of randomness for one node's core.
class NodeRandom final : public core::Random {
 public:
  explicit NodeRandom(std::uint64_t seed) : rng_(seed) {}
  std::uint64_t next() override { return fixed_ ? *fixed_ : rng_.next(); }
  void set_fixed(std::optional<std::uint64_t> v) { fixed_ = v; }

 private:
  core::SeededRandom rng_;
  std::optional<std::uint64_t> fixed_;
};

// The synced state of one node's disk.
struct Disk {
  core::HardState hard_state;
  core::SnapshotMeta snapshot_meta;
  std::shared_ptr<const std::string> snapshot_data;
  std::vector<Entry> entries;  // contiguous after snapshot_meta.index
};

struct KvState {
  std::map<std::string, std::int64_t> kv;
  std::uint64_t hash() const;
  std::string encode() const;
  static KvState decode(const std::string& s);
};

// A client operation in the history, with the node handling it.
struct ClientOp {
  std::string key;
  Op op;
  NodeId node = 0;
  bool pending = true;
  bool dropped = false;  // failed definitively or a read that never completed
  std::uint64_t started_at = 0;  // simulated time, for client timeouts
  std::string id;
};

struct SimNode {
  NodeId id = 0;
  bool up = false;
  bool removed = false;  // decommissioned after its removal committed
  bool frozen = false;   // scenario: does not tick
  Disk disk;
  std::unique_ptr<NodeRandom> rng;
  std::unique_ptr<core::Raft> raft;
  KvState state;
  Index applied = 0;
  core::Role last_role = core::Role::Follower;
  std::map<Index, std::pair<Term, std::size_t>> proposals;  // index -> (term, op)
  std::map<std::string, std::size_t> reads_sent;             // context -> op
  std::vector<std::pair<Index, std::size_t>> reads_ready;    // read index -> op
};

// What happened in a run, to show the faults really were exercised.
struct SimCounters {
  std::uint64_t elections = 0;
  std::uint64_t crashes = 0;
  std::uint64_t snapshots_installed = 0;
  std::uint64_t compactions = 0;
  std::uint64_t config_changes = 0;
  std::uint64_t messages = 0;
  std::uint64_t reads = 0;
  std::uint64_t commits = 0;
  void add(const SimCounters& o) {
    elections += o.elections;
    crashes += o.crashes;
    snapshots_installed += o.snapshots_installed;
    compactions += o.compactions;
    config_changes += o.config_changes;
    messages += o.messages;
    reads += o.reads;
    commits += o.commits;
  }
};

class Cluster {
 public:
  using EventSink = std::function<void(const std::string&)>;
  Cluster(SimParams params, EventSink events);

  // Node lifecycle. The constructor creates the founding voters 1..N. add_node()
  // creates a blank node (empty configuration) that joins through AddLearner; it
  // is started unless `start` is false.
  NodeId add_node(bool start);
  void crash(NodeId id);
  void restart(NodeId id);
  void decommission(NodeId id);
  SimNode& node(NodeId id) { return *nodes_.at(id); }
  const std::map<NodeId, std::unique_ptr<SimNode>>& nodes() const { return nodes_; }

  // Network. Groups not listed form one more group together.
  void partition(const std::vector<std::set<NodeId>>& groups);
  void heal();
  // From now on no message loss, no crashes in Ready, no missed ticks (the calm
  // phase at the end of a run, which must make progress).
  void calm() {
    params_.drop = 0;
    params_.crash_in_ready = 0;
    params_.tick_skip = 0;
  }
  bool connected(NodeId a, NodeId b) const;
  // Drops every message from `from` still in flight.
  void drop_in_flight(NodeId from);

  // One time unit: deliver due messages, tick every live node.
  void step_time(bool tick_nodes = true);
  std::uint64_t now() const { return now_; }
  std::size_t in_flight() const;

  // Client operations; return false when the node refused (not invoked).
  bool client_put(NodeId at, const std::string& key, std::int64_t value, std::string* err = nullptr);
  bool client_cas(NodeId at, const std::string& key, std::int64_t expected, std::int64_t value,
                  std::string* err = nullptr);
  bool client_get(NodeId at, const std::string& key, std::string* err = nullptr);
  // Gives up on pending operations older than `max_age` time units.
  void expire_client_ops(std::uint64_t max_age);
  std::size_t pending_ops() const;
  const std::vector<ClientOp>& history() const { return history_; }

  // Control on a node's core; each runs the node's Ready loop afterwards.
  core::ProposeResult propose_raw(NodeId at, std::string data);
  core::ProposeResult config_change(NodeId at, core::ConfigChange cc);
  core::Error transfer(NodeId at, NodeId to);
  void campaign(NodeId at);
  bool compact(NodeId at);

  NodeId leader() const;  // the live leader with the highest term, or 0
  Index max_committed() const { return committed_.empty() ? 0 : committed_.rbegin()->first; }

  // Invariants. check_all() also runs the (slower) pairwise log-matching check.
  void check_all();
  void check_linearizability();
  const std::string& violation() const { return violation_; }
  bool failed() const { return !violation_.empty(); }
  void fail(const std::string& what);
  std::uint64_t linearizability_inconclusive() const { return lin_inconclusive_; }
  std::string describe_node(NodeId id) const;

  const SimCounters& counters() const { return counters_; }
  std::uint64_t uniform(std::uint64_t n) { return rng_.uniform(n); }
  double chance() { return static_cast<double>(rng_.next() >> 11) / 9007199254740992.0; }

 private:
  struct InFlight {
    std::uint64_t seq;
    Message msg;
  };

  void drain(SimNode& n);
  void process_ready(SimNode& n);
  void apply_entry(SimNode& n, const Entry& e);
  void on_role(SimNode& n);
  void send(const Message& m);
  void deliver(Message m);
  void complete_reads(SimNode& n);
  void forget_node_ops(SimNode& n);
  void check_node(const SimNode& n);
  void check_log_matching();
  std::unique_ptr<core::Raft> make_raft(SimNode& n);
  std::size_t new_op(NodeId at, const std::string& key, Op op);
  void complete_op(std::size_t i);

  SimParams params_;
  EventSink events_;
  core::SeededRandom rng_;
  std::map<NodeId, std::unique_ptr<SimNode>> nodes_;
  NodeId next_id_ = 1;
  std::map<NodeId, int> group_;
  int rest_group_ = 0;
  std::vector<NodeId> to_decommission_;
  std::set<NodeId> ever_member_;
  Index last_config_applied_ = 0;
  std::map<std::uint64_t, std::vector<InFlight>> network_;
  std::uint64_t msg_seq_ = 0;
  std::uint64_t now_ = 0;
  std::uint64_t clock_ = 0;  // history event counter
  std::uint64_t steps_ = 0;

  // Invariant bookkeeping.
  std::map<Term, NodeId> leader_of_term_;
  std::map<Index, Entry> committed_;                 // index -> the committed entry
  std::map<Index, std::uint64_t> state_hash_;        // index -> state machine hash after it
  std::map<std::pair<Index, Term>, std::string> written_;  // any entry ever written
  std::map<std::pair<NodeId, Term>, NodeId> votes_;  // durable vote per node and term
  std::map<std::pair<Term, NodeId>, std::set<NodeId>> grants_;  // (term, candidate) -> voters

  SimCounters counters_;
  std::vector<ClientOp> history_;
  std::uint64_t op_counter_ = 0;
  std::string violation_;
  std::uint64_t lin_inconclusive_ = 0;
};

}  // namespace corvus::rachis::sim
