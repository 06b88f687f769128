#include "storage/transaction_merger.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "storage/documents_storage.h"

namespace corvus::storage {
namespace {

using SteadyClock = std::chrono::steady_clock;

uint64_t micros_since(SteadyClock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count());
}

}  // namespace

TransactionMerger::TransactionMerger(DocumentsStorage& storage)
    : storage_(storage), writer_state_(storage.writer_state_) {
  syncer_ = std::thread([this] { run_syncer(); });
  writer_ = std::thread([this] { run_writer(); });
}

TransactionMerger::~TransactionMerger() { stop(); }

bool TransactionMerger::on_own_thread() const {
  const auto me = std::this_thread::get_id();
  return me == writer_.get_id() || me == syncer_.get_id();
}

void TransactionMerger::enqueue(Work work, Done done, size_t size_hint, bool more_follows) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back({std::move(work), std::move(done), size_hint, more_follows});
      cv_.notify_one();
      return;
    }
  }
  done(Status::ShuttingDown("database is shutting down"));
}

void TransactionMerger::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (writer_.joinable()) writer_.join();
  if (syncer_.joinable()) syncer_.join();
}

void TransactionMerger::run_writer() {
  std::vector<Pending> taken;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !writing_ && (!queue_.empty() || stopping_); });
      if (queue_.empty() && stopping_) break;
      taken.swap(queue_);
      writing_ = true;
    }
    // Split what was waiting into batches within the configured bounds.
    const auto& opts = storage_.options();
    size_t i = 0;
    while (i < taken.size()) {
      std::vector<Pending> chunk;
      size_t bytes = 0;
      while (i < taken.size() && chunk.size() < opts.max_transactions_per_batch &&
             (chunk.empty() || bytes + taken[i].size_hint <= opts.max_batch_bytes)) {
        bytes += taken[i].size_hint;
        chunk.push_back(std::move(taken[i]));
        ++i;
      }
      const bool announced = std::any_of(chunk.begin(), chunk.end(), [](const Pending& p) { return p.more_follows; });
      std::unique_ptr<Batch> batch = build(std::move(chunk));
      commit(std::move(batch), /*more_behind=*/announced || i < taken.size() || !nothing_queued());
    }
    taken.clear();
    std::lock_guard lock(mu_);
    writing_ = false;
  }
  wait_for_in_flight().ignore_error();  // its transactions were told already
  std::lock_guard lock(sync_mu_);
  syncer_stop_ = true;
  sync_cv_.notify_all();
}

void TransactionMerger::commit(std::unique_ptr<Batch> batch, bool more_behind) {
  // Built while the batches in flight were syncing; it may only follow them.
  Status previous = wait_for_in_flight(more_behind ? kMaxInFlight : 0);
  if (!previous.ok()) {
    // This batch may have read the failed batch's writes: it fails too,
    // and the next one starts again from what is durable.
    complete(*batch, Status::IOError("an earlier write batch failed: " + previous.message()));
    std::lock_guard lock(sync_mu_);
    writer_state_ = storage_.writer_state_;
    return;
  }
  if (!batch->any_ok) {
    complete(*batch, Status::Ok());
    return;
  }
  if (!more_behind) {
    // Nobody is waiting to be built behind this batch, so handing it to
    // the syncer would only add a thread wake-up to its latency.
    if (Status written = write_durably(*batch); !written.ok()) {
      std::lock_guard lock(sync_mu_);
      writer_state_ = storage_.writer_state_;
    }
    return;
  }
  hand_off(std::move(batch));
}

void TransactionMerger::enqueue_or_run(Work work, Done done, size_t size_hint) {
  bool run_here = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      // Answered below, outside the lock.
    } else if (!storage_.options().write_on_caller_when_idle || writing_ || !queue_.empty() ||
               !nothing_in_flight()) {
      queue_.push_back({std::move(work), std::move(done), size_hint});
      cv_.notify_one();
      return;
    } else {
      writing_ = true;  // the writer thread waits until we are done
      run_here = true;
    }
  }
  if (!run_here) {
    done(Status::ShuttingDown("database is shutting down"));
    return;
  }
  std::vector<Pending> one;
  one.push_back({std::move(work), std::move(done), size_hint});
  commit(build(std::move(one)), /*more_behind=*/false);
  std::lock_guard lock(mu_);
  writing_ = false;
  if (!queue_.empty() || stopping_) cv_.notify_one();  // what came meanwhile, or the stop
}

bool TransactionMerger::nothing_in_flight() {
  std::lock_guard lock(sync_mu_);
  return unsynced() == 0;
}

size_t TransactionMerger::unsynced() const {
  return static_cast<size_t>(
      std::count_if(in_flight_.begin(), in_flight_.end(), [](const auto& b) { return !b->synced; }));
}

