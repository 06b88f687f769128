#pragma once
// Raft: one Rachis node's consensus state machine, with no I/O, clock or threads.
//
// It implements the extended Raft paper (Ongaro & Ousterhout 2014) and Ongaro's
// thesis: leader election with randomized timeouts (§5.2), pre-vote (thesis §9.6)
// and check-quorum (thesis §6.2), log replication with a fast back-off on mismatch
// (§5.3), the commit rule for current-term entries only (§5.4.2, Figure 8),
// read-index linearizable reads (thesis §6.4), snapshots and InstallSnapshot (§7),
// single-server membership changes with non-voting learners (thesis §4.1, §4.2.1,
// §4.2.2, §4.2.3) and leadership transfer (thesis §3.10).
//
// Ownership and lifecycle: the shell (rachis::Node, or the simulator) owns exactly
// one Raft per node and the Random it was given. The Raft is built from what the
// shell recovered from disk (PersistedState) and lives until the node stops. Nothing
// it returns refers back into it.
//
// Thread-safety: none. Every call must come from one thread (or be serialized).
//
// How the shell drives it (the loop of every node):
//
//   every timer tick          raft.tick();
//   message from the network  raft.step(std::move(msg));
//   client command            raft.propose(bytes)            // leader only
//   membership change         raft.propose_config_change(cc) // leader only
//   linearizable read         raft.read_index(request_id)    // any node with a leader
//   then, whenever raft.has_ready():
//     Ready rd = raft.ready();
//     1. if rd.snapshot: persist it durably and drop the whole stored log (it
//        replaces everything), then restore the state machine from it.
//     2. if !rd.entries.empty(): delete every stored entry with
//        index >= rd.entries.front().index, then append rd.entries.
//     3. if rd.hard_state: store it.
//     4. if rd.must_sync: fsync 1-3 (one atomic write batch is ideal).
//     5. only now send rd.messages (a vote or an append acknowledgement must never
//        leave before the state it promises is durable). Lost messages are fine.
//     6. apply rd.committed_entries in order (Normal: run the command; Noop: skip;
//        ConfigChange: raft already uses the new configuration, the application
//        may update its topology view).
//     7. for each rd.read_states: serve that read once applied index >= its index.
//     8. raft.advance(rd);
//     9. if rd.compact_hint != 0: when convenient, snapshot the state machine at its
//        applied index i, store it durably, call raft.compact(i, data), then delete
//        stored entries <= i.
//
// Between ready() and advance() other calls (step, tick, ...) are allowed, but
// ready() must not be called again before advance(). On restart, load the hard
// state, the latest snapshot and the stored entries after it into PersistedState.
//
// Propose results are optimistic: success means "appended at (index, term)". The
// command took effect iff the entry applied at that index has that term; if a
// different entry is applied at `index`, the command was lost and may be retried.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rachis/core/progress.h"
#include "rachis/core/raft_log.h"
#include "rachis/core/random.h"
#include "rachis/core/types.h"

