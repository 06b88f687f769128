#pragma once
// StorageOptions: how one database's storage is opened. Plain data.

#include <cstddef>
#include <memory>
#include <string>

#include "storage/clock.h"

namespace rocksdb {
class Cache;
class FileSystem;
class RateLimiter;
}

namespace corvus::storage {

struct StorageOptions {
  // Node tag stamped into change vectors and server-generated ids.
  // Default: "A" (a fresh single-node cluster).
  std::string node_tag = "A";

  // Sync the WAL before acknowledging a write. Turning it off loses acknowledged
  // writes on power failure; only benchmarks of the non-durable path want that.
  // Default: true.
  bool sync_writes = true;

  // Most transactions merged into one WriteBatch. Larger batches amortize the
  // fsync further but make the first transaction of the batch wait longer.
  // Default: 1024.
  size_t max_transactions_per_batch = 1024;

  // Most payload bytes merged into one WriteBatch (a single transaction larger
  // than this still runs, alone). Default: 32 MiB.
  size_t max_batch_bytes = 32u << 20;

  // RocksDB block cache for this database when `block_cache` is not set.
  // Default: 64 MiB.
  size_t block_cache_bytes = 64u << 20;

  // A block cache shared by every database (and their indexes) of the
  // process, so the memory given to caching goes to whatever is read most,
  // not a fixed slice per database. Reads of documents that miss it cost a
  // read of the block (from the OS page cache at best), a checksum, an
  // allocation and an eviction. Default (null): a cache of block_cache_bytes
  // per database.
  std::shared_ptr<rocksdb::Cache> block_cache;

  // Bounds the bytes per second that memtable flushes and compactions write,
  // shared by every database of the process like the block cache. Unbounded,
  // a flush runs in one burst that takes a core and the disk for a few
  // hundred milliseconds, and the writes acknowledged meanwhile wait behind
  // it (the WAL is never limited). Default (null): unbounded.
  std::shared_ptr<rocksdb::RateLimiter> background_write_limiter;

  // DocumentsStorage::submit_or_run may run a write and its WAL sync on the
  // calling thread when no other write is under way (saving two thread
  // hand-offs). Only for callers that can afford to block that long: corvusd
  // sets it when it has more than one HTTP I/O thread. Default: false (queue).
  bool write_on_caller_when_idle = false;

  // Wall time source; tests inject a fixed clock. Default: the system clock.
  std::shared_ptr<const Clock> clock = std::make_shared<SystemClock>();

  // The file system RocksDB writes through; tests inject one that simulates a
  // power loss (tests/support/power_loss_file_system.h). Default (null): the
  // operating system's.
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

}  // namespace corvus::storage
