#include "server/document_database.h"

#include <chrono>
#include <future>
#include <thread>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

using namespace corvus;

TEST_CASE("DocumentDatabase: a write completion holding the last reference closes the database elsewhere") {
  testing::TempDir dir;
  auto opened = storage::DocumentsStorage::open(dir.path() + "/storage", {});
  REQUIRE(opened.ok());
  auto indexes = query::IndexStore::open(*opened.value(), dir.path() + "/indexes");
  REQUIRE(indexes.ok());
  auto db = std::make_shared<server::DocumentDatabase>("db", std::move(opened).value(), std::move(indexes).value());
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::promise<Status> completed;
  auto done = completed.get_future();
  auto doc = boost::json::parse(R"({"@metadata":{"@collection":"Users"}})").as_object();
  db->storage().submit(
      [gate, doc](storage::WriteTransaction& txn) {
        gate.wait();
        return txn.put("users/1", doc, std::nullopt).status();
      },
      // Like a handler's completion: it keeps the database alive until it has run.
      [db, &completed](Status s) mutable {
        completed.set_value(s);
        db.reset();  // the last reference: the owner dropped its own below
      });
  std::weak_ptr<server::DocumentDatabase> watch = db;
  db.reset();
  release.set_value();
  REQUIRE(done.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(done.get().ok());
  // The storage closes (its RocksDB lock is released) without the writer joining itself.
  bool reopened = false;
  for (int i = 0; i < 200 && !reopened; ++i) {
    if (watch.expired()) {
      auto again = storage::DocumentsStorage::open(dir.path() + "/storage", {});
      if (again.ok()) {
        reopened = true;
        CHECK(again.value()->get("users/1").ok());
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(reopened);
}
