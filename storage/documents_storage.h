#pragma once
// DocumentsStorage: the documents of one database: the RocksDB Engine, its
// single writer (TransactionMerger), and snapshot reads that never wait for
// the writer. Owned by the server's DocumentDatabase. Reads are thread-safe;
// writes go through submit()/write() from any thread.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "storage/blob_store.h"
#include "storage/document.h"
#include "storage/engine.h"
#include "storage/replicated_writes.h"
#include "storage/revisions_configuration.h"
#include "storage/status.h"
#include "storage/storage_options.h"
#include "storage/transaction_merger.h"
#include "storage/write_transaction.h"

namespace corvus::storage {

// One entry of the etag order: a live document or a tombstone.
using Change = std::variant<Document, Tombstone>;

struct DatabaseStats {
  std::string database_id;
  uint64_t last_etag = 0;
  uint64_t document_count = 0;
  uint64_t tombstone_count = 0;
  // Canonical text of the merge of every change vector stored or seen, this
  // node's entry at the last etag ("A:12-<id>, B:7-<id>"); empty when new.
  std::string database_change_vector;
  uint64_t size_bytes = 0;
};

class DocumentsStorage {
 public:
  // Opens or creates the database in `dir`; a new database gets a fresh
  // database id. IOError if the directory cannot be used.
  static Result<std::unique_ptr<DocumentsStorage>> open(const std::string& dir, StorageOptions options);
  // Drains queued writes, then closes. Must not run on this storage's own
  // writer or syncer thread (it joins them): see on_own_writer_thread().
  ~DocumentsStorage();
  // True inside one of this storage's transactions or completions.
  bool on_own_writer_thread() const { return merger_ && merger_->on_own_thread(); }

  // --- reads (any thread; consistent snapshot per call) ---
  Result<Document> get(std::string_view id) const;  // NotFound if absent
  // Every read returns an I/O error or corruption it meets; absence is only
  // ever "not found" (or nullopt), never the stand-in for a failed read.
  Result<std::vector<std::optional<Document>>> get_many(const std::vector<std::string>& ids) const;
  // Newest first (descending etag).
  Result<std::vector<Document>> list_recent(size_t start, size_t page_size) const;
  Result<std::vector<Document>> list_collection(std::string_view collection, size_t start, size_t page_size) const;
  // Ascending by id among ids starting with `prefix` (case-insensitive).
  Result<std::vector<Document>> list_starting_with(std::string_view prefix, size_t start, size_t page_size) const;
  // Documents and tombstones with etag > `after_etag`, ascending, at most `limit`.
  Result<std::vector<Change>> changes_since(uint64_t after_etag, size_t limit) const;
  DatabaseStats stats() const;
  // The last etag and database change vector of the same durable batch, the
  // last one (what stats() says, without its costlier parts).
  struct Published {
    uint64_t last_etag = 0;
    std::string database_change_vector;
  };
  Published published() const;

  // --- writes ---
  // Queues a transaction; `done` runs on the writer thread once it is durable.
  // `more_follows`: TransactionMerger::enqueue's (a stream's next part comes).
  void submit(TransactionMerger::Work work, TransactionMerger::Done done, size_t size_hint = 0,
              bool more_follows = false);
  // The same, run on the calling thread when no other write is under way
  // (TransactionMerger::enqueue_or_run): for a request's own write.
  void submit_or_run(TransactionMerger::Work work, TransactionMerger::Done done, size_t size_hint = 0);
  // Blocking convenience for tests and start-up paths.
  Status write(TransactionMerger::Work work);

  // --- commit hook ---
  // Called with the new last etag after each durable batch that changed
  // something, once its transactions were told (so possibly after a write()
  // returned), on the thread that wrote the batch (the merger's, or a
  // submit_or_run caller's) while it holds the listeners' mutex: a listener must be quick and must not block (post the work
  // elsewhere, e.g. to an io_context or a condition variable), must not write
  // to this storage and must not add or remove listeners. Returns an id for
  // remove_commit_listener.
  using CommitListener = std::function<void(uint64_t last_etag)>;
  uint64_t add_commit_listener(CommitListener listener);
  // After it returns the listener is not running and will not be called again.
  void remove_commit_listener(uint64_t id);

  // A count kept by WriteTransaction::adjust_count (meta_keys::k...Count), as
  // of the last durable batch.
  Result<uint64_t> read_count(const char* meta_key) const;

  // Raft index of the last cluster-wide transaction applied (durably) here.
  Result<uint64_t> last_cluster_transaction_index() const;

