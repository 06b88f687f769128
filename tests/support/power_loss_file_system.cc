#include "tests/support/power_loss_file_system.h"

#include <filesystem>
#include <system_error>

namespace corvus::testing {
namespace {

rocksdb::IOStatus powered_off() { return rocksdb::IOStatus::IOError("simulated power loss: the disk is gone"); }

std::string parent_of(const std::string& path) { return std::filesystem::path(path).parent_path().string(); }

// A writable file whose appends, truncations and syncs the file system tracks.
class TrackedFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  TrackedFile(std::unique_ptr<rocksdb::FSWritableFile> f, PowerLossFileSystem& fs, std::string path)
      : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs), path_(std::move(path)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    return fs_.while_powered(path_, [&](PowerLossFileSystem::FileState& f) {
      auto s = target()->Append(data, o, dbg);
      if (s.ok()) f.size += data.size();
      return s;
    });
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* dbg) override {
    return fs_.while_powered(path_, [&](PowerLossFileSystem::FileState& f) {
      auto s = target()->Append(data, o, info, dbg);
      if (s.ok()) f.size += data.size();
      return s;
    });
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t, const rocksdb::IOOptions&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("PowerLossFileSystem tracks appends only");
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t, const rocksdb::IOOptions&,
                                     const rocksdb::DataVerificationInfo&, rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("PowerLossFileSystem tracks appends only");
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return fs_.while_powered(path_, [&](PowerLossFileSystem::FileState& f) {
      auto s = target()->Truncate(size, o, dbg);
      if (s.ok()) {
        f.size = size;
        f.synced = std::min(f.synced, size);
      }
      return s;
    });
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return fs_.while_powered(path_, [&](PowerLossFileSystem::FileState& f) {
      auto s = target()->Sync(o, dbg);
      if (s.ok()) f.synced = f.size;
      return s;
    });
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return fs_.while_powered(path_, [&](PowerLossFileSystem::FileState& f) {
      auto s = target()->Fsync(o, dbg);
      if (s.ok()) f.synced = f.size;
      return s;
    });
  }
  // Not a durability guarantee (sync_file_range): tracked as nothing.
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override {
    if (fs_.down()) return powered_off();
    return target()->RangeSync(offset, nbytes, o, dbg);
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return target()->Close(o, dbg);  // closing makes nothing durable
  }

 private:
  PowerLossFileSystem& fs_;
  const std::string path_;
};

class TrackedDirectory : public rocksdb::FSDirectory {
 public:
  TrackedDirectory(std::unique_ptr<rocksdb::FSDirectory> d, PowerLossFileSystem& fs, std::string path)
      : d_(std::move(d)), fs_(fs), path_(std::move(path)) {}
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (fs_.down()) return powered_off();
    auto s = d_->Fsync(o, dbg);
    if (s.ok()) fs_.on_directory_sync(path_);
    return s;
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& dir_opts) override {
    if (fs_.down()) return powered_off();
    auto s = d_->FsyncWithDirOptions(o, dbg, dir_opts);
    if (s.ok()) fs_.on_directory_sync(path_);
    return s;
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return d_->Close(o, dbg);
  }
  size_t GetUniqueId(char* id, size_t max_size) const override { return d_->GetUniqueId(id, max_size); }

 private:
  std::unique_ptr<rocksdb::FSDirectory> d_;
  PowerLossFileSystem& fs_;
  const std::string path_;
};

}  // namespace

PowerLossFileSystem::PowerLossFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

bool PowerLossFileSystem::down() const {
  std::lock_guard lock(mu_);
  return down_;
}