namespace corvus::rachis::core {

enum class Role : std::uint8_t { Follower, PreCandidate, Candidate, Leader };
const char* role_name(Role r);

struct Options {
  // This node's id. Must not be kNoNode.
  NodeId id = kNoNode;
  // Ticks without hearing from a leader before campaigning. The actual timeout is
  // randomized in [election_tick, 2 * election_tick) (§5.2). Larger is more stable
  // under load, smaller fails over faster. Default: 10.
  std::uint32_t election_tick = 10;
  // Ticks between leader heartbeats; must be well below election_tick. Default: 1.
  std::uint32_t heartbeat_tick = 1;
  // Run a pre-vote round before bumping the term, so a partitioned node rejoining
  // cannot depose a healthy leader (thesis §9.6). Default: true.
  bool pre_vote = true;
  // Leader steps down when it has not heard from a quorum for an election timeout,
  // and nodes that heard from a leader within the election timeout ignore vote
  // requests (thesis §6.2, §4.2.3). Default: true.
  bool check_quorum = true;
  // Max entries per Append message. Bigger batches catch up faster but make larger
  // messages. Default: 64.
  std::size_t max_entries_per_message = 64;
  // Max unacknowledged Appends per follower in Replicate state. Default: 16.
  std::size_t max_inflight = 16;
  // Ask for a snapshot (Ready::compact_hint) once this many applied entries are
  // kept after the last snapshot; 0 disables the hint. Default: 10000.
  std::uint64_t snapshot_threshold = 10000;
  // Ticks a follower may stay in Snapshot state without answering before the leader
  // sends the snapshot again. Default: 0 = 4 * election_tick.
  std::uint32_t snapshot_retry_ticks = 0;
};

// What the shell recovered from disk. For a brand new node: a default HardState,
// a snapshot meta at index 0 whose config is the bootstrap configuration (every
// founding voter of a new cluster, or just this node), or empty for a node that
// will join an existing cluster as a learner, and no entries.
struct PersistedState {
  HardState hard_state;
  SnapshotMeta snapshot_meta;
  std::shared_ptr<const std::string> snapshot_data;  // may be null for index 0
  std::vector<Entry> entries;                        // contiguous after the snapshot
  // Index the application's state machine has already applied (if it is durable
  // on its own); entries after it are handed out again. Default: the snapshot index.
  Index applied = 0;
};

// Observable leadership state; reported in Ready when it changes.
struct SoftState {
  NodeId leader = kNoNode;
  Role role = Role::Follower;
  friend bool operator==(const SoftState&, const SoftState&) = default;
};

// Everything the shell must do after a batch of inputs; see the loop above.
struct Ready {
  std::optional<SoftState> soft_state;     // leader/role changed (informational)
  std::optional<HardState> hard_state;     // changed; persist
  std::optional<Snapshot> snapshot;        // received from the leader; persist, restore
  std::vector<Entry> entries;              // persist, overwriting from front().index
  bool must_sync = false;                  // fsync before sending (term/vote/entries)
  std::vector<Message> messages;           // send after persisting
  std::vector<Entry> committed_entries;    // apply in order after persisting
  std::vector<ReadState> read_states;      // reads that may be served once applied
  Index compact_hint = 0;                  // non-zero: please snapshot and compact
};

enum class Error : std::uint8_t {
  Ok,
  NotLeader,            // ask Raft::leader() for a hint (kNoNode if unknown)
  TransferInProgress,   // leadership transfer pending: proposals are refused
  ConfigChangePending,  // one membership change at a time; retry after it commits
  NotReady,             // new leader has not committed its no-op yet; retry soon
  InvalidArgument,      // e.g. promoting a node that is not a learner
};
const char* error_name(Error e);

struct ProposeResult {
  Error error = Error::Ok;
  Index index = 0;  // on success: where the entry was appended
  Term term = 0;
  bool ok() const { return error == Error::Ok; }
};

// A point-in-time view for monitoring and for the application's promotion policy.
struct RaftStatus {
  NodeId id = kNoNode;
  Role role = Role::Follower;
  Term term = 0;
  NodeId vote = kNoNode;
  NodeId leader = kNoNode;
  Index commit = 0;
  Index applied = 0;
  Index last_index = 0;
  Index snapshot_index = 0;
  Configuration config;
  NodeId transferee = kNoNode;
  std::map<NodeId, Progress> progress;  // leader only, includes the leader itself
};

class Raft {
 public:
  // `rng` must outlive the Raft. Aborts on an inconsistent PersistedState.
  Raft(const Options& options, Random& rng, PersistedState state);
  Raft(const Raft&) = delete;
  Raft& operator=(const Raft&) = delete;

  // Advances logical time by one tick: election timeout, heartbeats, check-quorum,
  // transfer timeout, snapshot retries.
  void tick();

  // Processes one message addressed to this node. Stale, duplicated or reordered
  // messages are fine; messages from unknown nodes are processed like any other.
  void step(Message m);

  // Appends a Normal entry. Leader only; see "Propose results" above.
  ProposeResult propose(std::string data);

  // Appends a ConfigChange entry. Leader only, one change at a time, and only after
  // this leader committed an entry of its own term (fixes the single-server change
  // bug described by Ongaro in 2015). The new configuration takes effect as soon as
  // it is appended, on every node (thesis §4.1); AddLearner must precede
  // PromoteVoter. Promotion is the application's decision: check
  // status().progress[node].match against last_index first (RavenDB promotes a
  // "promotable" once caught up; "watchers" stay learners).
  ProposeResult propose_config_change(const ConfigChange& change);

  // Requests a linearizable read (thesis §6.4). On the leader the read index is its
  // commit index once a heartbeat round confirms it is still leader; a follower
  // forwards the request to the leader. The result arrives as a ReadState with the
  // same `context` in a later Ready; if it never arrives (leader change, message
  // loss) the application times out and retries. Returns NotLeader when no leader
  // is known.
  Error read_index(std::string context);

