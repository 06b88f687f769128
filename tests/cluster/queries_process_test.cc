// Queries against a real corvusd: an auto-index built in the background from
// the etag order and kept up to date by writes survives kill -9 and catches up
// with what was written while it was down (it resumes from its stored
// position, not from zero), and bad queries get a 400 that names the token and
// its position and change nothing. The npm client's side is
// tests/compat/queries.test.mjs.
#include <doctest/doctest.h>

#include <string>

#include <boost/json.hpp>

#include "tests/support/http_checks.h"
#include "tests/support/single_node_db.h"

using namespace corvus::testing;
namespace json = boost::json;

namespace {

void put_user(SingleNodeDb& db, int i, const std::string& city) {
  auto r = db.client.request("PUT", "/databases/db/docs?id=users/" + std::to_string(i),
                             R"({"Name":"u)" + std::to_string(i) + R"(","City":")" + city +
                                 R"(","@metadata":{"@collection":"Users"}})");
  REQUIRE_MESSAGE(r.status == 201, r.body);
}

json::object query(SingleNodeDb& db, const std::string& rql, bool wait = true) {
  json::object body{{"Query", rql}, {"QueryParameters", nullptr}, {"WaitForNonStaleResults", wait}};
  auto r = db.client.request("POST", "/databases/db/queries", json::serialize(body));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return json::parse(r.body).as_object();
}

json::object index_stats(SingleNodeDb& db) {
  auto r = db.client.request("GET", "/databases/db/indexes/stats?name=Auto%2FUsers%2FByCity");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return json::parse(r.body).as_object().at("Results").as_array().at(0).as_object();
}

}  // namespace

TEST_CASE("queries: an auto-index survives kill -9 and catches up from where it was") {
  SingleNodeDb db;
  for (int i = 0; i < 300; ++i) put_user(db, i, i % 3 == 0 ? "Paris" : "Rome");
  auto first = query(db, "from Users where City = 'Paris'");
  CHECK(first.at("TotalResults").as_int64() == 100);
  CHECK(first.at("IndexName").as_string() == "Auto/Users/ByCity");
  CHECK(first.at("IsStale").as_bool() == false);

  // Pause indexing, write more, and crash: the index's stored position is behind.
  auto stop = db.client.request("POST", "/databases/db/admin/indexes/stop", "");
  REQUIRE(stop.status == 204);
  for (int i = 300; i < 330; ++i) put_user(db, i, "Paris");
  const int64_t position_before = index_stats(db).at("Collections").as_object().at("Users").as_object()
                                      .at("LastProcessedDocumentEtag").as_int64();
  CHECK(position_before == 300);
  db.server.kill9();
  REQUIRE(db.server.start());

  // After the restart the index exists, indexing runs (pausing is not kept),
  // and it picks up the 30 writes it missed.
  auto after = query(db, "from Users where City = 'Paris'");
  CHECK(after.at("TotalResults").as_int64() == 130);
  CHECK(after.at("IsStale").as_bool() == false);
  auto stats = index_stats(db);
  CHECK(stats.at("EntriesCount").as_int64() == 330);
  auto names = db.client.request("GET", "/databases/db/indexes?namesOnly=true");
  CHECK(json::parse(names.body).at("Results").as_array().size() == 1);
  // The database record lists it under AutoIndexes, in RavenDB's shape.
  auto record = json::parse(db.client.request("GET", "/admin/databases?name=db").body);
  const auto& auto_indexes = record.at("AutoIndexes").as_object();
  REQUIRE(auto_indexes.size() == 1);
  const auto& definition = auto_indexes.at("Auto/Users/ByCity").as_object();
  CHECK(definition.at("Type").as_string() == "AutoMap");
  CHECK(definition.at("Collection").as_string() == "Users");
  CHECK(definition.at("MapFields").as_object().contains("City"));
}

TEST_CASE("queries: a bad query is a 400 naming the token and its position, and changes nothing") {
  SingleNodeDb db;
  put_user(db, 1, "Paris");
  const std::string before = db.client.request("GET", "/databases/db/stats").body;
  struct Case {
    const char* body;
    const char* message;
  } cases[] = {
      {R"({"Query":"from Users where City = "})", "offset 24"},
      {R"({"Query":"from Users where City = 'x' order by"})", "end of query"},
      {R"({"Query":"from Users where City = $p"})", "p"},
      {R"({"Query":"from Users limit 'ten'"})", "limit"},
      {R"({"Query":"from Users group by City"})", "not supported"},
      {R"({"Query":42})", "Query"},
      {R"(not json)", ""},
  };
  for (const auto& c : cases) {
    auto r = db.client.request("POST", "/databases/db/queries", c.body);
    CHECK_MESSAGE(r.status == 400, c.body, " -> ", r.body);
    auto error = json::parse(r.body).as_object();
    CHECK(error.contains("Type"));
    CHECK(error.contains("Error"));
    CHECK_MESSAGE(std::string(error.at("Message").as_string()).find(c.message) != std::string::npos, r.body);
  }
  auto missing_index = db.client.request("POST", "/databases/db/queries", R"({"Query":"from index 'Nope'"})");
  CHECK(missing_index.status == 404);
  CHECK(missing_index.body.find("IndexDoesNotExistException") != std::string::npos);
  auto names = db.client.request("GET", "/databases/db/indexes?namesOnly=true");
  CHECK(json::parse(names.body).at("Results").as_array().empty());
  CHECK(json::parse(db.client.request("GET", "/databases/db/stats").body).at("LastDocEtag") ==
        json::parse(before).at("LastDocEtag"));
}
