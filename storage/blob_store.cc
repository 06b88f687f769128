#include "storage/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <openssl/evp.h>

#include "storage/random_ids.h"

namespace corvus::storage {
namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(const unsigned char* p, size_t n) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += kBase64[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = uint32_t{p[i]} << 16;
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += "==";
  } else if (n - i == 2) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Status errno_status(const std::string& what) { return Status::IOError(what + ": " + std::strerror(errno)); }

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("open " + dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return errno_status("fsync " + dir);
  return Status::Ok();
}

Status make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return errno_status("mkdir " + dir);
  return Status::Ok();
}

// Names of the regular files in `dir`.
Result<std::vector<std::string>> list_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return errno_status("opendir " + dir);
  std::vector<std::string> out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name == "tmp") continue;
    out.push_back(std::move(name));
  }
  ::closedir(d);
  return out;
}

// File name <-> base64 hash: '/' -> '_', '+' -> '-'.
std::string hash_of_file_name(std::string name) {
  for (char& c : name) {
    if (c == '_') c = '/';
    else if (c == '-') c = '+';
  }
  return name;
}

struct DigestDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

std::string sha256_base64(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return base64(md, len);
}

// ---- open / collect ---------------------------------------------------------

Result<std::shared_ptr<BlobStore>> BlobStore::open(const std::string& database_dir, IsReferenced is_referenced) {
  std::string dir = database_dir + "/blobs";
  if (Status s = make_dir(dir); !s.ok()) return s;
  std::string tmp = dir + "/tmp";
  if (Status s = make_dir(tmp); !s.ok()) return s;
  // Uploads that never finished (a crash, a client gone): never visible, drop them.
  DIR* d = ::opendir(tmp.c_str());
  if (!d) return errno_status("opendir " + tmp);
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (::unlink((tmp + "/" + name).c_str()) != 0 && errno != ENOENT) {
      ::closedir(d);
      return errno_status("unlink " + tmp + "/" + name);
    }
  }
  ::closedir(d);
  std::shared_ptr<BlobStore> store(new BlobStore(std::move(dir), std::move(is_referenced)));
  store->collector_ = std::thread([raw = store.get()] { raw->run_collector(); });
  return store;
}

BlobStore::~BlobStore() { detach(); }

void BlobStore::run_collector() {
  std::unique_lock lock(queue_mu_);
  while (true) {
    queue_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::string hash = std::move(queue_.front());
    queue_.pop_front();
    collecting_ = true;
    lock.unlock();
    std::string doomed;
    {
      std::lock_guard blobs(mu_);
      doomed = take_if_unreferenced_locked(hash);
    }
    if (!doomed.empty()) ::unlink(doomed.c_str());  // the slow part, outside mu_
    lock.lock();
    collecting_ = false;
    queue_cv_.notify_all();
  }
}

void BlobStore::wait_for_collector() {
  std::unique_lock lock(queue_mu_);
  queue_cv_.wait(lock, [this] { return stop_ || (queue_.empty() && !collecting_); });
}

Result<size_t> BlobStore::collect_unreferenced() {
  auto names = list_files(dir_);
  if (!names.ok()) return names.status();
  size_t removed = 0;
  std::lock_guard lock(mu_);
  for (const auto& name : names.value()) {
    const std::string hash = hash_of_file_name(name);
    if (pins_.count(hash) || !is_referenced_) continue;
    auto referenced = is_referenced_(hash);
    if (!referenced.ok()) return referenced.status();
    if (referenced.value()) continue;
    if (::unlink((dir_ + "/" + name).c_str()) != 0 && errno != ENOENT) return errno_status("unlink blob " + name);
    ++removed;
  }
  return removed;
}

std::string BlobStore::path_of(const std::string& hash) const {
  std::string name = hash;
  for (char& c : name) {
    if (c == '/') c = '_';
    else if (c == '+') c = '-';
  }
  return dir_ + "/" + name;
}

std::unique_ptr<BlobStore::Pin> BlobStore::pin(const std::string& hash) {
  std::lock_guard lock(mu_);
  ++pins_[hash];
  return std::unique_ptr<Pin>(new Pin(shared_from_this(), hash));
}

BlobStore::Pin::~Pin() { store_->unpin(hash_); }

void BlobStore::unpin(const std::string& hash) {
  std::lock_guard lock(mu_);
  auto it = pins_.find(hash);
  if (it == pins_.end()) return;
  if (--it->second > 0) return;
  pins_.erase(it);
  collect(hash);
}

void BlobStore::collect(const std::string& hash) {
  std::lock_guard lock(queue_mu_);
  if (stop_) return;
  queue_.push_back(hash);
  queue_cv_.notify_all();
}

void BlobStore::detach() {
  {
    std::lock_guard lock(queue_mu_);
    stop_ = true;
    queue_.clear();
    queue_cv_.notify_all();
  }
  if (collector_.joinable() && collector_.get_id() != std::this_thread::get_id()) collector_.join();
  std::lock_guard lock(mu_);
  is_referenced_ = nullptr;
}

