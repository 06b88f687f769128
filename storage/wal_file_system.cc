#include "storage/wal_file_system.h"

#include <string>

namespace corvus::storage {
namespace {

// RocksDB's write-ahead logs are <number>.log (its info log is LOG, LOG.old.*).
bool is_wal(const std::string& fname) {
  constexpr std::string_view kSuffix = ".log";
  return fname.size() >= kSuffix.size() && fname.compare(fname.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

rocksdb::FileOptions preallocated_in_size(const rocksdb::FileOptions& options) {
  rocksdb::FileOptions out = options;
  out.fallocate_with_keep_size = false;
  return out;
}

class WalFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit WalFileSystem(std::shared_ptr<rocksdb::FileSystem> base) : FileSystemWrapper(std::move(base)) {}

  const char* Name() const override { return "CorvusWalFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    return target()->NewWritableFile(fname, is_wal(fname) ? preallocated_in_size(options) : options, result, dbg);
  }

  rocksdb::IOStatus ReopenWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    return target()->ReopenWritableFile(fname, is_wal(fname) ? preallocated_in_size(options) : options, result, dbg);
  }

  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    return target()->ReuseWritableFile(fname, old_fname, is_wal(fname) ? preallocated_in_size(options) : options,
                                       result, dbg);
  }
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> wal_file_system(std::shared_ptr<rocksdb::FileSystem> base) {
  return std::make_shared<WalFileSystem>(std::move(base));
}

}  // namespace corvus::storage
