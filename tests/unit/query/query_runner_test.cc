#include "query/query_runner.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "query/index_store.h"
#include "tests/unit/query/index_test_support.h"

using namespace corvus;
using namespace corvus::query;
using namespace corvus::query::testing_support;

namespace {

struct Db {
  testing::TempDir dir;
  std::unique_ptr<storage::DocumentsStorage> storage = open_storage(dir.path() + "/db");
  std::unique_ptr<IndexStore> indexes = open_indexes();

  std::unique_ptr<IndexStore> open_indexes() {
    auto i = IndexStore::open(*storage, dir.path() + "/indexes");
    REQUIRE_MESSAGE(i.ok(), i.status().to_string());
    return std::move(i).value();
  }
};

struct Ran {
  std::vector<std::string> ids;
  QueryStatistics stats;
  std::map<std::string, std::string> includes;
};

Result<Ran> run(Db& db, const std::string& rql, boost::json::object parameters = {}, bool wait = true) {
  Query q = parse(rql);
  QueryOptions options;
  options.parameters = std::move(parameters);
  options.wait_for_non_stale = wait;
  auto runner = QueryRunner::start(q, options, *db.storage, *db.indexes);
  if (!runner.ok()) return runner.status();
  if (Status s = runner.value()->execute(); !s.ok()) return s;
  Ran out;
  for (;;) {
    auto next = runner.value()->next();
    if (!next.ok()) return next.status();
    if (!next.value()) break;
    auto doc = boost::json::parse(*next.value()).as_object();
    out.ids.emplace_back(doc["@metadata"].as_object()["@id"].as_string());
  }
  auto includes = runner.value()->includes();
  if (!includes.ok()) return includes.status();
  out.includes = std::move(includes).value();
  out.stats = runner.value()->statistics();
  return out;
}

Ran must_run(Db& db, const std::string& rql, boost::json::object parameters = {}) {
  auto r = run(db, rql, std::move(parameters));
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return std::move(r).value();
}

void seed(Db& db) {
  put(*db.storage, "users/1", "Users", R"({"Name":"Ann","Age":31,"City":"Paris","Company":"companies/1"})");
  put(*db.storage, "users/2", "Users", R"({"Name":"bob","Age":25,"City":"London"})");
  put(*db.storage, "users/3", "Users", R"({"Name":"Carl","Age":40,"City":"Paris"})");
  put(*db.storage, "companies/1", "Companies", R"({"Name":"Acme"})");
}

std::vector<std::string> index_names(IndexStore& indexes) {
  std::vector<std::string> names;
  for (const auto& i : indexes.list()) names.push_back(i->name());
  return names;
}

}  // namespace

TEST_CASE("QueryRunner: a collection query reads the collection, pages, and builds no index") {
  Db db;
  seed(db);
  auto all = must_run(db, "from Users");
  CHECK(all.ids == std::vector<std::string>{"users/1", "users/2", "users/3"});
  CHECK(all.stats.index_name == "collection/Users");
  CHECK(all.stats.total_results == 3);
  auto page = must_run(db, "from Users limit $o, $n", {{"o", 1}, {"n", 1}});
  CHECK(page.ids == std::vector<std::string>{"users/2"});
  CHECK(page.stats.total_results == 3);
  auto by_id = must_run(db, "from Users where id() in ($ids)", {{"ids", boost::json::array{"USERS/3", "companies/1"}}});
  CHECK(by_id.ids == std::vector<std::string>{"users/3"});
  auto everything = must_run(db, "from @all_docs");
  CHECK(everything.ids.size() == 4);
  CHECK(index_names(*db.indexes).empty());
}

