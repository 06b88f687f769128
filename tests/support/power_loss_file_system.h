#pragma once
// PowerLossFileSystem: a RocksDB FileSystem (over the real one) that keeps
// apart what was written but never made durable, and throws it away at a
// simulated power loss. A kill -9 keeps the kernel's page cache, so a crash
// test with real processes passes even when nothing is ever fsynced; this one
// does not.
//
// What counts as durable, as on Linux:
//   - a file's bytes up to its last Sync/Fsync (RangeSync and Flush do not
//     count); a file closed without a sync keeps only what was synced;
//   - a file's existence (creation, or its name after a rename) once its
//     directory was fsynced after that.
// power_loss(): from then on every write to a tracked file and every new file
// fails with an I/O error (the dying process can make nothing durable any
// more); then each file is cut to its synced length and the files whose names
// were never made durable are removed. The directory can then be reopened,
// through this file system after power_on(), or through the default one.
//
// Tests only. Thread-safe (RocksDB writes from several threads).
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <rocksdb/file_system.h>

namespace corvus::testing {

class PowerLossFileSystem : public rocksdb::FileSystemWrapper {
 public:
  PowerLossFileSystem();
  const char* Name() const override { return "PowerLossFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& opts,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& opts,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& io_opts,
                                 std::unique_ptr<rocksdb::FSDirectory>* result, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target, const rocksdb::IOOptions& opts,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& opts,
                               rocksdb::IODebugContext* dbg) override;

  // The power goes: see above. Returns how many bytes and files were lost.
  struct Lost {
    uint64_t bytes = 0;
    uint64_t files = 0;
  };
  Lost power_loss();
  // The power is back (the files are as power_loss left them): writes work
  // again and files are tracked afresh.
  void power_on();

  // --- for the wrapped files and directories ---
  struct FileState {
    uint64_t size = 0;      // bytes written
    uint64_t synced = 0;    // bytes made durable
    bool name_durable = false;
  };
  // Runs `op` (a write to the real file system) unless the power is off, under
  // the lock, so power_loss() never cuts a file while a write to it is half
  // done; `op` updates the file's state when it succeeds.
  rocksdb::IOStatus while_powered(const std::string& path,
                                  const std::function<rocksdb::IOStatus(FileState&)>& op);
  void on_directory_sync(const std::string& dir);
  bool down() const;

 private:
  rocksdb::IOStatus track(const std::string& path, rocksdb::IOStatus s, std::unique_ptr<rocksdb::FSWritableFile>* r,
                          uint64_t initial_size);

  mutable std::mutex mu_;
  bool down_ = false;
  std::map<std::string, FileState> files_;  // by path
};

}  // namespace corvus::testing
