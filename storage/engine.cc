#include "storage/engine.h"

#include <filesystem>
#include <random>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include "storage/wal_file_system.h"

namespace corvus::storage {

namespace {
const char* const kFamilyNames[] = {"documents",   "tombstones",        "etags",
                                    "collections", "meta",              "counters",
                                    "attachments", "attachment-hashes", "revisions",
                                    "revision-change-vectors", "conflicts"};
static_assert(std::size(kFamilyNames) == static_cast<size_t>(Family::Count));
}  // namespace

Status from_rocksdb(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsIOError()) return Status::IOError(what + ": " + s.ToString());
  if (s.IsBusy() || s.IsTryAgain()) return Status::Busy(what + ": " + s.ToString());
  return Status::Internal(what + ": " + s.ToString());
}

void without_statistics_dump(rocksdb::DBOptions& options) { options.stats_dump_period_sec = 0; }

// The members of a database group receive the same writes at the same rate:
// with equal memtable sizes they flush, and then compact, at the same moment,
// and on a machine they share (or in a group whose writes wait for each
// other) the three bursts stall the replicated applies together. Each open
// picks its size at random in [48, 80) MiB, around RocksDB's 64 MiB default,
// so those moments drift apart (bench/README.md, "Background writes").
size_t jittered_write_buffer_bytes() {
  constexpr size_t kLeast = 48u << 20;
  constexpr size_t kSpread = 32u << 20;
  std::random_device seed;
  return kLeast + std::uniform_int_distribution<size_t>(0, kSpread - 1)(seed);
}

Result<std::unique_ptr<Engine>> Engine::open(const std::string& path, const StorageOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Status::IOError("cannot create database directory " + path + ": " + ec.message());

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = options.block_cache ? options.block_cache : rocksdb::NewLRUCache(options.block_cache_bytes);
  // Point lookups by id dominate reads; a Bloom filter skips files without the key.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // The same for the memtables: most writes first look up a key that is not
  // there (a new document, its tombstone), and without a filter each such
  // lookup walks a skip list of every key written since the last flush.
  cf_options.memtable_whole_key_filtering = true;
  cf_options.memtable_prefix_bloom_size_ratio = 0.02;
  cf_options.write_buffer_size = jittered_write_buffer_bytes();

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.rate_limiter = options.background_write_limiter;
  // Flushes and compactions start the write-back of what they wrote every
  // MiB, so the fsync that ends a file does not put tens of MiB on the disk at
  // once, ahead of the WAL syncs that acknowledge writes (a 64 MiB file
  // written and synced in one go delayed a concurrent 1 KB WAL sync by up to
  // 36 ms on this project's disk).
  db_options.bytes_per_sync = 1u << 20;
  without_statistics_dump(db_options);
  std::unique_ptr<rocksdb::Env> env =
      rocksdb::NewCompositeEnv(wal_file_system(options.file_system ? options.file_system : rocksdb::FileSystem::Default()));
  db_options.env = env.get();

  // The two orders (etags, collections) are only ever iterated, and every
  // write appends at the end of its order: no memtable filter (nobody looks a
  // key up), and each insert starts from where the last one went instead of
  // searching the skip list from its head (one hint for the whole family).
  rocksdb::ColumnFamilyOptions order_options = cf_options;
  order_options.memtable_whole_key_filtering = false;
  order_options.memtable_prefix_bloom_size_ratio = 0;
  order_options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (size_t i = 0; i < std::size(kFamilyNames); ++i) {
    descriptors.emplace_back(kFamilyNames[i], is_order_family(static_cast<Family>(i)) ? order_options : cf_options);
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw);
  if (!s.ok()) {
    return Status::IOError("cannot open database directory " + path + ": " + s.ToString());
  }
  std::unique_ptr<Engine> engine(new Engine());
  engine->path_ = path;
  engine->env_ = std::move(env);
  engine->db_.reset(raw);
  // handles[0] is the default family, which we keep open but do not use.
  engine->handles_[0] = nullptr;
  for (size_t i = 0; i < handles.size(); ++i) {
    if (i == 0) {
      raw->DestroyColumnFamilyHandle(handles[0]).PermitUncheckedError();
      continue;
    }
    engine->handles_[i - 1] = handles[i];
  }
  return engine;
}

Engine::~Engine() {
  if (!db_) return;
  for (auto* h : handles_)
    if (h) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
}

uint64_t Engine::approximate_size_bytes() const {
  uint64_t total = 0;
  for (auto* h : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(h, "rocksdb.total-sst-files-size", &v)) total += v;
    if (db_->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &v)) total += v;
  }
  return total;
}

}  // namespace corvus::storage
