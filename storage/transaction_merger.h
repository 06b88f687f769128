#pragma once
// TransactionMerger: the single writer of one database (DESIGN.md "The
// transaction merger"). Transactions queue from any thread; the writer thread
// takes all that wait, runs each against one WriteBatchWithIndex (each inside a
// save point, so a failing one is rolled back alone), writes the batch with one
// WAL sync, and only then completes them. One fsync per batch, not per request.
//
// Owned by DocumentsStorage. enqueue() is thread-safe. Completions run on the
// writer thread: they must be quick (post elsewhere for real work).

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/status.h"
#include "storage/write_transaction.h"

namespace corvus::storage {

// Read by metrics at scrape time; monotonic counters.
struct MergerStats {
  std::atomic<uint64_t> batches{0};       // WAL syncs
  std::atomic<uint64_t> transactions{0};  // transactions completed (ok or not)
  std::atomic<uint64_t> last_batch_size{0};
  // Histogram of transactions per batch: bucket i counts batches of size <= 2^i.
  static constexpr int kBuckets = 12;
  std::array<std::atomic<uint64_t>, kBuckets> batch_size_buckets{};
};

class TransactionMerger {
 public:
  using Work = std::function<Status(WriteTransaction&)>;
  using Done = std::function<void(Status)>;

  explicit TransactionMerger(DocumentsStorage& storage);
  ~TransactionMerger();  // stops and joins
  TransactionMerger(const TransactionMerger&) = delete;
  TransactionMerger& operator=(const TransactionMerger&) = delete;

  // Queues `work`; `done` is called exactly once with its outcome, after the
  // batch holding it is durable (or with ShuttingDown after stop()).
  // `size_hint` (payload bytes) bounds how much goes into one batch.
  void enqueue(Work work, Done done, size_t size_hint = 0);

  // Runs what is queued, then stops the writer. Idempotent.
  void stop();

  const MergerStats& stats() const { return stats_; }

 private:
  struct Pending {
    Work work;
    Done done;
    size_t size_hint;
  };
  void run();
  void run_batch(std::vector<Pending>& batch);

  DocumentsStorage& storage_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending> queue_;
  bool stopping_ = false;
  MergerStats stats_;
  std::thread writer_;
};

}  // namespace corvus::storage
