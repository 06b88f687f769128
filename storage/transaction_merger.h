#pragma once
// TransactionMerger: the single writer of one database (DESIGN.md "The
// transaction merger"). Transactions queue from any thread; the writer thread
// takes all that wait, runs each against one WriteBatchWithIndex (each inside a
// save point, so a failing one is rolled back alone), and hands the batch to
// the syncer thread, which writes it with one WAL sync and only then completes
// its transactions. One fsync per batch, not per request.
//
// Pipelined: while the syncer syncs batch N, the writer already runs batch
// N+1, reading N's writes through N's index (WriteTransaction's `behind`).
// When nothing waits behind a batch the writer syncs it itself, saving the
// hand-off's thread wake-up at low load; and a request alone may be written
// by its own thread (enqueue_or_run), saving the hand-off to the writer too.
// One thread at a time is "writing" (builds and owns the writer state).
// Up to kMaxInFlight batches are in flight, so the syncer goes from one to the
// next without waiting for the writer to wake up and hand it over (measured:
// with one, a bulk insert's syncer sat idle about a third of the time). If
// batch N fails to write, the batches built on it fail too and the writer
// restarts from the last durable state.
//
// Owned by DocumentsStorage. enqueue() is thread-safe. Completions run on the
// thread that wrote the batch (syncer, writer, or an enqueue_or_run caller):
// they must be quick (post elsewhere for real work).

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <rocksdb/utilities/write_batch_with_index.h>

#include "storage/status.h"
#include "storage/write_transaction.h"

namespace corvus::storage {

// Read by metrics at scrape time; monotonic counters.
struct MergerStats {
  std::atomic<uint64_t> batches{0};       // batches completed (one WAL sync each unless all failed)
  std::atomic<uint64_t> transactions{0};  // transactions completed (ok or not)
  std::atomic<uint64_t> last_batch_size{0};
  // Writer time running transactions; syncer time writing and syncing batches.
  std::atomic<uint64_t> apply_micros{0};
  std::atomic<uint64_t> write_micros{0};
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
  // `more_follows`: the caller streams (a bulk insert) and is about to queue
  // the next part, so the batch holding this one goes to the syncer even when
  // nothing is queued yet: written on the writer thread it would hold up the
  // building of that next part (measured: the writer, building and writing
  // in turn, was the bulk insert's bottleneck).
  void enqueue(Work work, Done done, size_t size_hint = 0, bool more_follows = false);

  // As enqueue(), but when no other write is queued, being built or being
  // synced (and StorageOptions::write_on_caller_when_idle), runs `work` and
  // its WAL sync on the calling thread, and `done` before returning: a
  // request alone pays no thread hand-offs (to the writer and back). For
  // callers that may block for one sync and whose `work` and `done` take no
  // lock the caller holds.
  void enqueue_or_run(Work work, Done done, size_t size_hint = 0);

  // Runs what is queued, then stops both threads. Idempotent.
  void stop();

  const MergerStats& stats() const { return stats_; }

  // True on the writer or syncer thread (inside a transaction or a
  // completion), where stop() - which joins both - must not be called.
  bool on_own_thread() const;

 private:
  struct Pending {
    Work work;
    Done done;
    size_t size_hint;
    bool more_follows = false;
  };
  static constexpr size_t kMaxInFlight = 2;

  // A batch built by the writer. Once handed off, the syncer writes it and
  // marks it `synced`; the writing thread frees it after that (a build may be
  // reading its index until then).
  struct Batch {
    // `reserved_bytes`: room for what the transactions will write, so the
    // batch's buffer is not grown (and copied) by doubling as they run.
    explicit Batch(size_t reserved_bytes)
        : index(rocksdb::BytewiseComparator(), reserved_bytes, /*overwrite_key=*/true) {}
    rocksdb::WriteBatchWithIndex index;
    BatchKeys keys;            // what `index` holds
    BatchDocuments documents;  // the documents the batch holds (not in `index`)
    std::vector<Pending> pending;
    std::vector<Status> results;
    WriterState state_after;  // counters once this batch is durable
    bool any_ok = false;
    // WriteTransaction::after_commit of the transactions that succeeded.
    std::vector<std::function<void()>> after_commit;
    bool synced = false;  // guarded by sync_mu_: written (or failed) by the syncer
  };

  void run_writer();
  void run_syncer();
  std::unique_ptr<Batch> build(std::vector<Pending> pending);
  // Waits until fewer than `limit` batches are unsynced (0: none) and frees
  // the synced ones. If one failed, waits for all (the syncer fails those
  // built on it) and returns its error.
  Status wait_for_in_flight(size_t limit = 0);
  void hand_off(std::unique_ptr<Batch> batch);
  bool nothing_queued();
  bool nothing_in_flight();
  size_t unsynced() const;  // sync_mu_ held
  // Writes `batch` after the batches in flight: on this thread once they are
  // durable when nothing is queued behind it, else by the syncer while the
  // next one is built. Called by whichever thread is writing_.
  void commit(std::unique_ptr<Batch> batch, bool more_behind);
  // Writes with one WAL sync, publishes the counters, completes the batch.
  Status write_durably(Batch& batch);
  void complete(Batch& batch, const Status& written);

  DocumentsStorage& storage_;

  std::mutex mu_;  // guards queue_, stopping_, writing_
  std::condition_variable cv_;
  std::vector<Pending> queue_;
  bool stopping_ = false;
  // A thread (the writer, or a caller of enqueue_or_run) is building or
  // writing batches; only one at a time uses writer_state_.
  bool writing_ = false;

  std::mutex sync_mu_;  // guards in_flight_ (and each Batch::synced), sync_error_, syncer_stop_
  std::condition_variable sync_cv_;
  // Handed off, oldest first; only the writing_ thread adds or removes.
  std::deque<std::unique_ptr<Batch>> in_flight_;
  // The first failure the writing thread has not taken yet: while it is set,
  // the syncer fails every batch instead of writing it (all were built on
  // the failed one).
  Status sync_error_;
  bool syncer_stop_ = false;

  WriterState writer_state_;  // the writing_ thread only: includes the in-flight batch

  MergerStats stats_;
  std::thread syncer_;
  std::thread writer_;
};

}  // namespace corvus::storage
