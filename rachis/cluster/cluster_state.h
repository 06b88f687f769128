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
//   certificates  upper-case thumbprint -> CertificateRecord JSON (client
//               certificates and their clearance; few, read on every request)
//   subscriptions lowered db '\0' lowered name -> SubscriptionRecord JSON
//   subscription_delivered  lowered db '\0' big-endian subscription id,
//               lowered document id -> the change vector of the newest version
//               of that document an acknowledged batch delivered (what a member
//               taking a subscription over skips; server/subscriptions/README.md)
// Every command's changes and the applied index go in one WriteBatch, so the
// state on disk is always the state at some applied index and a restart does
// not replay the log. Writes are not synced by themselves: the Raft log in
// <data>/rachis holds every entry after what is durable here, and before the
// log is compacted the state is synced (sync_wal()).
//
// The topology, the database records and the certificates are small and read
// on every request, so they are also kept in memory; compare-exchange values (there may be
// millions) are only read from RocksDB.
//
// Snapshots stream (rachis/snapshot_stream.h): read_snapshot() pins one RocksDB
// snapshot and reads it in chunks of about 1 MB; a receiver writes the chunks
// into a staging RocksDB beside the state (<path>.incoming, see
// stage_snapshot()), and install() swaps it in: close, rename the directories,
// reopen. Neither side ever holds the whole state in memory. A crash before
// the swap leaves the old state (the staging directory is deleted at open); a
// crash between the two renames is rolled back at open (<path>.old becomes the
// state again).
//
// Owned by ClusterStateMachine. Writes, stage_snapshot() and install() come from
// the Raft thread only; reads from any thread. A shared mutex guards the
// in-memory copies; the RocksDB instance is shared (readers copy a shared_ptr to
// it): install() waits until the last reader of the old instance dropped (and
// so closed) it, while new readers wait for the new one.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "rachis/cluster/certificate_record.h"
#include "rachis/cluster/database_record.h"
#include "rachis/cluster/subscription_record.h"
#include "rachis/cluster/topology.h"
#include "rachis/core/types.h"
#include "rachis/snapshot_stream.h"
#include "storage/status.h"

