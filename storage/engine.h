#pragma once
// Engine: one RocksDB instance (one database's directory) and its column
// families. Owned by DocumentsStorage; thread-safe as RocksDB is (concurrent
// reads, writes only from the transaction merger's thread).

#include <array>
#include <memory>
#include <string>

#include <rocksdb/db.h>

#include "storage/status.h"
#include "storage/storage_options.h"

namespace corvus::storage {

enum class Family : int {
  Documents = 0,  // lowered id -> encoded Document
  Tombstones,     // lowered id -> encoded Tombstone
  Etags,          // big-endian etag -> kind byte + lowered id (the "changes since" order)
  Collections,    // lowered collection \0 big-endian etag -> lowered id
  Meta,           // format version, database id, last etag, database change vector, counts, identities
  // Beside the documents (each owned by its module, see storage/README.md):
  Counters,             // lowered doc id \0 lowered counter name -> local etag + CounterValue (counters_storage.h)
  // Attachments (attachments_storage.h): the record is JSON {DocumentId, Name,
  // ContentType, Hash, Size, ChangeVector, Etag}; the hash is base64 SHA-256.
  Attachments,          // lowered doc id \0 lowered attachment name -> the attachment record
  AttachmentHashes,     // base64 SHA-256 -> big-endian reference count (bytes: blob_store.h)
  Revisions,            // lowered doc id \0 big-endian etag -> a revision (encoded Document)
  RevisionChangeVectors,  // change vector -> Revisions key
  // A document in conflict (conflicts_storage.h): lowered doc id \0 canonical
  // change vector -> that version as an encoded Document (flags Conflicted;
  // a deletion has DeleteRevision and no JSON). Each takes an etag (kind 'X').
  Conflicts,
  Count,
};

// The etag and collection orders: keys only appended (by etag) and only ever
// iterated, never looked up one by one. The engine tunes their memtables for
// that; write transactions keep them out of a batch's index.
constexpr bool is_order_family(Family family) { return family == Family::Etags || family == Family::Collections; }

// What every RocksDB of a node that may read through the node's shared block
// cache sets (the databases' engines here, the auto-indexes in query/): no
// periodic statistics dump in RocksDB's LOG. Each dump walks the whole block
// cache, and the node's HyperClockCache (server/server_store.cc) is a slot
// table sized up front (2M slots for the default quarter of 24 GB: 0.35 s of
// CPU per RocksDB instance, 6 s after it opens and every 10 minutes after).
// Corvus's own metrics and /databases/{db}/stats say what an operator needs.
void without_statistics_dump(rocksdb::DBOptions& options);

class Engine {
 public:
  // Opens (creating if needed) the database at `path`. IOError when the
  // directory is unusable or locked by another process.
  static Result<std::unique_ptr<Engine>> open(const std::string& path, const StorageOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Family f) const { return handles_[static_cast<int>(f)]; }
  const std::string& path() const { return path_; }

  // Bytes on disk (SST files) plus memtables, for metrics.
  uint64_t approximate_size_bytes() const;

 private:
  Engine() = default;
  std::string path_;
  std::unique_ptr<rocksdb::Env> env_;  // over wal_file_system(); outlives db_
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, static_cast<int>(Family::Count)> handles_{};
};

// Converts a RocksDB status; `what` says which operation failed.
Status from_rocksdb(const rocksdb::Status& s, const std::string& what);

}  // namespace corvus::storage
