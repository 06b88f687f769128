#include "storage/transaction_merger.h"

#include <exception>

#include <rocksdb/utilities/write_batch_with_index.h>

#include "storage/documents_storage.h"

namespace corvus::storage {

TransactionMerger::TransactionMerger(DocumentsStorage& storage) : storage_(storage) {
  writer_ = std::thread([this] { run(); });
}

TransactionMerger::~TransactionMerger() { stop(); }

void TransactionMerger::enqueue(Work work, Done done, size_t size_hint) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back({std::move(work), std::move(done), size_hint});
      cv_.notify_one();
      return;
    }
  }
  done(Status::ShuttingDown("database is shutting down"));
}

void TransactionMerger::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
    cv_.notify_one();
  }
  if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) writer_.join();
}

void TransactionMerger::run() {
  std::vector<Pending> taken;
  std::vector<Pending> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty() && stopping_) return;
      taken.swap(queue_);
    }
    // Split what was waiting into batches within the configured bounds.
    const auto& opts = storage_.options();
    size_t i = 0;
    while (i < taken.size()) {
      size_t bytes = 0;
      batch.clear();
      while (i < taken.size() && batch.size() < opts.max_transactions_per_batch &&
             (batch.empty() || bytes + taken[i].size_hint <= opts.max_batch_bytes)) {
        bytes += taken[i].size_hint;
        batch.push_back(std::move(taken[i]));
        ++i;
      }
      run_batch(batch);
    }
    taken.clear();
  }
}

void TransactionMerger::run_batch(std::vector<Pending>& batch) {
  rocksdb::WriteBatchWithIndex wb(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  WriterState state = storage_.writer_state_;
  WriteTransaction txn(storage_, wb, state);
  std::vector<Status> results(batch.size());
  bool any_ok = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    // A save point per transaction: a failing one is rolled back alone, and
    // the counters it bumped are restored with it.
    wb.SetSavePoint();
    const WriterState before = state;
    Status s;
    try {
      s = batch[i].work(txn);
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("transaction threw: ") + e.what());
    }
    if (s.ok()) {
      any_ok = true;
      wb.PopSavePoint().PermitUncheckedError();
    } else {
      wb.RollbackToSavePoint().PermitUncheckedError();
      state = before;
    }
    results[i] = std::move(s);
  }

  if (any_ok) {
    txn.write_state();
    rocksdb::WriteOptions wo;
    wo.sync = storage_.options().sync_writes;
    Status written = from_rocksdb(storage_.engine_->db()->Write(wo, wb.GetWriteBatch()), "write batch");
    if (written.ok()) {
      storage_.writer_state_ = state;
      storage_.publish(state);
    } else {
      for (auto& r : results)
        if (r.ok()) r = written;
    }
  }

  stats_.batches.fetch_add(1, std::memory_order_relaxed);
  stats_.transactions.fetch_add(batch.size(), std::memory_order_relaxed);
  stats_.last_batch_size.store(batch.size(), std::memory_order_relaxed);
  int bucket = 0;
  while (bucket < MergerStats::kBuckets - 1 && (size_t{1} << bucket) < batch.size()) ++bucket;
  stats_.batch_size_buckets[bucket].fetch_add(1, std::memory_order_relaxed);

  for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
}

}  // namespace corvus::storage
