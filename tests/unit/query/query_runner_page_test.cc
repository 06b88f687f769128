// QueryRunner's page on a real storage and auto-index: an unsorted filtered
// query hands out the matches of the smallest etags, in etag order, each
// exactly as stored, whatever the offset and limit (the runner keeps the
// documents it read while matching for the first page and reads the rest
// again: both paths are covered), and a sorted one follows its sort.

#include <algorithm>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "query/index_store.h"
#include "query/query_runner.h"
#include "query/rql_parser.h"
#include "query/sorted_walk.h"
#include "storage/documents_storage.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::query;
namespace json = boost::json;

namespace {

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<storage::DocumentsStorage> storage;
  std::unique_ptr<IndexStore> indexes;

  Fixture() {
    auto opened = storage::DocumentsStorage::open(dir.sub("storage"), {});
    REQUIRE(opened.ok());
    storage = std::move(opened).value();
    auto store = IndexStore::open(*storage, dir.sub("indexes"));
    REQUIRE(store.ok());
    indexes = std::move(store).value();
  }
  ~Fixture() { indexes.reset(); }

  void put(const std::string& id, const std::string& city, int n) {
    json::object doc{{"Name", "user " + std::to_string(n)},
                     {"City", city},
                     {"N", n},
                     {"@metadata", json::object{{"@collection", "Users"}}}};
    REQUIRE(storage->write([&](storage::WriteTransaction& txn) { return txn.put(id, doc, std::nullopt).status(); })
                .ok());
  }

  // The results of `rql` as stored JSON texts, waiting for a non-stale index.
  std::vector<std::string> run(const std::string& rql, uint64_t* total = nullptr) {
    auto parsed = parse_rql(rql);
    REQUIRE(parsed.ok());
    QueryOptions options;
    options.wait_for_non_stale = true;
    auto runner = QueryRunner::start(parsed.value(), options, *storage, *indexes);
    REQUIRE(runner.ok());
    REQUIRE(runner.value()->execute().ok());
    std::vector<std::string> out;
    for (;;) {
      auto next = runner.value()->next();
      REQUIRE(next.ok());
      if (!next.value()) break;
      out.push_back(*next.value());
    }
    CHECK_FALSE(runner.value()->statistics().is_stale);
    if (total) *total = runner.value()->statistics().total_results;
    return out;
  }

  // A Users document with these fields (JSON object text, no @metadata).
  void put_json(const std::string& id, const std::string& fields) {
    json::object doc = json::parse(fields).as_object();
    doc["@metadata"] = json::object{{"@collection", "Users"}};
    REQUIRE(storage->write([&](storage::WriteTransaction& txn) { return txn.put(id, doc, std::nullopt).status(); })
                .ok());
  }

  std::string stored(const std::string& id) {
    auto doc = storage->get(id);
    REQUIRE(doc.ok());
    return doc.value().json;
  }
};

}  // namespace

TEST_CASE("QueryRunner: an unsorted page is the matches of the smallest etags, as stored") {
  Fixture f;
  // 40 users, every other one in Oslo; then some early Oslo users are written
  // again, so etag order is not id order and the first page changes.
  for (int i = 0; i < 40; ++i) f.put("users/" + std::to_string(i), i % 2 ? "Paris" : "Oslo", i);
  for (int i : {0, 4, 10}) f.put("users/" + std::to_string(i), "Oslo", 100 + i);
  std::vector<std::pair<uint64_t, std::string>> oslo;  // (etag, id)
  for (int i = 0; i < 40; i += 2) {
    auto doc = f.storage->get("users/" + std::to_string(i));
    REQUIRE(doc.ok());
    oslo.emplace_back(doc.value().etag, doc.value().id);
  }
  std::sort(oslo.begin(), oslo.end());
  auto expected = [&](size_t skip, size_t take) {
    std::vector<std::string> out;
    for (size_t i = skip; i < oslo.size() && i < skip + take; ++i) out.push_back(f.stored(oslo[i].second));
    return out;
  };

  uint64_t total = 0;
  CHECK(f.run("from Users where City = 'Oslo' limit 5", &total) == expected(0, 5));
  CHECK(total == 20);
  CHECK(f.run("from Users where City = 'Oslo' limit 3, 4") == expected(3, 4));
  CHECK(f.run("from Users where City = 'Oslo' limit 20") == expected(0, 20));
  CHECK(f.run("from Users where City = 'Oslo' limit 18, 10") == expected(18, 10));
  // Beyond the kept documents (more than 1024 asked for): every result read again.
  CHECK(f.run("from Users where City = 'Oslo' limit 5000") == expected(0, 5000));
  CHECK(f.run("from Users where City = 'Oslo'") == expected(0, 5000));
}

TEST_CASE("QueryRunner: a sorted page follows the sort, not the etags") {
  Fixture f;
  for (int i = 0; i < 12; ++i) f.put("users/" + std::to_string(i), "Oslo", (i * 7) % 12);
  auto results = f.run("from Users where City = 'Oslo' order by N as long desc limit 1, 3");
  REQUIRE(results.size() == 3);
  for (size_t k = 0; k < results.size(); ++k)
    CHECK(json::parse(results[k]).at("N").as_int64() == static_cast<int64_t>(10 - k));
}