std::unique_ptr<TransactionMerger::Batch> TransactionMerger::build(std::vector<Pending> pending) {
  const auto started = SteadyClock::now();
  // The payload plus a quarter (each document's metadata, header and index
  // entries), bounded: a hint is only a hint.
  size_t payload = 0;
  for (const auto& p : pending) payload += p.size_hint;
  auto batch = std::make_unique<Batch>(std::min<size_t>(payload + payload / 4, 64u << 20));
  batch->pending = std::move(pending);
  batch->results.resize(batch->pending.size());
  WriterState state = writer_state_;
  // Stable while we build: only the writing thread adds or frees batches.
  std::vector<BatchBehind> behind;
  for (auto it = in_flight_.rbegin(); it != in_flight_.rend(); ++it)
    behind.push_back({&(*it)->index, &(*it)->keys, &(*it)->documents});
  WriteTransaction txn(storage_, batch->index, batch->keys, batch->documents, state, behind, batch->after_commit);
  for (size_t i = 0; i < batch->pending.size(); ++i) {
    // A save point per transaction: a failing one is rolled back alone, and
    // the counters it bumped are restored with it.
    batch->index.SetSavePoint();
    batch->documents.set_save_point();
    const WriterState before = state;
    const size_t actions_before = batch->after_commit.size();
    Status s;
    try {
      s = batch->pending[i].work(txn);
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("transaction threw: ") + e.what());
    }
    if (s.ok()) {
      batch->any_ok = true;
      batch->index.PopSavePoint().PermitUncheckedError();
      batch->documents.pop_save_point();
    } else {
      batch->index.RollbackToSavePoint().PermitUncheckedError();
      batch->documents.rollback_to_save_point();
      state = before;
      batch->after_commit.resize(actions_before);
    }
    batch->results[i] = std::move(s);
  }
  if (batch->any_ok) txn.write_state();
  batch->state_after = state;
  writer_state_ = state;
  stats_.apply_micros.fetch_add(micros_since(started), std::memory_order_relaxed);
  return batch;
}

bool TransactionMerger::nothing_queued() {
  std::lock_guard lock(mu_);
  return queue_.empty();
}

Status TransactionMerger::wait_for_in_flight(size_t limit) {
  std::deque<std::unique_ptr<Batch>> done;  // freed outside the lock
  Status error;
  {
    std::unique_lock lock(sync_mu_);
    sync_cv_.wait(lock, [&] { return unsynced() < std::max<size_t>(limit, 1); });
    if (!sync_error_.ok()) {
      // Those built on the failed batch fail too; wait until the syncer has
      // told them, so the writer starts again from what is durable.
      sync_cv_.wait(lock, [&] { return unsynced() == 0; });
      error = std::move(sync_error_);
      sync_error_ = Status::Ok();
    }
    while (!in_flight_.empty() && in_flight_.front()->synced) {
      done.push_back(std::move(in_flight_.front()));
      in_flight_.pop_front();
    }
  }
  return error;
}

void TransactionMerger::hand_off(std::unique_ptr<Batch> batch) {
  std::lock_guard lock(sync_mu_);
  in_flight_.push_back(std::move(batch));
  sync_cv_.notify_all();
}

void TransactionMerger::run_syncer() {
  for (;;) {
    Batch* batch = nullptr;
    Status earlier_failure;
    {
      std::unique_lock lock(sync_mu_);
      sync_cv_.wait(lock, [&] { return unsynced() > 0 || syncer_stop_; });
      if (unsynced() == 0) return;  // stopping with nothing in flight
      batch = std::find_if(in_flight_.begin(), in_flight_.end(), [](const auto& b) { return !b->synced; })->get();
      earlier_failure = sync_error_;
    }
    // The writer keeps reading this batch's index while we write it; both
    // only read it, and it stays alive until the writer frees it.
    Status written;
    if (earlier_failure.ok()) {
      written = write_durably(*batch);
    } else {
      // Built on the failed batch (it may have read its writes): fails with it.
      written = Status::IOError("an earlier write batch failed: " + earlier_failure.message());
      complete(*batch, written);
    }
    std::lock_guard lock(sync_mu_);
    batch->synced = true;
    if (!written.ok() && sync_error_.ok()) sync_error_ = written;
    sync_cv_.notify_all();
  }
}

Status TransactionMerger::write_durably(Batch& batch) {
  const auto started = SteadyClock::now();
  rocksdb::WriteOptions wo;
  wo.sync = storage_.options().sync_writes;
  Status written = from_rocksdb(storage_.engine_->db()->Write(wo, batch.index.GetWriteBatch()), "write batch");
  stats_.write_micros.fetch_add(micros_since(started), std::memory_order_relaxed);
  if (written.ok()) {
    {
      std::lock_guard lock(sync_mu_);
      storage_.writer_state_ = batch.state_after;
    }
    storage_.publish(batch.state_after);
  }
  // The waiting requests first: the listeners' wake-ups (changes, indexing,
  // replication) are not on their path.
  const bool notify = written.ok() && batch.any_ok;
  const uint64_t last_etag = batch.state_after.last_etag;
  complete(batch, written);
  if (notify) storage_.notify_commit_listeners(last_etag);
  return written;
}

void TransactionMerger::complete(Batch& batch, const Status& written) {
  const size_t n = batch.pending.size();
  stats_.batches.fetch_add(1, std::memory_order_relaxed);
  stats_.transactions.fetch_add(n, std::memory_order_relaxed);
  stats_.last_batch_size.store(n, std::memory_order_relaxed);
  int bucket = 0;
  while (bucket < MergerStats::kBuckets - 1 && (size_t{1} << bucket) < n) ++bucket;
  stats_.batch_size_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  if (written.ok()) {
    for (auto& action : batch.after_commit) action();
  }
  batch.after_commit.clear();
  for (size_t i = 0; i < n; ++i) {
    Status& r = batch.results[i];
    if (r.ok() && !written.ok()) r = written;
    batch.pending[i].done(std::move(r));
  }
  // Release what the transactions captured (a request's references to its
  // database, say) now: the batch itself may stay in flight until the next one.
  batch.pending.clear();
}

}  // namespace corvus::storage
