#pragma once
// Value types of the Rachis Raft core: node ids, log entries, configurations,
// snapshots, hard state and the wire messages the core exchanges.
//
// Everything here is a plain value type: copyable, no hidden ownership (snapshot
// bytes are shared immutably through std::shared_ptr<const std::string>, so copying
// a Message or Snapshot never copies the payload). No thread-safety beyond that of
// the standard containers they hold.
//
// The core does not serialize messages; the shell (rachis/) owns the wire format.
// Only configurations and configuration-change entries have a byte encoding here,
// because they travel inside log entries and the core itself must decode them.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace corvus::rachis::core {

// Node ids are small positive integers; 0 means "none". The cluster layer maps RavenDB
// node tags (A, B, C, ...) onto ids when a node joins; the core never sees tags.
using NodeId = std::uint64_t;
using Term = std::uint64_t;
using Index = std::uint64_t;
inline constexpr NodeId kNoNode = 0;

enum class EntryType : std::uint8_t {
  Normal,        // application command; data is opaque to the core
  ConfigChange,  // data = encode_config_change(change, resulting configuration)
  Noop,          // appended by every new leader (§5.4.2, §8: commits earlier terms)
};

// One log entry. `data` is an opaque byte string.
struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::Normal;
  std::string data;

  friend bool operator==(const Entry&, const Entry&) = default;
};

// The cluster membership as of some log position. Voters elect and form quorums;
// learners (RavenDB "promotables"/"watchers") only receive the log (thesis §4.2.1).
struct Configuration {
  std::set<NodeId> voters;
  std::set<NodeId> learners;

  bool is_voter(NodeId id) const { return voters.count(id) != 0; }
  bool is_learner(NodeId id) const { return learners.count(id) != 0; }
  bool contains(NodeId id) const { return is_voter(id) || is_learner(id); }
  std::size_t quorum() const { return voters.size() / 2 + 1; }

  friend bool operator==(const Configuration&, const Configuration&) = default;
};

// Single-server membership changes (thesis §4.1). A node always joins as a learner
// and is promoted later; removing works for voters and learners alike, including
// the leader itself (§4.2.2: it steps down once the change commits).
enum class ConfigChangeType : std::uint8_t { AddLearner, PromoteVoter, RemoveNode };

struct ConfigChange {
  ConfigChangeType type = ConfigChangeType::AddLearner;
  NodeId node = kNoNode;
  std::string context;  // opaque to the core, e.g. the node's URL and tag

  friend bool operator==(const ConfigChange&, const ConfigChange&) = default;
};

// Configuration-change entries carry the whole resulting configuration, so the
// configuration at any log position is simply the last such entry at or before it.
std::string encode_configuration(const Configuration& c);
std::optional<Configuration> decode_configuration(const std::string& bytes);
std::string encode_config_change(const ConfigChange& change, const Configuration& result);
// Returns false when `bytes` is not a valid encoding.
bool decode_config_change(const std::string& bytes, ConfigChange* change, Configuration* result);

// Persistent per-node state besides the log (Figure 2). `commit` is persisted too
// so a restart does not have to wait for the leader to re-learn it; losing it is safe.
struct HardState {
  Term term = 0;
  NodeId vote = kNoNode;
  Index commit = 0;

  friend bool operator==(const HardState&, const HardState&) = default;
};

struct SnapshotMeta {
  Index index = 0;  // last entry covered by the snapshot
  Term term = 0;    // its term
  Configuration config;  // membership as of `index`

  friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

// A state-machine snapshot (§7). `data` is produced and consumed by the application.
struct Snapshot {
  SnapshotMeta meta;
  std::shared_ptr<const std::string> data;  // never null in a Snapshot handed out
};

enum class MessageType : std::uint8_t {
  PreVote,            // thesis §9.6: "would you vote for me at term+1?" (term unchanged)
  PreVoteResponse,
  Vote,               // RequestVote (§5.2)
  VoteResponse,
  Append,             // AppendEntries with entries or empty (§5.3)
  AppendResponse,     // also answers InstallSnapshot
  Heartbeat,          // AppendEntries without log check: keeps leadership, carries commit
  HeartbeatResponse,  // also acknowledges read-index rounds (thesis §6.4)
  InstallSnapshot,    // §7
  TimeoutNow,         // leadership transfer (thesis §3.10)
  ReadIndex,          // follower forwards a read-index request to the leader
  ReadIndexResponse,  // leader answers it with the read index
};

const char* message_type_name(MessageType t);

// One message between cores. Only the fields relevant to `type` are meaningful.
struct Message {
  MessageType type = MessageType::Heartbeat;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;

  // Vote, PreVote: the candidate's last log position (§5.4.1 up-to-date check).
  Index last_index = 0;
  Term last_term = 0;
  bool transfer = false;  // Vote caused by TimeoutNow: bypasses the leader lease

  // Append: the entry preceding `entries` and the leader's commit index.
  Index prev_index = 0;
  Term prev_term = 0;
  std::vector<Entry> entries;
  Index commit = 0;  // Append, Heartbeat

  // AppendResponse: on success the highest index known to match the leader; on
  // reject the rejected prev_index plus a fast back-off hint (end of §5.3): the
  // follower's largest index <= prev_index whose term is <= prev_term, and that
  // term. The leader then probes at its own largest index <= hint_index with a term
  // <= hint_term, skipping a whole term per round trip instead of one entry.
  bool reject = false;  // also PreVoteResponse / VoteResponse: vote refused
  Index index = 0;      // AppendResponse (above); ReadIndexResponse: the read index
  Index hint_index = 0;
  Term hint_term = 0;

  std::optional<Snapshot> snapshot;  // InstallSnapshot

  std::uint64_t read_seq = 0;  // Heartbeat(Response): read-index round being confirmed
  std::string context;         // ReadIndex(Response): the application's request id
};

std::string to_string(const Message& m);

// A read that is now linearizable: once the local state machine has applied
// `index`, the read identified by `context` may be served from it (thesis §6.4).
struct ReadState {
  Index index = 0;
  std::string context;
};

}  // namespace corvus::rachis::core
