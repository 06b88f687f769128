#pragma once
// DocumentSnapshot: one RocksDB snapshot of a database's documents, read one
// document at a time: queries and streams scan a collection (or every
// document) in etag order and load related documents from the same point in
// time, without ever holding a whole result. Created by a reader on its own
// thread; not thread-safe; must not outlive the DocumentsStorage. It pins the
// snapshot (and the files it needs) for its lifetime: streams hold it as long
// as the client reads.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>

#include "storage/document.h"
#include "storage/status.h"

namespace corvus::storage {

class DocumentsStorage;
class Engine;

// The document stored under `key` (a lowered id) as `opts` sees it: nullopt
// when absent; an I/O error or an undecodable value is returned, never taken
// for absence. Shared by DocumentsStorage's reads and the snapshot's.
Result<std::optional<Document>> read_document(const Engine& engine, const rocksdb::ReadOptions& opts,
                                              const rocksdb::Slice& key);

class DocumentSnapshot {
 public:
  explicit DocumentSnapshot(const DocumentsStorage& storage);
  ~DocumentSnapshot();
  DocumentSnapshot(const DocumentSnapshot&) = delete;
  DocumentSnapshot& operator=(const DocumentSnapshot&) = delete;

  // nullopt when there is no such document; read errors are returned.
  Result<std::optional<Document>> get(std::string_view id) const;
  // Several documents in one batched read (RocksDB MultiGet), by the keys
  // queries hold (lowered ids); nullopt for each that does not exist.
  Result<std::vector<std::optional<Document>>> get_many(const std::vector<std::string>& lowered_ids) const;
  // The last etag of the database as of this snapshot.
  Result<uint64_t> last_etag() const;

  // How many documents each collection holds, by the collection's name as its
  // documents spell it ("@empty" for none). Walks the collection index (keys,
  // one document read per collection): O(documents).
  Result<std::map<std::string, uint64_t>> collection_counts() const;

  // A walk over documents (each scan_* below says in which order).
  class Cursor {
   public:
    virtual ~Cursor() = default;
    // The next document, nullopt at the end. Errors are returned, never taken
    // for the end.
    virtual Result<std::optional<Document>> next() = 0;
    // How many documents next() would still return, consuming them: what a
    // query reports as its total after the page it returned. This default
    // reads them; a cursor over an index counts keys instead.
    virtual Result<uint64_t> count_rest();
  };
  // One collection (case-insensitive; "" is "@empty").
  std::unique_ptr<Cursor> scan_collection(std::string_view collection, uint64_t after_etag = 0) const;
  // Every document of every collection.
  std::unique_ptr<Cursor> scan_all(uint64_t after_etag = 0) const;
  // Every document, newest first (descending etag): /streams/docs without a prefix.
  std::unique_ptr<Cursor> scan_all_descending() const;
  // Documents whose id starts with `prefix` (case-insensitive; "" is every
  // document), in lowered-id order, after the id `start_after` when not empty
  // (a paging cursor from the client: it need not exist).
  std::unique_ptr<Cursor> scan_id_prefix(std::string_view prefix, std::string_view start_after = {}) const;

 private:
  const DocumentsStorage& storage_;
  const rocksdb::Snapshot* snapshot_;
  rocksdb::ReadOptions read_options_;
};

}  // namespace corvus::storage
