#pragma once
// WriteTransaction: what a transaction submitted to the TransactionMerger sees.
// It reads its own (and earlier merged transactions') writes through a
// WriteBatchWithIndex over the database, and its mutations land in that batch.
// Created and used only on the merger's writer thread; never stored.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>

#include <boost/json/object.hpp>
#include <rocksdb/utilities/write_batch_with_index.h>

#include "storage/batch_documents.h"
#include "storage/change_vector.h"
#include "storage/document.h"
#include "storage/engine.h"
#include "storage/status.h"

namespace corvus::storage {

class DocumentsStorage;

// The keys a batch's index holds, as hashes: a read of a key the batch never
// wrote (is there a tombstone, a counter, an attachment under this key yet?)
// skips the index's skip-list seek. A hash collision only costs that seek; a
// key left here by a rolled-back transaction too. (Documents are not in the
// index: BatchDocuments.)
class BatchKeys {
 public:
  // A key's hash, computed once for a read that looks through several batches.
  static uint64_t hash(uint32_t family_id, std::string_view key) {
    return std::hash<std::string_view>{}(key) ^ (uint64_t{family_id + 1} * 0x9E3779B97F4A7C15ull);
  }
  void add(uint32_t family_id, std::string_view key) { hashes_.insert(hash(family_id, key)); }
  bool may_hold(uint64_t key_hash) const { return hashes_.contains(key_hash); }

 private:
  std::unordered_set<uint64_t> hashes_;
};

// A batch built before the one being built and handed to the syncer, possibly
// not yet in the database: reads see it between the newer batches and the
// database.
struct BatchBehind {
  rocksdb::WriteBatchWithIndex* index;  // read-only use; NewIterator is non-const
  const BatchKeys* keys;                // what `index` holds
  const BatchDocuments* documents;      // the documents it holds (not in `index`)
};

// Counters the writer owns; a transaction works on a copy that is kept only if
// the transaction succeeds, and published to readers once the batch is durable.
struct WriterState {
  uint64_t last_etag = 0;
  uint64_t document_count = 0;
  uint64_t tombstone_count = 0;
  // The merge of every change vector this database has stored or seen (local
  // writes, replicated ones, ignored ones), with this node's entry at the last
  // etag: what a peer needs to know what we have. Kept in `meta` by
  // write_state in the same batch.
  ChangeVector database_change_vector;
  // Versions held in the conflicts family: while 0 (the usual case) a put or
  // delete need not look for conflicts of its document.
  uint64_t conflict_versions = 0;
};

struct PutResult {
  std::string id;  // final id: generated when the request ended in '/', '|' or was empty
  std::string collection;
  std::string change_vector;
  int64_t last_modified_us = 0;
  uint32_t flags = 0;
  uint64_t etag = 0;
};

struct DeleteResult {
  bool deleted = false;  // false when there was no such document
  std::string change_vector;
};

struct HiLoRange {
  std::string prefix;  // "users/"
  uint64_t low = 0;
  uint64_t high = 0;
  uint64_t last_size = 0;
  int64_t range_at_us = 0;
};

// A write that comes from elsewhere (a cluster-wide transaction now,
// replication later): it carries its own change vector and time, which the
// document keeps instead of being stamped with this node's.
struct ExternalVersion {
  std::string change_vector;  // stored in canonical form
  int64_t last_modified_us = 0;
  // Replication: the version's own flags and @counters/@attachments, as sent,
  // instead of those carried over from the local version. nullopt: carried.
  std::optional<uint32_t> flags;
};

class WriteTransaction {
 public:
  // `behind`: the batches in flight, newest first; reads look through them
  // between this batch and the database. `keys`: what `batch`'s index holds,
  // `documents`: the documents it holds (every write here is added to one).
  // `after_commit` collects the actions of after_commit() (see there).
  WriteTransaction(DocumentsStorage& storage, rocksdb::WriteBatchWithIndex& batch, BatchKeys& keys,
                   BatchDocuments& documents, WriterState& state, std::span<const BatchBehind> behind,
                   std::vector<std::function<void()>>& after_commit)
      : storage_(storage), batch_(batch), keys_(keys), documents_(documents), state_(state), behind_(behind),
        after_commit_(after_commit) {}

  // Stores a document. `body` is the JSON as sent, with an optional @metadata
  // object (@collection is kept; server-managed keys are replaced).
  // `expected_change_vector`: nullopt = no check; "" = must not exist;
  // otherwise must equal the current change vector.
  // Errors: ConcurrencyConflict, InvalidArgument (bad id, collection change).
  // `external`: the version to store instead of this node's (no id generation then).
  Result<PutResult> put(std::string_view id, boost::json::object body,
                        const std::optional<std::string>& expected_change_vector,
                        const ExternalVersion* external = nullptr);

  // Deletes a document, leaving a tombstone. Same `expected_change_vector`
  // rules as put (a non-empty expectation on a missing document is a conflict).
  Result<DeleteResult> remove(std::string_view id,
                              const std::optional<std::string>& expected_change_vector,
                              const ExternalVersion* external = nullptr);

  // Reads the current version, including writes earlier in this merged batch.
  Result<std::optional<Document>> get(std::string_view id);