std::string BlobStore::take_if_unreferenced_locked(const std::string& hash) {
  if (pins_.count(hash) || !is_referenced_) return "";
  auto referenced = is_referenced_(hash);
  // An unreadable state keeps the blob: the next open collects it.
  if (!referenced.ok() || referenced.value()) return "";
  // Renamed under the mutex, so an upload of the same bytes either finds the
  // blob (and keeps its pin on it) or does not (and stores its own).
  std::string doomed = dir_ + "/tmp/" + new_guid() + ".collected";
  if (::rename(path_of(hash).c_str(), doomed.c_str()) != 0) return "";
  return doomed;
}

Result<size_t> BlobStore::blob_count() const {
  auto names = list_files(dir_);
  if (!names.ok()) return names.status();
  return names->size();
}

bool BlobStore::has_blob(const std::string& hash) const {
  struct stat st;
  return ::stat(path_of(hash).c_str(), &st) == 0;
}

// ---- upload -----------------------------------------------------------------

// Writeback of an upload is started every this many bytes, so the final
// fsync finds little left to write and dirty pages do not pile up.
constexpr uint64_t kWritebackBytes = 8u << 20;

struct BlobStore::Upload::Impl {
  std::shared_ptr<BlobStore> store;
  std::string temp_path;
  int fd = -1;
  uint64_t written_back = 0;  // bytes whose writeback was started
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> digest;
  bool finished = false;
};

BlobStore::Upload::Upload(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BlobStore::Upload::~Upload() {
  if (impl_->fd >= 0) ::close(impl_->fd);
  if (!impl_->finished) ::unlink(impl_->temp_path.c_str());
}

Result<std::unique_ptr<BlobStore::Upload>> BlobStore::begin_upload() {
  auto impl = std::make_unique<Upload::Impl>();
  impl->store = shared_from_this();
  impl->temp_path = dir_ + "/tmp/" + new_guid();
  impl->fd = ::open(impl->temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (impl->fd < 0) return errno_status("create " + impl->temp_path);
  impl->digest.reset(EVP_MD_CTX_new());
  if (!impl->digest || EVP_DigestInit_ex(impl->digest.get(), EVP_sha256(), nullptr) != 1) {
    ::close(impl->fd);
    ::unlink(impl->temp_path.c_str());
    return Status::IOError("cannot start a SHA-256 digest");
  }
  return std::unique_ptr<Upload>(new Upload(std::move(impl)));
}

Status BlobStore::Upload::append(std::string_view bytes) {
  if (impl_->finished) return Status::InvalidArgument("upload already finished");
  EVP_DigestUpdate(impl_->digest.get(), bytes.data(), bytes.size());
  while (!bytes.empty()) {
    ssize_t n = ::write(impl_->fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write blob");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    size_ += static_cast<uint64_t>(n);
  }
  if (size_ - impl_->written_back >= kWritebackBytes) {
    // Starts writeback without waiting for it (Linux); failures surface at fsync.
    ::sync_file_range(impl_->fd, static_cast<off_t>(impl_->written_back),
                      static_cast<off_t>(size_ - impl_->written_back), SYNC_FILE_RANGE_WRITE);
    impl_->written_back = size_;
  }
  return Status::Ok();
}

Result<BlobStore::Upload::Stored> BlobStore::Upload::finish() {
  if (impl_->finished) return Status::InvalidArgument("upload already finished");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->digest.get(), md, &len);
  if (::fsync(impl_->fd) != 0) return errno_status("fsync blob");
  ::close(impl_->fd);
  impl_->fd = -1;

  Stored out;
  out.hash = base64(md, len);
  out.size = size_;
  BlobStore& store = *impl_->store;
  {
    std::lock_guard lock(store.mu_);
    ++store.pins_[out.hash];
    out.pin.reset(new Pin(impl_->store, out.hash));
    const std::string target = store.path_of(out.hash);
    struct stat st;
    if (::stat(target.c_str(), &st) == 0) {
      // Same bytes already stored (hash names content): keep the one we have.
      ::unlink(impl_->temp_path.c_str());
    } else if (::rename(impl_->temp_path.c_str(), target.c_str()) != 0) {
      return errno_status("rename blob");  // ~Upload removes the temp file; ~Pin unpins
    }
    impl_->finished = true;
  }
  if (Status s = fsync_dir(store.dir_); !s.ok()) return s;
  return out;
}

Result<BlobStore::Upload::Stored> BlobStore::store(std::string_view bytes) {
  auto up = begin_upload();
  if (!up.ok()) return up.status();
  if (Status s = (*up)->append(bytes); !s.ok()) return s;
  return (*up)->finish();
}

// ---- read -------------------------------------------------------------------

BlobStore::Reader::~Reader() { ::close(fd_); }

Result<size_t> BlobStore::Reader::read_at(uint64_t offset, char* out, size_t n) const {
  for (;;) {
    ssize_t r = ::pread(fd_, out, n, static_cast<off_t>(offset));
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) return errno_status("read blob");
  }
}

Result<std::unique_ptr<BlobStore::Reader>> BlobStore::open_blob(const std::string& hash) const {
  const std::string path = path_of(hash);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no stored blob for hash " + hash);
    return errno_status("open blob " + path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return errno_status("stat blob " + path);
  }
  return std::unique_ptr<Reader>(new Reader(fd, static_cast<uint64_t>(st.st_size)));
}

}  // namespace corvus::storage
