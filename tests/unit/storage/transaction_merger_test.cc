#include "storage/transaction_merger.h"

#include <atomic>
#include <future>
#include <thread>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "storage/documents_storage.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::storage;

namespace {

// Read-modify-write of the document `id`: a transaction that missed an
// earlier one's write (in flight, or on another thread) loses an increment.
Status increment(WriteTransaction& txn, const std::string& id) {
  auto cur = txn.get(id);
  if (!cur.ok()) return cur.status();
  int64_t n = 0;
  if (cur.value()) n = boost::json::parse(cur.value()->json).as_object()["n"].as_int64();
  boost::json::object body{{"n", n + 1}};
  return txn.put(id, body, std::nullopt).status();
}

Status increment_counter(WriteTransaction& txn) { return increment(txn, "counter"); }

}  // namespace

TEST_CASE("TransactionMerger: a failing transaction is rolled back alone within a merged batch") {
  testing::TempDir dir;
  auto s = std::move(DocumentsStorage::open(dir.path(), {})).value();
  std::atomic<int> done{0};
  std::vector<Status> results(3);
  // Block the writer so the three transactions below are merged into one batch.
  std::promise<void> release;
  auto gate = release.get_future().share();
  s->submit([gate](WriteTransaction&) -> Status { gate.wait(); return Status::Ok(); }, [](Status) {});
  auto doc = boost::json::parse(R"({"@metadata":{"@collection":"Users"}})").as_object();
  s->submit([&](WriteTransaction& t) { return t.put("a", doc, std::nullopt).status(); },
            [&](Status st) { results[0] = st; ++done; });
  s->submit(
      [&](WriteTransaction& t) -> Status {
        // Writes, then fails: its write and etag must vanish.
        if (!t.put("b", doc, std::nullopt).ok()) return Status::Internal("unexpected");
        return t.put("a", doc, std::string("A:999-nope")).status();
      },
      [&](Status st) { results[1] = st; ++done; });
  s->submit(
      [&](WriteTransaction& t) -> Status {
        // Sees the first transaction's write although it is not yet durable.
        auto a = t.get("a");
        if (!a.ok() || !a.value()) return Status::Internal("did not see own batch");
        return t.put("c", doc, std::nullopt).status();
      },
      [&](Status st) { results[2] = st; ++done; });
  release.set_value();
  while (done.load() < 3) std::this_thread::yield();
  CHECK(results[0].ok());
  CHECK(results[1].is_concurrency_conflict());
  CHECK(results[2].ok());
  CHECK(s->get("b").status().is_not_found());
  CHECK(s->get("c")->etag == 2);
  CHECK(s->stats().last_etag == 2);
  CHECK(s->stats().document_count == 2);
}

TEST_CASE("TransactionMerger: concurrent writers are grouped into fewer syncs and none is lost") {
  testing::TempDir dir;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  {
    auto s = std::move(DocumentsStorage::open(dir.path(), {})).value();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto body = boost::json::parse(R"({"v":1})").as_object();
          std::string id = "d/" + std::to_string(t) + "/" + std::to_string(i);
          REQUIRE(s->write([&](WriteTransaction& txn) { return txn.put(id, body, std::nullopt).status(); }).ok());
        }
      });
    }
    for (auto& th : threads) th.join();
    const auto& st = s->merger_stats();
    CHECK(st.transactions.load() == kThreads * kPerThread);
    CHECK(st.batches.load() <= st.transactions.load());
  }
  auto s = std::move(DocumentsStorage::open(dir.path(), {})).value();
  CHECK(s->stats().document_count == kThreads * kPerThread);
  CHECK(s->stats().last_etag == kThreads * kPerThread);
}

TEST_CASE("TransactionMerger: work queued after stop completes with ShuttingDown") {
  testing::TempDir dir;
  auto s = std::move(DocumentsStorage::open(dir.path(), {})).value();
  TransactionMerger merger(*s);
  merger.stop();
  Status got;
  merger.enqueue([](WriteTransaction&) { return Status::Ok(); }, [&](Status st) { got = st; });
  CHECK(got.code() == StatusCode::ShuttingDown);
}