namespace rocksdb {
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
  Certificates = 6,
  Subscriptions = 7,
  SubscriptionDelivered = 8,
};
inline constexpr int kStateFamilies = 9;

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
  struct Store;  // one open RocksDB instance and its column families

 public:
  // Opens (or creates) the state at `path`. First finishes what a crash
  // interrupted: deletes a leftover <path>.incoming, rolls back a half-done swap
  // (<path>.old without <path>), deletes <path>.old after a completed one.
  // IOError/Corruption when RocksDB cannot open it or its format is unknown.
  static Result<std::unique_ptr<ClusterState>> open(const std::string& path);
  ~ClusterState();
  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;

  // --- reads (any thread) ---
  core::Index applied() const;
  Topology topology() const;
  // Records are immutable once stored and shared: a lookup on the request path
  // costs a reference count, not a copy. nullptr when there is no such record.
  std::shared_ptr<const DatabaseRecord> record(std::string_view database) const;
  std::vector<std::shared_ptr<const DatabaseRecord>> records() const;
  // IOError/Corruption when RocksDB fails; nullopt when the key has no value.
  Result<std::optional<CompareExchangeValue>> compare_exchange(std::string_view database, std::string_view key) const;
  // Values whose key starts with `prefix` (case-insensitive), in key order,
  // skipping `start`, at most `page_size`.
  Result<std::vector<CompareExchangeValue>> compare_exchange_prefix(std::string_view database, std::string_view prefix,
                                                                    std::uint64_t start, std::uint64_t page_size) const;
  // How many compare-exchange values / identities `database` has.
  Result<std::uint64_t> count(StateFamily family, std::string_view database) const;
  Result<std::uint64_t> identity(std::string_view database, std::string_view prefix) const;
  // Every identity of `database`: lowered prefix -> last value handed out.
  Result<std::map<std::string, std::uint64_t>> identities(std::string_view database) const;
  // Cluster-wide transactions of `database` with index > `after`, in index order, at most `limit`.
  Result<std::vector<ClusterTransactionRecord>> cluster_transactions(std::string_view database, std::uint64_t after,
                                                                     std::size_t limit) const;

  // The certificate registered with `thumbprint` (any case); nullptr when none.
  std::shared_ptr<const CertificateRecord> certificate(std::string_view thumbprint) const;
  // The first certificate (by thumbprint) whose public key hash is `hash`; nullptr when none.
  std::shared_ptr<const CertificateRecord> certificate_by_key_hash(std::string_view hash) const;
  // Every registered certificate, by thumbprint.
  std::vector<std::shared_ptr<const CertificateRecord>> certificates() const;
  // The pull replication hub accesses registered for the certificate with
  // `thumbprint` (any case) or, when `public_key_hash` is not empty, over
  // that public key, with their database's name; empty when none. The access
  // policy refuses such a certificate everything but its hub.
  struct HubGrant {
    std::string database;
    HubAccess access;
  };
  std::vector<HubGrant> hub_grants(std::string_view thumbprint, std::string_view public_key_hash) const;

  Result<std::optional<std::string>> value(std::string_view key) const;
  Result<std::uint64_t> value_count() const;

  // The data subscription `name` (any case) of `database`; nullopt when none.
  // IOError/Corruption when RocksDB fails.
  Result<std::optional<SubscriptionRecord>> subscription(std::string_view database, std::string_view name) const;
  // Every subscription of `database`, by lowered name.
  Result<std::vector<SubscriptionRecord>> subscriptions(std::string_view database) const;
  // The change vector of the newest version of `document_id` (any case) that
  // an acknowledged batch of subscription `subscription_id` delivered; nullopt
  // when none was recorded. IOError/Corruption when RocksDB fails.
  Result<std::optional<std::string>> delivered_change_vector(std::string_view database, std::uint64_t subscription_id,
                                                             std::string_view document_id) const;
  // How many documents of subscription `subscription_id` have a delivered version recorded.
  Result<std::uint64_t> delivered_count(std::string_view database, std::uint64_t subscription_id) const;

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
    void put_certificate(const CertificateRecord& c);
    void delete_certificate(std::string_view thumbprint);
    void put_subscription(std::string_view database, const SubscriptionRecord& r);
    void delete_subscription(std::string_view database, std::string_view name);
    // Records that a batch of subscription `subscription_id` delivered
    // `document_id` at `change_vector` (replaces what was recorded for it).
    void put_delivered(std::string_view database, std::uint64_t subscription_id, std::string_view document_id,
                       std::string_view change_vector);
    // Forgets every delivered version recorded for subscription `subscription_id`.
    Status delete_delivered(std::string_view database, std::uint64_t subscription_id);
    // Everything the state holds for `database`: values, identities, transactions,
    // subscriptions and their delivered versions.
    Status delete_database_data(std::string_view database);

   private:
    friend class ClusterState;
    std::shared_ptr<Store> store_;  // the instance the batch is for
    std::unique_ptr<rocksdb::WriteBatch> batch_;
    std::optional<Topology> topology_;
    std::map<std::string, std::optional<DatabaseRecord>> records_;  // lowered name -> new value or erase
    std::map<std::string, std::optional<CertificateRecord>> certificates_;  // thumbprint -> new value or erase
  };

  // Writes the batch with applied index `index` (not synced). IOError on failure
  // (the caller treats it as fatal: the state would fall behind the log).
  Status commit(Batch& batch, core::Index index);

  // Makes every commit so far durable (before the Raft log is compacted).
  Status sync_wal();
  // Empties the state (a node starting over). Synced.
  Status clear();

  // --- snapshots ---
  // Chunks hold records up to about this many bytes.
  static constexpr std::size_t kSnapshotChunkBytes = 1u << 20;

  // The sending side: one consistent view of every family (a pinned RocksDB
  // snapshot), read in chunks of records (u8 family, bytes key, bytes value).
  // Keeps the RocksDB instance it reads alive, even across install() or the
  // ClusterState's destruction. Any thread; one thread at a time.
  class SnapshotReader final : public SnapshotSource {
   public:
    ~SnapshotReader() override;
    core::Index applied() const override { return applied_; }
    Status next(std::string* chunk) override;
    std::string trailer() const override;

   private:
    friend class ClusterState;
    struct View;
    explicit SnapshotReader(std::unique_ptr<View> view);
    std::unique_ptr<View> view_;
    core::Index applied_ = 0;
    std::uint64_t records_ = 0;
  };
  // Pins the current state. IOError when it cannot be read.
  Result<std::unique_ptr<SnapshotReader>> read_snapshot() const;

  // The receiving side: a fresh RocksDB at <path>.incoming filled chunk by chunk
  // (each chunk one unlogged write batch; finish() flushes it to disk and closes
  // it). Destroying it before install() deletes the directory, so an
  // interrupted transfer leaves nothing behind. Raft thread.
  class StagedSnapshot final : public SnapshotSink {
   public:
    ~StagedSnapshot() override;
    Status add(std::string_view chunk) override;
    Status finish(std::string_view trailer) override;
    // The applied index the trailer announced (after finish()).
    core::Index applied() const { return applied_; }

   private:
    friend class ClusterState;
    StagedSnapshot(std::string path, std::shared_ptr<Store> store);
    std::string path_;
    std::shared_ptr<Store> store_;  // null once finished
    bool finished_ = false;
    bool installed_ = false;
    std::uint64_t records_ = 0;
    core::Index applied_ = 0;
  };
  // Replaces any leftover staging directory with an empty one. IOError.
  Result<std::unique_ptr<StagedSnapshot>> stage_snapshot();
  // Swaps a finished staged snapshot in as the state (its applied index, topology
  // and records included). InvalidArgument when `staged` is unfinished or not
  // ours; Busy when readers kept the current state open for 10 s (nothing changed,
  // retry later); IOError/Corruption when the swap failed halfway: the node must
  // stop (the next open() rolls back to the old state).
  Status install(std::unique_ptr<StagedSnapshot> staged);

 private:
  ClusterState() = default;
  static Result<std::shared_ptr<Store>> open_store(const std::string& path);
  // Reloads the in-memory copies from `st`.
  Status load_caches(const Store& st);
  // The current instance; null only after install() failed halfway.
  std::shared_ptr<Store> store() const;

  std::string path_;
  mutable std::shared_mutex store_mu_;  // guards store_ (the pointer, not the DB)
  std::shared_ptr<Store> store_;

  mutable std::shared_mutex mu_;
  core::Index applied_ = 0;
  Topology topology_;
  std::map<std::string, std::shared_ptr<const DatabaseRecord>> records_;  // by lowered name
  std::map<std::string, std::shared_ptr<const CertificateRecord>> certificates_;  // by upper-case thumbprint
};

}  // namespace corvus::rachis::cluster
