#pragma once
// BlobStore: the bytes of attachments, one file per content hash under
// `<database dir>/blobs/`, written outside the document write batch (a batch
// must stay small) and made visible only by a committed reference
// (Family::AttachmentHashes, see attachments_storage.h).
//
// An upload streams into `blobs/tmp/<random>` while hashing (SHA-256), is
// fsynced, then renamed to its hash name (or dropped when that hash is already
// stored) under a pin: a pinned hash is never unlinked, so a concurrent "last
// reference dropped" cannot remove the file between the rename and the commit
// of the new reference. Unlinking is always a check of the committed state
// (`is_referenced`) under the store's mutex: collect(hash) after a commit that
// dropped the last reference, when the last pin goes, and for every file at
// open. So a crash at any point leaves no half blob and no leaked bytes after
// the next open (open deletes tmp/ and every blob without a reference).
// collect() only queues: the store's collector thread decides under the mutex
// and renames the file into tmp/ there, then unlinks it outside the mutex
// (freeing a 2 GB file takes a fraction of a second, which neither the
// merger's completions nor concurrent uploads should wait for).
//
// Owned by DocumentsStorage (one per database). Thread-safe: uploads and reads
// from any thread; pins are counted under one mutex; one collector thread,
// stopped by detach() or the destructor.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "storage/status.h"

namespace corvus::storage {

class BlobStore : public std::enable_shared_from_this<BlobStore> {
 public:
  // Whether the committed state holds a reference to `hash`. Errors are
  // returned, and a blob whose state cannot be read is kept.
  using IsReferenced = std::function<Result<bool>(const std::string& hash)>;

  // Opens (creating) `<database_dir>/blobs`, empties tmp/. IOError when the
  // directory cannot be used. Call collect_unreferenced() once the references
  // are readable.
  static Result<std::shared_ptr<BlobStore>> open(const std::string& database_dir, IsReferenced is_referenced);

  // Deletes every stored blob that has no reference (after a crash between
  // rename and commit, or between commit and unlink). Returns how many.
  Result<size_t> collect_unreferenced();

  // Keeps `hash` from being unlinked while it lives. Releasing the last pin of
  // a hash runs collect(hash) (an upload whose reference never committed).
  class Pin {
   public:
    ~Pin();
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;
    const std::string& hash() const { return hash_; }

   private:
    friend class BlobStore;
    Pin(std::shared_ptr<BlobStore> store, std::string hash) : store_(std::move(store)), hash_(std::move(hash)) {}
    std::shared_ptr<BlobStore> store_;
    std::string hash_;
  };

  // One upload in progress: a temp file being written and hashed. Not
  // thread-safe (one writer). Destroying it without finish() deletes the file.
  class Upload {
   public:
    ~Upload();
    Upload(const Upload&) = delete;
    Upload& operator=(const Upload&) = delete;
    Status append(std::string_view bytes);
    uint64_t size() const { return size_; }
    struct Stored {
      std::string hash;  // base64 SHA-256, as RavenDB shows it
      uint64_t size = 0;
      std::unique_ptr<Pin> pin;  // hold until the reference is committed (or failed)
    };
    // fsyncs, names the file by its hash (or drops it: already stored), pins.
    Result<Stored> finish();

   private:
    friend class BlobStore;
    struct Impl;
    explicit Upload(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    uint64_t size_ = 0;
  };
  Result<std::unique_ptr<Upload>> begin_upload();

  // Stores a blob from memory (tests, small batches); same as an upload.
  Result<Upload::Stored> store(std::string_view bytes);

  // An open stored blob; the bytes stay readable even if it is unlinked meanwhile.
  class Reader {
   public:
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    uint64_t size() const { return size_; }
    // Up to `n` bytes at `offset`; 0 at the end. IOError on a failed read.
    Result<size_t> read_at(uint64_t offset, char* out, size_t n) const;

   private:
    friend class BlobStore;
    Reader(int fd, uint64_t size) : fd_(fd), size_(size) {}
    int fd_;
    uint64_t size_;
  };
  // NotFound when no blob of that hash is stored.
  Result<std::unique_ptr<Reader>> open_blob(const std::string& hash) const;

  std::unique_ptr<Pin> pin(const std::string& hash);
  // Queues `hash` for the collector: its blob is unlinked unless pinned or
  // referenced (committed state) when the collector gets to it.
  void collect(const std::string& hash);
  // Waits until everything queued so far has been collected (tests).
  void wait_for_collector();

  // The database is closing: stops the collector; from now on nothing is
  // unlinked (a pin released later must not read a closed engine); the next
  // open collects what is left.
  void detach();
  ~BlobStore();

  // Stored blob files (not temp files); for tests and metrics.
  Result<size_t> blob_count() const;
  bool has_blob(const std::string& hash) const;
  const std::string& dir() const { return dir_; }

  // "blobs/<name>" for a base64 hash: '/' and '+' made file-name safe.
  std::string path_of(const std::string& hash) const;

 private:
  BlobStore(std::string dir, IsReferenced is_referenced) : dir_(std::move(dir)), is_referenced_(std::move(is_referenced)) {}
  void unpin(const std::string& hash);
  // Under mu_: moves an unpinned, unreferenced blob into tmp/; its new path, or "".
  std::string take_if_unreferenced_locked(const std::string& hash);
  void run_collector();

  const std::string dir_;  // <database dir>/blobs
  IsReferenced is_referenced_;
  std::mutex mu_;  // guards pins_, is_referenced_ and every rename/unlink of blob files
  std::unordered_map<std::string, int> pins_;

  std::mutex queue_mu_;  // guards the collector's queue and state
  std::condition_variable queue_cv_;
  std::deque<std::string> queue_;
  bool collecting_ = false;  // the collector is working on a hash it took
  bool stop_ = false;
  std::thread collector_;
};

// SHA-256 of `bytes` as base64 (for tests and callers hashing in memory).
std::string sha256_base64(std::string_view bytes);

}  // namespace corvus::storage
