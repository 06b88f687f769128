#pragma once
// CountersStorage: the named 64-bit counters stored beside the documents
// (Family::Counters), one CounterValue (a CRDT, counter_value.h) per counter.
//
// Layout. Key: lowered document id, '\0', lowered counter name. Value: eight
// big-endian bytes of the counter's local etag, then CounterValue::encode().
// Every change (increment, delete) takes a new database etag, indexed in the
// etag order as kind 'C' with the counter key (the old etag entry removed), so
// replication can walk counters like documents. A deleted counter stays as a
// tombstone (its entries at deletion, see counter_value.h) with its own etag;
// tombstones are not purged yet. Deleting a document turns its counters into
// such tombstones too (RavenDB drops them instead): a database's totals for a
// counter must never shrink, or a re-created counter's merge would bring old
// values back.
//
// The document's @metadata.@counters lists the names of its existing counters
// (sorted case-insensitively, as RavenDB's OrdinalIgnoreCase) and @flags has
// HasCounters while there is at least one; the document gets a new version
// only when a name is added or removed, never on a plain increment.
//
// Reads: CountersStorage, on one RocksDB snapshot per call, any thread.
// Writes: DocumentCounters, inside a WriteTransaction on the merger's writer
// thread; created per command, never stored.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/counter_value.h"
#include "storage/document.h"
#include "storage/status.h"

namespace corvus::storage {

class DocumentsStorage;
class WriteTransaction;

// RavenDB's limit for a counter name is not documented; ours keeps keys sane.
inline constexpr size_t kMaxCounterNameBytes = 512;

// InvalidArgument unless `name` is 1..kMaxCounterNameBytes bytes without control characters.
Status validate_counter_name(std::string_view name);

// A counter as read: its value and local etag.
struct StoredCounter {
  uint64_t etag = 0;  // this database's etag of the counter's last change
  CounterValue value;
};

// "<node tag>-<database id>" (RavenDB's key) -> that entry's share, for replies
// with every node's value; only entries that count since the last deletion.
std::vector<std::pair<std::string, int64_t>> per_node_values(const CounterValue& value);

// The key of counter `name` of document `doc_id`.
std::string counter_key(std::string_view doc_id, std::string_view name);

class CountersStorage {
 public:
  explicit CountersStorage(const DocumentsStorage& storage) : storage_(storage) {}

  // The existing counters among `names` of document `doc_id`, nullopt for
  // absent or deleted ones, in the order asked. One snapshot.
  Result<std::vector<std::optional<StoredCounter>>> get(std::string_view doc_id,
                                                        const std::vector<std::string>& names) const;
  // Every existing counter of `doc_id`, in @counters order. Empty when the
  // document has none (or does not exist).
  Result<std::vector<StoredCounter>> get_all(std::string_view doc_id) const;

  // --- inside a write transaction ---

  // Marks every counter of the document being deleted as deleted (each takes
  // an etag); WriteTransaction::remove calls it for documents with HasCounters.
  static Status on_document_deleted(WriteTransaction& txn, const Document& doc);

  // Replication (replication_items.h): merges counter `remote.name()` of
  // document `doc_id` as another database shipped it, without reading or
  // touching the document, which may not be here yet (a document changed after
  // its counter comes later in the etag order) or be in conflict: the
  // document's own item carries its @counters. Takes an etag and writes only
  // when the merge changes something. Returns the merged counter, or nullopt
  // when nothing changed (so an item applied twice writes nothing).
  // InvalidArgument for a bad name or an empty id.
  static Result<std::optional<StoredCounter>> merge_replicated(WriteTransaction& txn, std::string_view doc_id,
                                                               const CounterValue& remote);

 private:
  const DocumentsStorage& storage_;
};

// The counter operations of one command on one document, in a transaction.
// finish() must be called once after the operations; it writes the document's
// new @counters when names were added or removed.
class DocumentCounters {
 public:
  DocumentCounters(WriteTransaction& txn, std::string doc_id) : txn_(txn), doc_id_(std::move(doc_id)) {}

  // Adds `delta` (creating the counter at 0 if absent or deleted).
  // NotFound when the document does not exist; InvalidArgument on overflow
  // (nothing changes then) or a bad name.
  Result<StoredCounter> increment(std::string_view name, int64_t delta);
  // Deletes the counter; false (and nothing written) when it does not exist.
  // NotFound when the document does not exist.
  Result<bool> remove(std::string_view name);
  // Merges a counter's state from another database (CounterValue::merge), for
  // replication: the entries as they were shipped, `remote.name()` naming the
  // counter. Takes an etag and writes only when the merge changes something, so
  // applying the same state again is a no-op. NotFound when the document does
  // not exist. Returns the merged counter (which may be a tombstone).
  Result<StoredCounter> merge_remote(const CounterValue& remote);
  // The counter as this transaction sees it; nullopt when absent or deleted.
  Result<std::optional<StoredCounter>> get(std::string_view name);

  // Updates the document's @counters/@flags if names were added or removed.
  // Returns the document's change vector (empty if the document does not exist).
  Result<std::string> finish();

 private:
  friend class CountersStorage;
  // The outcome of merging a shipped state into the record under `key`.
  struct Merged {
    StoredCounter counter;           // the record after the merge
    bool changed = false;            // a new record or new entries: written under a new etag
    bool existence_changed = false;  // came into or went out of existence (the count moved)
  };
  // The merge shared by merge_remote and CountersStorage::merge_replicated:
  // reads the record, merges, writes it (new etag, old etag entry removed)
  // only when something changed, and keeps the counter count.
  static Result<Merged> merge_into_stored(WriteTransaction& txn, const std::string& key, const CounterValue& remote);

  // A counter key's state before a write: what a write needs to unindex the
  // old etag and to know whether the counter's count changes.
  struct Current {
    StoredCounter counter;             // the stored counter, empty when absent
    std::optional<uint64_t> old_etag;  // set when a record (live or tombstone) is stored
    bool existed = false;              // a live counter, not a tombstone
  };

  Status load_document();
  Result<std::optional<StoredCounter>> read(const std::string& key);
  Result<Current> read_current(const std::string& key);
  void write(const std::string& key, std::optional<uint64_t> old_etag, StoredCounter& counter);

  WriteTransaction& txn_;
  std::string doc_id_;
  std::optional<Document> document_;  // loaded by the first write
  bool loaded_ = false;
  std::vector<std::string> touched_;  // lowered names that came into or went out of existence
};

// OrdinalIgnoreCase: ASCII letters compared as upper case, other bytes as they are.
bool counter_name_less(std::string_view a, std::string_view b);

}  // namespace corvus::storage
