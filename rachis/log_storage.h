#pragma once
// LogStorage: the durable half of one Rachis node, in its own RocksDB instance
// (<data>/rachis): the node's identity in a cluster, the Raft hard state, the
// latest snapshot (its meta, and as data the small descriptor of
// rachis/snapshot_stream.h: the state itself lives in the ClusterState) and the
// log entries after it.
//
// Owned by rachis::Node (or a test). Every write goes through one RocksDB
// WriteBatch, synced when Raft asks for it, so a crash never leaves a hard state
// promising entries that are not on disk. Thread-safety: one writer at a time
// (the Node's Raft thread); reads of identity() may come from any thread.
//
// Keys: "m/identity", "m/hard", "m/snapmeta", "m/snapdata" and
// "e/<big-endian index>" for entries, so entries sort by index.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "rachis/core/raft.h"
#include "storage/status.h"

namespace rocksdb {
class DB;
}

namespace corvus::rachis {

// Who this node is: the cluster (topology id) it belongs to and its NodeId in it.
struct NodeIdentity {
  std::string cluster_id;
  core::NodeId node_id = core::kNoNode;
};

class LogStorage {
 public:
  // Opens or creates the store at `path`. IOError when RocksDB cannot open it.
  static Result<std::unique_ptr<LogStorage>> open(const std::string& path);
  ~LogStorage();
  LogStorage(const LogStorage&) = delete;
  LogStorage& operator=(const LogStorage&) = delete;

  // nullopt for a store that was never initialized.
  std::optional<NodeIdentity> identity() const;

  // Wipes hard state, snapshot and log, then stores `id` (synced). Used when a
  // brand-new store is initialized and when a fresh node joins another cluster.
  Status reset(const NodeIdentity& id);

  // What Raft needs on start: hard state, snapshot (meta at index 0 with an empty
  // config when none was stored) and the entries after it. Corruption when an
  // entry cannot be decoded or the log has a hole.
  Result<core::PersistedState> load() const;

  // Persists steps 1-4 of the Raft loop for `rd` (snapshot, entries overwriting
  // from rd.entries.front().index, hard state) in one batch; fsync iff must_sync.
  Status save(const core::Ready& rd);

  // Stores a snapshot the application took at meta.index and deletes the entries
  // up to it (step 9 of the Raft loop). Synced.
  Status save_snapshot_and_compact(const core::SnapshotMeta& meta, const std::string& data);

  core::Index last_index() const { return last_index_; }
  // Synced write batches so far (for metrics and the bench: proposals per fsync).
  std::uint64_t sync_count() const { return syncs_.load(std::memory_order_relaxed); }

 private:
  LogStorage() = default;
  Status write(void* batch, bool sync);

  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<std::uint64_t> syncs_{0};
  core::Index last_index_ = 0;  // highest stored entry index (0 when none)
  core::Index snapshot_index_ = 0;
  mutable std::mutex identity_mu_;
  std::optional<NodeIdentity> identity_;
};

}  // namespace corvus::rachis