  const MergerStats& merger_stats() const { return merger_->stats(); }
  // For the modules stored beside the documents (counters, attachments,
  // revisions), which read with their own snapshots.
  const Engine& engine() const { return *engine_; }
  const std::string& database_id() const { return database_id_; }
  // The attachments' bytes (<dir>/blobs/), see attachments_storage.h.
  const std::shared_ptr<BlobStore>& blob_store() const { return blobs_; }
  const std::string& node_tag() const { return options_.node_tag; }
  const StorageOptions& options() const { return options_; }

  // The revisions configuration in force (nullptr: none), from the database
  // record; the server sets it whenever the record changes. Writes read it
  // once per document write.
  std::shared_ptr<const RevisionsConfiguration> revisions_configuration() const {
    return revisions_configuration_.load(std::memory_order_acquire);
  }
  void set_revisions_configuration(std::shared_ptr<const RevisionsConfiguration> c) {
    revisions_configuration_.store(std::move(c), std::memory_order_release);
  }

  // What a replication conflict becomes here (ReplicatedWrites::apply), from
  // the database record's ConflictSolverConfig; the server sets it whenever
  // the record changes. ResolveToLatest (RavenDB's default) until then.
  ConflictPolicy conflict_policy() const { return conflict_policy_.load(std::memory_order_acquire); }
  void set_conflict_policy(ConflictPolicy p) { conflict_policy_.store(p, std::memory_order_release); }

 private:
  friend class WriteTransaction;
  friend class TransactionMerger;

  DocumentsStorage() = default;
  Status load_or_create_meta();
  // Called by the merger after a batch is durable.
  void publish(const WriterState& state);
  // Tells the commit listeners; the merger calls it after publish.
  void notify_commit_listeners(uint64_t last_etag);

  StorageOptions options_;
  std::unique_ptr<Engine> engine_;
  std::string database_id_;
  // Counters as of the last durable batch; written by the merger's syncer under
  // its sync mutex, read by the merger when it (re)starts from durable state.
  WriterState writer_state_;
  std::atomic<uint64_t> published_document_count_{0};
  std::atomic<uint64_t> published_tombstone_count_{0};
  std::atomic<std::shared_ptr<const Published>> published_;
  // Before merger_, so they outlive the syncer that calls them.
  std::mutex listeners_mu_;
  std::map<uint64_t, CommitListener> listeners_;
  uint64_t next_listener_id_ = 0;
  std::shared_ptr<BlobStore> blobs_;  // before merger_: completions collect blobs until it stops
  std::unique_ptr<TransactionMerger> merger_;
  std::atomic<std::shared_ptr<const RevisionsConfiguration>> revisions_configuration_;
  std::atomic<ConflictPolicy> conflict_policy_{ConflictPolicy::ResolveToLatest};
};

// Meta keys, shared by the reader and the writer.
// The on-disk layout this build reads and writes; kept in `meta`. A database
// with another (or no) format version is refused at open, never misread.
inline constexpr int kFormatVersion = 2;

namespace meta_keys {
inline constexpr const char* kFormatVersion = "format-version";
inline constexpr const char* kDatabaseId = "database-id";
inline constexpr const char* kLastEtag = "last-etag";
inline constexpr const char* kDocumentCount = "document-count";
inline constexpr const char* kTombstoneCount = "tombstone-count";
inline constexpr const char* kIdentityPrefix = "identity/";
inline constexpr const char* kLastClusterTransaction = "last-cluster-transaction";
// Canonical text of WriterState::database_change_vector (absent: only this
// node's entry, as before it was kept).
inline constexpr const char* kDatabaseChangeVector = "database-change-vector";
// Counts of what lives beside the documents (WriteTransaction::adjust_count).
inline constexpr const char* kRevisionCount = "revision-count";
inline constexpr const char* kCounterCount = "counter-count";
inline constexpr const char* kAttachmentCount = "attachment-count";
inline constexpr const char* kUniqueAttachmentCount = "unique-attachment-count";
// Conflicting versions stored (all documents): a put looks for conflicts only when it is not 0.
inline constexpr const char* kConflictVersionCount = "conflict-version-count";
}  // namespace meta_keys

// Etag-index values start with one of these.
inline constexpr char kEtagOfDocument = 'D';
inline constexpr char kEtagOfTombstone = 'T';
inline constexpr char kEtagOfCounter = 'C';
inline constexpr char kEtagOfAttachment = 'A';
inline constexpr char kEtagOfRevision = 'R';
inline constexpr char kEtagOfConflict = 'X';


}  // namespace corvus::storage