TEST_CASE("TransactionMerger: transactions see writes of the batch still being synced") {
  // Read-modify-write of one document from many threads: each increment reads
  // the previous one, which is often in the batch the syncer is writing. A
  // read that missed the in-flight batch would lose increments.
  testing::TempDir dir;
  auto s = std::move(DocumentsStorage::open(dir.path(), {})).value();
  constexpr int kThreads = 8;
  constexpr int kIncrements = 60;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        Status st = s->write(increment_counter);
        REQUIRE(st.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  auto doc = s->get("counter");
  REQUIRE(doc.ok());
  CHECK(boost::json::parse(doc->json).as_object()["n"].as_int64() == kThreads * kIncrements);
  CHECK(doc->etag == kThreads * kIncrements);
}

TEST_CASE("TransactionMerger: a stream of small batches reads through both batches in flight") {
  // A streaming writer (more_follows) keeps two built batches ahead of the
  // syncer. With four transactions a batch and eight counters taken in turn,
  // a counter's previous increment is usually two batches back: in the older
  // batch in flight, not the newer one. A read that looked only at the
  // newest batch, or none, would lose increments.
  testing::TempDir dir;
  StorageOptions options;
  options.max_transactions_per_batch = 4;
  auto s = std::move(DocumentsStorage::open(dir.path(), options)).value();
  constexpr int kCounters = 8;
  constexpr int kIncrements = 2000;
  std::atomic<int> ok{0};
  std::promise<void> all_done;
  for (int i = 0; i < kIncrements; ++i) {
    const std::string id = "counter/" + std::to_string(i % kCounters);
    s->submit(
        [id](WriteTransaction& txn) { return increment(txn, id); },
        [&](Status st) {
          CHECK(st.ok());
          if (++ok == kIncrements) all_done.set_value();
        },
        0, /*more_follows=*/true);
  }
  REQUIRE(all_done.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  for (int c = 0; c < kCounters; ++c) {
    auto doc = s->get("counter/" + std::to_string(c));
    REQUIRE(doc.ok());
    CHECK(boost::json::parse(doc->json).as_object()["n"].as_int64() == kIncrements / kCounters);
  }
  CHECK(s->stats().last_etag == kIncrements);
  CHECK(s->merger_stats().batches.load() >= kIncrements / 4);
}

TEST_CASE("TransactionMerger: a delete in the in-flight batch is seen as a delete") {
  testing::TempDir dir;
  auto s = std::move(DocumentsStorage::open(dir.path(), {})).value();
  constexpr int kThreads = 4;
  constexpr int kRounds = 80;
  std::atomic<int> created{0};
  std::atomic<int> deleted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        // Toggle: delete the document if it exists, else create it.
        bool did_create = false;
        Status st = s->write([&](WriteTransaction& txn) -> Status {
          auto cur = txn.get("flip");
          if (!cur.ok()) return cur.status();
          if (cur.value()) {
            did_create = false;
            return txn.remove("flip", cur.value()->change_vector).status();
          }
          did_create = true;
          return txn.put("flip", boost::json::object{{"x", 1}}, std::string()).status();
        });
        REQUIRE(st.ok());
        (did_create ? created : deleted)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(created.load() + deleted.load() == kThreads * kRounds);
  CHECK(created.load() - deleted.load() == static_cast<int>(s->stats().document_count));
  CHECK(s->stats().document_count == (s->get("flip").ok() ? 1u : 0u));
}

TEST_CASE("TransactionMerger: submit_or_run writes on the calling thread only when nothing else is under way") {
  testing::TempDir dir;
  StorageOptions options;
  options.write_on_caller_when_idle = true;
  auto s = std::move(DocumentsStorage::open(dir.path(), options)).value();
  const auto body = boost::json::parse(R"({"v":1})").as_object();
  const auto me = std::this_thread::get_id();

  // Idle: the transaction, its sync and `done` all run here, before return.
  std::thread::id ran_on, done_on;
  bool done = false;
  s->submit_or_run(
      [&](WriteTransaction& t) {
        ran_on = std::this_thread::get_id();
        return t.put("alone", body, std::nullopt).status();
      },
      [&](Status st) {
        CHECK(st.ok());
        done_on = std::this_thread::get_id();
        done = true;
      });
  CHECK(done);
  CHECK(ran_on == me);
  CHECK(done_on == me);
  CHECK(s->get("alone").ok());

  // Busy (the writer holds a transaction): queued behind it, run by the writer.
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::promise<void> entered;
  s->submit(
      [&](WriteTransaction&) -> Status {
        entered.set_value();
        gate.wait();
        return Status::Ok();
      },
      [](Status) {});
  entered.get_future().wait();
  std::promise<std::thread::id> queued_ran_on;
  s->submit_or_run(
      [&](WriteTransaction& t) {
        queued_ran_on.set_value(std::this_thread::get_id());
        return t.put("queued", body, std::nullopt).status();
      },
      [](Status st) { CHECK(st.ok()); });
  release.set_value();
  CHECK(queued_ran_on.get_future().get() != me);
  REQUIRE(s->write([](WriteTransaction&) { return Status::Ok(); }).ok());
  CHECK(s->get("queued").ok());
}

TEST_CASE("TransactionMerger: submit_or_run from many threads loses nothing and keeps etags dense") {
  testing::TempDir dir;
  StorageOptions options;
  options.write_on_caller_when_idle = true;
  constexpr int kThreads = 6;
  constexpr int kPerThread = 80;
  {
    auto s = std::move(DocumentsStorage::open(dir.path(), options)).value();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::promise<Status> result;
          // Half of them a read-modify-write of one document: a lost update
          // would show in its final value.
          if (i % 2 == 0) {
            s->submit_or_run(increment_counter, [&](Status st) { result.set_value(st); });
          } else {
            std::string id = "d/" + std::to_string(t) + "/" + std::to_string(i);
            s->submit_or_run(
                [id](WriteTransaction& txn) {
                  auto body = boost::json::parse(R"({"v":1})").as_object();
                  return txn.put(id, body, std::nullopt).status();
                },
                [&](Status st) { result.set_value(st); });
          }
          REQUIRE(result.get_future().get().ok());
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  auto s = std::move(DocumentsStorage::open(dir.path(), {})).value();
  auto counter = s->get("counter");
  REQUIRE(counter.ok());
  CHECK(boost::json::parse(counter->json).as_object()["n"].as_int64() == kThreads * kPerThread / 2);
  CHECK(s->stats().document_count == 1 + kThreads * kPerThread / 2);
  CHECK(s->stats().last_etag == kThreads * kPerThread);
}