  // Leadership transfer (thesis §3.10): the leader brings `to` up to date, then
  // sends it TimeoutNow; proposals are refused meanwhile. Gives up after an
  // election timeout. `to` must be another voter.
  Error transfer_leadership(NodeId to);

  // Starts an election now as if the election timeout had fired (with pre-vote if
  // enabled). No-op for leaders and non-voters. For tests and operator tooling.
  void campaign();

  // The application's snapshot of its state machine at `index` (the applied index
  // when it was taken) is durable: forget log entries <= index and use the snapshot
  // for lagging followers. Precondition: snapshot_index < index <= applied index.
  // Returns InvalidArgument if the precondition does not hold.
  Error compact(Index index, std::shared_ptr<const std::string> data);

  // The shell could not deliver a snapshot to `to`: retry it without waiting for
  // the snapshot retry timeout.
  void report_snapshot_failure(NodeId to);

  bool has_ready() const;
  Ready ready();
  void advance(const Ready& rd);

  NodeId id() const { return opts_.id; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return leader_; }
  Index commit_index() const { return commit_; }
  Index last_index() const { return log_.last_index(); }
  const Configuration& config() const { return config_; }
  const RaftLog& log() const { return log_; }
  const SnapshotMeta& snapshot_meta() const { return snapshot_meta_; }
  RaftStatus status() const;

 private:
  enum class CampaignKind { PreVote, Election, Transfer };
  struct PendingRead {
    std::uint64_t seq = 0;
    Index index = 0;
    std::string context;
    NodeId from = kNoNode;
  };

  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void start_campaign(CampaignKind kind);
  void reset_timers();
  bool in_lease() const;
  bool past_election_timeout() const { return election_elapsed_ >= randomized_timeout_; }

  void step_leader(Message& m);
  void step_candidate(Message& m);
  void step_follower(Message& m);
  void handle_vote_request(const Message& m);
  void handle_append(Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot(Message& m);
  void handle_append_response(const Message& m);
  void handle_heartbeat_response(const Message& m);

  void send(Message m);
  bool maybe_send_append(NodeId to, bool send_if_empty);
  void send_snapshot(NodeId to, Progress& pr);
  void broadcast_append();
  void broadcast_heartbeat();
  void append_entry(Entry e);  // leader: stamp term/index, append, update config
  bool maybe_commit();
  void commit_to(Index c);
  void on_leader_commit_advanced();
  bool committed_in_current_term() const;

  void add_read(std::string context, NodeId from);
  void release_reads();
  void finish_read(const PendingRead& r);

  void on_config_appended(const Configuration& c);
  void recompute_config();
  Configuration config_at(Index i) const;
  void sync_progress_with_config();
  std::size_t quorum_count_recent_active() const;
  Index compact_hint_now() const;

  Options opts_;
  Random& rng_;

  Term term_ = 0;
  NodeId vote_ = kNoNode;
  NodeId leader_ = kNoNode;
  Role role_ = Role::Follower;

  RaftLog log_;
  Index commit_ = 0;
  Index applied_ = 0;          // acknowledged by advance()
  Index handed_apply_ = 0;     // committed entries handed out by ready()
  Index unstable_from_ = 1;    // entries >= this are not yet handed out for persisting
  Configuration config_;       // latest configuration in the log (thesis §4.1)
  SnapshotMeta snapshot_meta_;  // the latest snapshot (local or installed)
  std::shared_ptr<const std::string> snapshot_data_;
  std::optional<Snapshot> pending_snapshot_;  // installed, not yet handed out

  std::uint64_t election_elapsed_ = 0;
  std::uint64_t heartbeat_elapsed_ = 0;
  std::uint64_t randomized_timeout_ = 0;

  std::map<NodeId, Progress> progress_;  // leader only
  std::map<NodeId, bool> votes_;         // candidate / pre-candidate only
  NodeId transferee_ = kNoNode;
  Index pending_conf_index_ = 0;

  std::uint64_t read_seq_ = 0;
  std::deque<PendingRead> pending_reads_;   // waiting for a heartbeat quorum
  std::deque<PendingRead> waiting_reads_;   // waiting for the no-op to commit
  std::vector<ReadState> read_states_;

  std::vector<Message> msgs_;
  HardState prev_hard_state_;
  SoftState prev_soft_state_;
  Index last_compact_hint_ = 0;
};

}  // namespace corvus::rachis::core