TEST_CASE("QueryRunner: a filter or sort creates an auto-index, which follows writes") {
  Db db;
  seed(db);
  auto paris = must_run(db, "from Users where City = 'PARIS' order by Age desc include Company");
  CHECK(paris.ids == std::vector<std::string>{"users/3", "users/1"});
  CHECK(paris.stats.index_name == "Auto/Users/ByAgeAndCity");
  CHECK(!paris.stats.is_stale);
  CHECK(paris.includes.count("companies/1") == 1);

  put(*db.storage, "users/4", "Users", R"({"Name":"Dee","Age":19,"City":"paris"})");
  remove(*db.storage, "users/3");
  auto again = must_run(db, "from Users where City = $c and Age >= $a", {{"c", "Paris"}, {"a", 18}});
  CHECK(again.ids == std::vector<std::string>{"users/1", "users/4"});
  CHECK(again.stats.index_name == "Auto/Users/ByAgeAndCity");

  auto range = must_run(db, "from Users where Age between 20 and 35 or startsWith(Name, 'd')");
  CHECK(range.ids == std::vector<std::string>{"users/1", "users/2", "users/4"});
}

TEST_CASE("QueryRunner: a wider query supersedes the narrower auto-index, which is retired once the wider caught up") {
  Db db;
  seed(db);
  must_run(db, "from Users where Name = 'ann'");
  CHECK(index_names(*db.indexes) == std::vector<std::string>{"Auto/Users/ByName"});
  auto wider = must_run(db, "from Users where Age > 30");
  CHECK(wider.stats.index_name == "Auto/Users/ByAgeAndName");
  CHECK(wider.ids == std::vector<std::string>{"users/1", "users/3"});
  for (int i = 0; i < 200 && index_names(*db.indexes).size() > 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(index_names(*db.indexes) == std::vector<std::string>{"Auto/Users/ByAgeAndName"});
  // The narrower query now uses the wider index.
  CHECK(must_run(db, "from Users where Name = 'ann'").stats.index_name == "Auto/Users/ByAgeAndName");
}

TEST_CASE("IndexStore: the listener is told IndexAdded, BatchCompleted, IndexPaused and IndexRemoved (retired or deleted)") {
  Db db;
  seed(db);
  std::mutex mu;
  std::vector<std::string> told;
  db.indexes->set_listener([&](const std::string& name, const char* type) {
    std::lock_guard lock(mu);
    told.push_back(std::string(type) + " " + name);
  });
  auto has = [&](const std::string& event) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(mu);
        if (std::find(told.begin(), told.end(), event) != told.end()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  must_run(db, "from Users where Name = 'ann'");
  CHECK(has("BatchCompleted Auto/Users/ByName"));
  must_run(db, "from Users where Age > 30");
  CHECK(has("BatchCompleted Auto/Users/ByAgeAndName"));
  CHECK(has("IndexRemoved Auto/Users/ByName"));  // retired by the wider one
  REQUIRE(db.indexes->pause("auto/users/byageandname").ok());
  CHECK(has("IndexPaused Auto/Users/ByAgeAndName"));
  REQUIRE(db.indexes->remove("Auto/Users/ByAgeAndName").ok());
  CHECK(has("IndexRemoved Auto/Users/ByAgeAndName"));
  std::lock_guard lock(mu);
  // Each index was added before anything else was told of it.
  for (const std::string name : {"Auto/Users/ByName", "Auto/Users/ByAgeAndName"}) {
    auto first = std::find_if(told.begin(), told.end(), [&](const std::string& e) {
      return e.size() > name.size() && e.compare(e.size() - name.size(), name.size(), name) == 0;
    });
    REQUIRE(first != told.end());
    CHECK(*first == "IndexAdded " + name);
  }
}

TEST_CASE("QueryRunner: a paused index is stale; indexes and their positions survive a reopen") {
  Db db;
  seed(db);
  must_run(db, "from Users where City = 'Paris'");
  REQUIRE(db.indexes->pause("").ok());
  put(*db.storage, "users/9", "Users", R"({"Name":"New","City":"Paris"})");
  auto stale = run(db, "from Users where City = 'Paris'", {}, false);
  REQUIRE(stale.ok());
  CHECK(stale.value().stats.is_stale);
  CHECK(stale.value().ids.size() == 2);

  db.indexes.reset();  // closes; the index is behind the storage
  db.indexes = db.open_indexes();
  auto fresh = must_run(db, "from Users where City = 'Paris'");
  CHECK(!fresh.stats.is_stale);
  CHECK(fresh.ids == std::vector<std::string>{"users/1", "users/3", "users/9"});
  CHECK(index_names(*db.indexes) == std::vector<std::string>{"Auto/Users/ByCity"});
}

TEST_CASE("QueryRunner: errors are returned, not guessed") {
  Db db;
  seed(db);
  CHECK(run(db, "from Users where Name = $missing").status().is_invalid_argument());
  CHECK(run(db, "from Users limit $n", {{"n", "ten"}}).status().is_invalid_argument());
  CHECK(run(db, "from index 'Auto/Nope/ByName'").status().is_not_found());
  CHECK(run(db, "from Users where regex(Name, '(')").status().is_invalid_argument());
}

TEST_CASE("QueryRunner: an exact index answer is counted from the index and each returned document checked") {
  Db db;
  seed(db);
  auto fresh = must_run(db, "from Users where City = 'Paris'");
  CHECK(fresh.ids == std::vector<std::string>{"users/1", "users/3"});
  CHECK(fresh.stats.total_results == 2);
  auto page = must_run(db, "from Users where City = 'Paris' limit 1, 5");
  CHECK(page.ids == std::vector<std::string>{"users/3"});
  CHECK(page.stats.total_results == 2);

  // Behind the documents: what no longer matches is not returned.
  REQUIRE(db.indexes->pause("").ok());
  put(*db.storage, "users/1", "Users", R"({"Name":"Ann","Age":31,"City":"London"})");
  remove(*db.storage, "users/3");
  put(*db.storage, "users/5", "Users", R"({"Name":"Eve","City":"Paris"})");
  auto behind = run(db, "from Users where City = 'Paris'", {}, false);
  REQUIRE(behind.ok());
  CHECK(behind.value().stats.is_stale);
  CHECK(behind.value().ids.empty());
  REQUIRE(db.indexes->resume("").ok());
  CHECK(must_run(db, "from Users where City = 'Paris'").ids == std::vector<std::string>{"users/5"});
}

TEST_CASE("QueryRunner::explain: the index a query would use or create, and why, creating nothing") {
  Db db;
  seed(db);
  auto explain = [&](const std::string& rql) {
    Query q = parse(rql);
    auto e = QueryRunner::explain(q, *db.indexes);
    REQUIRE_MESSAGE(e.ok(), e.status().to_string());
    return std::move(e).value();
  };
  // Nothing yet: the query would create its index; explaining creates none.
  auto first = explain("from Users where Name = 'ann'");
  CHECK(first.index_name == "Auto/Users/ByName");
  CHECK_FALSE(first.exists);
  CHECK(first.reasons.empty());
  CHECK(index_names(*db.indexes).empty());

  must_run(db, "from Users where Name = 'ann'");
  auto used = explain("from Users where Name = 'bob'");
  CHECK(used.index_name == "Auto/Users/ByName");
  CHECK(used.exists);
  REQUIRE(used.reasons.size() == 1);
  CHECK(used.reasons[0].second.find("Complete match") == 0);

  auto wider = explain("from Users where Age > 30 order by Name");
  CHECK(wider.index_name == "Auto/Users/ByAgeAndName");
  CHECK_FALSE(wider.exists);
  REQUIRE(wider.reasons.size() == 1);
  CHECK(wider.reasons[0].first == "Auto/Users/ByName");
  CHECK(wider.reasons[0].second.find("Partial match: lacks Age") == 0);
  CHECK(index_names(*db.indexes) == std::vector<std::string>{"Auto/Users/ByName"});

  // Another collection's indexes are not considered; a collection query needs none.
  CHECK(explain("from Companies where Name = 'Acme'").reasons.empty());
  auto scan = explain("from Users");
  CHECK(scan.index_name == "collection/Users");
  REQUIRE(scan.reasons.size() == 1);
  CHECK(scan.reasons[0].second.find("Not needed") == 0);
  CHECK(explain("from @all_docs").index_name == "AllDocs");
  CHECK(QueryRunner::explain(parse("from index 'Auto/Users/ByName'"), *db.indexes).status().is_invalid_argument());
}
