#pragma once
// ClusterState: the durable applied state of the cluster, in its own RocksDB
// instance (<data>/rachis-state) with one column family per kind of data:
//   meta        applied index, format version, the topology (one small JSON)
//   databases   lowered database name -> DatabaseRecord JSON
//   cmpxchg     lowered db '\0' lowered key -> {"Key","Index","Value"} JSON
//   identities  lowered db '\0' lowered prefix -> last identity (decimal)
//   cluster_tx  lowered db '\0' big-endian index -> the document part of a
//               cluster-wide transaction, applied by every member in order
//   values      a small key/value map (PutValue; tests and the bench)
// Every command's changes and the applied index go in one WriteBatch, so the
// state on disk is always the state at some applied index and a restart does
// not replay the log. Writes are not synced by themselves: the Raft log in
// <data>/rachis holds every entry after what is durable here, and before the
// log is compacted the state is synced (sync_wal()).
//
// The topology and the database records are small and read on every request,
// so they are also kept in memory; compare-exchange values (there may be
// millions) are only read from RocksDB.
//
// Owned by ClusterStateMachine. Writes come from the Raft thread only; reads
// from any thread (a shared mutex guards the in-memory copies; RocksDB reads are
// thread-safe).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "rachis/cluster/database_record.h"
#include "rachis/cluster/topology.h"
#include "rachis/core/types.h"
#include "storage/status.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace corvus::rachis::cluster {

enum class StateFamily : std::uint8_t {
  Meta = 0,
  Databases = 1,
  CompareExchange = 2,
  Identities = 3,
  ClusterTx = 4,
  Values = 5,
};
inline constexpr int kStateFamilies = 6;

// One compare-exchange value.
struct CompareExchangeValue {
  std::string key;        // as the user spelled it
  std::uint64_t index = 0;  // Raft index of its last change
  std::string value_json;   // {"Object": ..., "@metadata": ...}
};

// The document part of one cluster-wide transaction, as committed.
struct ClusterTransactionRecord {
  std::uint64_t index = 0;
  std::string commands_json;  // JSON array of {"Type":"PUT"|"DELETE","Id",...}
};

class ClusterState {
 public:
  static Result<std::unique_ptr<ClusterState>> open(const std::string& path);
  ~ClusterState();
  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;

  // --- reads (any thread) ---
  core::Index applied() const;
  Topology topology() const;
  std::optional<DatabaseRecord> record(std::string_view database) const;
  std::vector<DatabaseRecord> records() const;
  // IOError/Corruption when RocksDB fails; nullopt when the key has no value.
  Result<std::optional<CompareExchangeValue>> compare_exchange(std::string_view database, std::string_view key) const;
  // Values whose key starts with `prefix` (case-insensitive), in key order,
  // skipping `start`, at most `page_size`.
  Result<std::vector<CompareExchangeValue>> compare_exchange_prefix(std::string_view database, std::string_view prefix,
                                                                    std::uint64_t start, std::uint64_t page_size) const;
  Result<std::uint64_t> compare_exchange_count(std::string_view database) const;
  Result<std::uint64_t> identity(std::string_view database, std::string_view prefix) const;
  // Cluster-wide transactions of `database` with index > `after`, in index order, at most `limit`.
  Result<std::vector<ClusterTransactionRecord>> cluster_transactions(std::string_view database, std::uint64_t after,
                                                                     std::size_t limit) const;

  Result<std::optional<std::string>> value(std::string_view key) const;
  Result<std::uint64_t> value_count() const;

  // --- writes (Raft thread) ---
  // A batch of changes for one applied entry. Setters also update what the
  // in-memory copies will hold once commit() succeeds.
  class Batch {
   public:
    explicit Batch(ClusterState& state);
    ~Batch();
    void put_topology(const Topology& t);
    void put_record(const DatabaseRecord& r);
    void delete_record(std::string_view database);
    void put_compare_exchange(std::string_view database, const CompareExchangeValue& v);
    void delete_compare_exchange(std::string_view database, std::string_view key);
    void put_identity(std::string_view database, std::string_view prefix, std::uint64_t value);
    void put_cluster_transaction(std::string_view database, const ClusterTransactionRecord& tx);
    void put_value(std::string_view key, std::string_view value);
    // Everything the state holds for `database`: values, identities, transactions.
    Status delete_database_data(std::string_view database);

   private:
    friend class ClusterState;
    ClusterState& state_;
    std::unique_ptr<rocksdb::WriteBatch> batch_;
    std::optional<Topology> topology_;
    std::map<std::string, std::optional<DatabaseRecord>> records_;  // lowered name -> new value or erase
  };

  // Writes the batch with applied index `index` (not synced). IOError on failure
  // (the caller treats it as fatal: the state would fall behind the log).
  Status commit(Batch& batch, core::Index index);

  // Makes every commit so far durable (before the Raft log is compacted).
  Status sync_wal();

  // The whole state as a stream of (family, key, value) records, and back.
  // restore() replaces everything and is synced. Corruption on bad input.
  // TODO(cluster): the core ships a snapshot as one string; stream it in chunks.
  Result<std::string> snapshot() const;
  Status restore(std::string_view data, core::Index index);
  // Empties the state (a node starting over). Synced.
  Status clear();

 private:
  ClusterState() = default;
  Status load_caches();
  rocksdb::ColumnFamilyHandle* cf(StateFamily f) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // by StateFamily, then default

  mutable std::shared_mutex mu_;
  core::Index applied_ = 0;
  Topology topology_;
  std::map<std::string, DatabaseRecord> records_;  // by lowered name
};

}  // namespace corvus::rachis::cluster