rocksdb::IOStatus PowerLossFileSystem::track(const std::string& path, rocksdb::IOStatus s,
                                             std::unique_ptr<rocksdb::FSWritableFile>* r, uint64_t initial_size) {
  if (!s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    auto [it, created] = files_.try_emplace(path);
    if (created) {
      // A file that was already there (and durable) before we saw it.
      it->second.size = it->second.synced = initial_size;
      it->second.name_durable = true;
    } else {
      it->second.size = initial_size;
      it->second.synced = std::min(it->second.synced, initial_size);
    }
  }
  *r = std::make_unique<TrackedFile>(std::move(*r), *this, path);
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::NewWritableFile(const std::string& f, const rocksdb::FileOptions& opts,
                                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                                       rocksdb::IODebugContext* dbg) {
  if (down()) return powered_off();
  {
    // A new file replaces any old one: nothing of it is durable yet.
    std::lock_guard lock(mu_);
    files_[f] = FileState{};
  }
  return track(f, target()->NewWritableFile(f, opts, r, dbg), r, 0);
}

rocksdb::IOStatus PowerLossFileSystem::ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& opts,
                                                          std::unique_ptr<rocksdb::FSWritableFile>* r,
                                                          rocksdb::IODebugContext* dbg) {
  if (down()) return powered_off();
  std::error_code ec;
  const auto size = std::filesystem::file_size(f, ec);
  return track(f, target()->ReopenWritableFile(f, opts, r, dbg), r, ec ? 0 : size);
}

rocksdb::IOStatus PowerLossFileSystem::ReuseWritableFile(const std::string& f, const std::string& old,
                                                         const rocksdb::FileOptions& opts,
                                                         std::unique_ptr<rocksdb::FSWritableFile>* r,
                                                         rocksdb::IODebugContext* dbg) {
  if (down()) return powered_off();
  {
    std::lock_guard lock(mu_);
    files_.erase(old);
    files_[f] = FileState{};
  }
  return track(f, target()->ReuseWritableFile(f, old, opts, r, dbg), r, 0);
}

rocksdb::IOStatus PowerLossFileSystem::NewDirectory(const std::string& name, const rocksdb::IOOptions& io_opts,
                                                    std::unique_ptr<rocksdb::FSDirectory>* result,
                                                    rocksdb::IODebugContext* dbg) {
  auto s = target()->NewDirectory(name, io_opts, result, dbg);
  if (s.ok()) *result = std::make_unique<TrackedDirectory>(std::move(*result), *this, name);
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::RenameFile(const std::string& src, const std::string& target_name,
                                                  const rocksdb::IOOptions& opts, rocksdb::IODebugContext* dbg) {
  if (down()) return powered_off();
  auto s = target()->RenameFile(src, target_name, opts, dbg);
  if (!s.ok()) return s;
  std::lock_guard lock(mu_);
  FileState moved;
  if (auto it = files_.find(src); it != files_.end()) {
    moved = it->second;
    files_.erase(it);
  } else {
    std::error_code ec;
    const auto size = std::filesystem::file_size(target_name, ec);
    moved.size = moved.synced = ec ? 0 : size;
  }
  moved.name_durable = false;  // the new name needs its directory synced
  files_[target_name] = moved;
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::DeleteFile(const std::string& f, const rocksdb::IOOptions& opts,
                                                  rocksdb::IODebugContext* dbg) {
  if (down()) return powered_off();
  auto s = target()->DeleteFile(f, opts, dbg);
  if (s.ok()) {
    std::lock_guard lock(mu_);
    files_.erase(f);
  }
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::while_powered(const std::string& path,
                                                     const std::function<rocksdb::IOStatus(FileState&)>& op) {
  std::lock_guard lock(mu_);
  if (down_) return powered_off();
  return op(files_[path]);
}

void PowerLossFileSystem::on_directory_sync(const std::string& dir) {
  std::lock_guard lock(mu_);
  const std::string normalized = std::filesystem::path(dir).lexically_normal().string();
  for (auto& [path, f] : files_) {
    if (std::filesystem::path(parent_of(path)).lexically_normal().string() == normalized) f.name_durable = true;
  }
}

PowerLossFileSystem::Lost PowerLossFileSystem::power_loss() {
  std::lock_guard lock(mu_);
  down_ = true;
  Lost lost;
  for (const auto& [path, f] : files_) {
    std::error_code ec;
    if (!f.name_durable) {
      lost.bytes += f.size;
      ++lost.files;
      std::filesystem::remove(path, ec);
      continue;
    }
    if (f.synced < f.size) {
      lost.bytes += f.size - f.synced;
      std::filesystem::resize_file(path, f.synced, ec);
    }
  }
  files_.clear();
  return lost;
}

void PowerLossFileSystem::power_on() {
  std::lock_guard lock(mu_);
  down_ = false;
}

}  // namespace corvus::testing