  // Next HiLo range for `tag` (RavenDB's collection-based id prefix), kept as
  // RavenDB keeps it: document "Raven/Hilo/<tag>" with the range's end in "Max". Ranges
  // never overlap, across restarts too. `last_size`/`last_range_at_us` are what
  // the client had; the range grows when the client comes back quickly.
  Result<HiLoRange> next_hilo(std::string_view tag, uint64_t last_size, int64_t last_range_at_us,
                              uint64_t last_max);
  // Gives back the unused tail [last+1, end] if nobody took a range since.
  Status return_hilo(std::string_view tag, uint64_t end, uint64_t last);

  // Next value of the identity `prefix` (without the trailing '|').
  Result<uint64_t> next_identity(std::string_view prefix);

  // --- for the modules stored beside the documents (counters, attachments,
  // revisions); each owns its families (engine.h) and keeps them consistent
  // with the document in the same transaction ---

  // Newest value of `key`: this batch, the batch being synced, then the database.
  // Internal error for a write-only family (below).
  Result<std::optional<std::string>> read(Family family, const std::string& key);
  // Iterates `family` as this transaction sees it (this batch over the
  // batches in flight over the database). Do not write while iterating. Not for a
  // write-only family, nor the documents.
  std::unique_ptr<rocksdb::Iterator> new_iterator(Family family);
  // The etag and collection orders are write-only inside a transaction: they
  // are read only from committed data (snapshots, cursors, replication), so
  // their entries go into the batch without entering its index, as RocksDB's
  // own transactions do with DisableIndexing. The documents are read by key
  // only, through BatchDocuments, never iterated here. So none of a
  // document's three keys takes a skip-list insertion in the batch.
  static bool write_only(Family family) { return is_order_family(family); }
  void put_raw(Family family, const std::string& key, std::string_view value);
  void erase_raw(Family family, const std::string& key);
  // Takes the next database etag (every write of any kind takes one).
  uint64_t next_etag() { return ++state_.last_etag; }
  // The etag order entry `etag` -> kind + key, and its removal.
  void index_etag(uint64_t etag, char kind, const std::string& key);
  void unindex_etag(uint64_t etag);
  DocumentsStorage& storage() { return storage_; }
  // Runs `action` on the syncer thread once this transaction is durable; never
  // if it rolls back or its batch fails to write. It must be quick.
  void after_commit(std::function<void()> action) { after_commit_.push_back(std::move(action)); }
  // Merges `cv` into the database change vector (everything stored goes
  // through it; replication also notes what it saw and ignored).
  void note_change_vector(const ChangeVector& cv) { state_.database_change_vector.merge(cv); }
  // The conflict versions held (ConflictsStorage keeps it as it adds and resolves them).
  uint64_t& conflict_versions() { return state_.conflict_versions; }
  // Adds `delta` to the count kept in `meta` under `meta_key` (the statistics'
  // counts of what lives beside the documents); Corruption below zero.
  Status adjust_count(const char* meta_key, int64_t delta);
  // That count as this transaction sees it (0 when never written).
  Result<uint64_t> read_u64(const std::string& meta_key);

  // A new version of document `id` whose body stays as it is and whose
  // server-owned metadata (@counters, @attachments, @flags) `edit` changes:
  // new etag, this node's change vector entry, new last-modified. NotFound if
  // there is no such document. `edit` gets the @metadata object and the flags.
  using MetadataEdit = std::function<Status(boost::json::object& metadata, uint32_t& flags)>;
  Result<PutResult> update_document_metadata(std::string_view id, const MetadataEdit& edit);

  // --- for replication (replicated_writes.h, conflicts_storage.h) ---

  // Stores a tombstone for `id`, which has no live version, with `version`'s
  // change vector and time (replaces an older tombstone). InvalidArgument if
  // the document exists (remove it instead) or the change vector is invalid.
  Status put_tombstone(std::string_view id, const std::string& collection, const ExternalVersion& version);
  // Removes the tombstone of `id` and its etag entry (replication purges the
  // tombstones every member has); false when `id` has no tombstone.
  Result<bool> purge_tombstone(std::string_view id);
  // Removes the current version of `id` (document or tombstone) without
  // leaving a tombstone: the document goes into conflict, its versions are
  // kept by ConflictsStorage in the same transaction.
  Status erase_current(std::string_view id);

  // The Raft index of the last cluster-wide transaction applied to this
  // database, kept in the same batch as the transaction's documents so each
  // is applied exactly once.
  Result<uint64_t> last_cluster_transaction_index();
  void set_last_cluster_transaction_index(uint64_t index);

 private:
  friend class TransactionMerger;
  // Writes the counters into the batch; the merger calls it once per batch.
  Result<std::string> resolve_id(std::string_view requested);
  // Stores `body` (whose @metadata is `metadata`) as the next version of `id`.
  Result<PutResult> write_version(const std::string& id, boost::json::object& body, boost::json::object& metadata,
                                  const std::string& collection, const std::optional<Document>& existing,
                                  uint32_t flags, const ExternalVersion* external,
                                  const ChangeVector* supersedes = nullptr);
  void write_u64(const std::string& meta_key, uint64_t v);
  void write_state();

  DocumentsStorage& storage_;
  rocksdb::WriteBatchWithIndex& batch_;
  BatchKeys& keys_;
  BatchDocuments& documents_;
  WriterState& state_;
  std::span<const BatchBehind> behind_;  // newest first
  std::vector<std::function<void()>>& after_commit_;
};

}  // namespace corvus::storage
