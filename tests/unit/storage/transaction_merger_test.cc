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