TEST_CASE("QueryRunner: a sorted page keeps only its best matches and equals the same page of the whole sort") {
  Fixture f;
  // 60 users over 7 values of N (many ties, broken by etag), some rewritten so
  // etag order is not id order; every page must equal the slice of the full sort.
  for (int i = 0; i < 60; ++i) f.put("users/" + std::to_string(i), i % 3 ? "Paris" : "Oslo", (i * 5) % 7);
  for (int i : {3, 9, 30}) f.put("users/" + std::to_string(i), "Oslo", 2);
  uint64_t total = 0;
  const auto all = f.run("from Users where City = 'Oslo' order by N as long desc", &total);
  CHECK(total == 20);
  REQUIRE(all.size() == 20);
  auto slice = [&](size_t skip, size_t take) {
    return std::vector<std::string>(all.begin() + std::min(skip, all.size()),
                                    all.begin() + std::min(skip + take, all.size()));
  };
  for (auto [skip, take] : {std::pair<size_t, size_t>{0, 1}, {0, 5}, {2, 3}, {7, 6}, {15, 10}, {19, 1}, {25, 5}, {0, 0}}) {
    INFO(skip << ", " << take);
    uint64_t page_total = 0;
    CHECK(f.run("from Users where City = 'Oslo' order by N as long desc limit " + std::to_string(skip) + ", " +
                    std::to_string(take),
                &page_total) == slice(skip, take));
    CHECK(page_total == 20);  // every match counted, only the page kept
  }
  // Ties keep etag order: among equal N, the earlier write comes first.
  const auto twos = f.run("from Users where City = 'Oslo' and N = 2 order by N limit 10");
  std::vector<uint64_t> etags;
  for (const auto& r : twos) {
    auto doc = f.storage->get(std::string(json::parse(r).at("@metadata").at("@id").as_string()));
    REQUIRE(doc.ok());
    etags.push_back(doc.value().etag);
  }
  CHECK(std::is_sorted(etags.begin(), etags.end()));
  CHECK(etags.size() >= 3);
}

TEST_CASE("QueryRunner: a page walked off the index's sort entries equals the same page of the whole sort") {
  Fixture f;
  // Ties, missing values, nulls, arrays (sorted by their first value), mixed
  // case, negative and fractional numbers, rewrites (etag order is not id order).
  for (int i = 0; i < 150; ++i) {
    json::object doc{{"City", i % 3 ? "Paris" : "Oslo"}, {"Name", (i % 2 ? "User " : "user ") + std::to_string(i % 9)}};
    if (i % 10 != 0) doc["N"] = (i * 7) % 23 - 11;
    if (i % 17 == 0) doc["N"] = nullptr;
    if (i % 13 == 0) doc["N"] = json::array{(i * 3) % 23 - 11, -100};
    doc["D"] = (i % 11) / 4.0 - 1;
    doc["Mixed"] = i % 4 ? json::value(i % 5) : json::value(std::to_string(i % 5));
    f.put_json("users/" + std::to_string(i), json::serialize(doc));
  }
  for (int i : {4, 20, 77, 101}) f.put_json("users/" + std::to_string(i), R"({"City":"Oslo","Name":"user 1","N":3,"D":0.5,"Mixed":1})");

  for (const std::string query : {"from Users order by N as long", "from Users order by N as long desc",
                                  "from Users order by N as double", "from Users order by D as double desc",
                                  "from Users order by Name", "from Users order by Name desc",
                                  "from Users order by Name, N as long desc", "from Users order by N, Name",
                                  "from Users where City = 'Oslo' order by N as long desc",
                                  "from Users where City in ('Oslo', 'Paris') order by Name",
                                  "from Users order by Mixed", "from Users order by Mixed as long"}) {
    uint64_t total = 0;
    const auto all = f.run(query, &total);  // no limit: sorted whole
    for (auto [skip, take] : {std::pair<size_t, size_t>{0, 1}, {0, 10}, {3, 7}, {40, 30}, {140, 20}, {0, 200}}) {
      INFO(query << " limit " << skip << ", " << take);
      uint64_t page_total = 0;
      const std::vector<std::string> slice(all.begin() + std::min(skip, all.size()),
                                           all.begin() + std::min(skip + take, all.size()));
      CHECK(f.run(query + " limit " + std::to_string(skip) + ", " + std::to_string(take), &page_total) == slice);
      CHECK(page_total == total);
    }
  }

  // The walk served those it can; it declines a string sort over numbers.
  auto walked = [&](const std::string& query, const std::string& index_name) -> bool {
    auto parsed = parse_rql(query);
    REQUIRE(parsed.ok());
    auto sorter = DocumentSorter::compile(parsed.value(), {});
    REQUIRE(sorter.ok());
    auto index = f.indexes->find(index_name);
    REQUIRE(index);
    storage::DocumentSnapshot snapshot(*f.storage);
    auto page = walk_sorted_page(*index, sorter.value(), nullptr, 10, snapshot);
    REQUIRE(page.ok());
    return page.value().has_value();
  };
  const std::string index = "Auto/Users/ByCityAndDAndMixedAndNAndName";
  CHECK(walked("from Users order by N as long", index));
  CHECK(walked("from Users order by Name desc", index));
  CHECK(walked("from Users order by D as double, Name", index));
  CHECK_FALSE(walked("from Users order by Mixed", index));      // numbers among the strings
  CHECK_FALSE(walked("from Users order by Name as long", index));  // strings among the numbers
  CHECK_FALSE(walked("from Users order by N as alphaNumeric", index));
}
