// Counters over HTTP against a real corvusd: the REST shapes the official
// clients read, acknowledged increments surviving kill -9, and bad input
// (unknown document, bad name, non-numeric delta, overflow) answered with a
// clear 4xx that writes nothing (the database etag does not move).

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/http_checks.h"
#include "tests/support/single_node_db.h"

using namespace corvus::testing;

namespace {

std::string increment_body(const std::string& doc, const std::string& name, const std::string& delta_json) {
  return R"({"Documents":[{"DocumentId":")" + doc + R"(","Operations":[{"Type":"Increment","CounterName":")" + name +
         R"(","Delta":)" + delta_json + "}]}]}";
}

int64_t counter_value(HttpClient& c, const std::string& doc, const std::string& name) {
  auto o = json_of(c.request("GET", "/databases/db/counters?docId=" + doc + "&counter=" + name));
  auto& counters = o["Counters"].as_array();
  REQUIRE(counters.size() == 1);
  REQUIRE(counters[0].is_object());
  return counters[0].as_object()["TotalValue"].to_number<int64_t>();
}

}  // namespace

TEST_CASE("corvusd: counters over HTTP; acknowledged increments survive kill -9") {
  SingleNodeDb node;
  HttpClient& c = node.client;
  REQUIRE(c.request("PUT", "/databases/db/docs?id=users/1", R"({"@metadata":{"@collection":"Users"}})").status == 201);

  auto r = json_of(c.request("POST", "/databases/db/counters", increment_body("users/1", "likes", "5")));
  auto& detail = r["Counters"].as_array().at(0).as_object();
  CHECK(detail["DocumentId"] == "users/1");
  CHECK(detail["CounterName"] == "likes");
  CHECK(detail["TotalValue"] == 5);

  // The bulk_docs Counters command, in one transaction with a document.
  auto batch = json_of(c.request("POST", "/databases/db/bulk_docs", R"({"Commands":[
      {"Type":"PUT","Id":"users/2","Document":{"@metadata":{"@collection":"Users"}}},
      {"Type":"Counters","Id":"users/2","Counters":{"DocumentId":"users/2","Operations":[
        {"Type":"Increment","CounterName":"Views","Delta":3}]}}]})"));
  auto& entry = batch["Results"].as_array().at(1).as_object();
  CHECK(entry["Type"] == "Counters");
  CHECK(entry["Id"] == "users/2");
  CHECK(entry["CountersDetail"].as_object()["Counters"].as_array().at(0).as_object()["TotalValue"] == 3);
  auto doc = json_of(c.request("GET", "/databases/db/docs?id=users/2"));
  auto& md = doc["Results"].as_array().at(0).as_object()["@metadata"].as_object();
  CHECK(md["@counters"] == boost::json::parse(R"(["Views"])"));
  CHECK(md["@flags"] == "HasCounters");
  CHECK(entry["DocumentChangeVector"] == md["@change-vector"]);

  // Loaded with the document.
  auto loaded = json_of(c.request("GET", "/databases/db/docs?id=users/1&id=users/404&counter=likes&counter=none"));
  auto& includes = loaded["CounterIncludes"].as_object();
  CHECK(includes.size() == 1);
  auto& list = includes["users/1"].as_array();
  REQUIRE(list.size() == 2);
  CHECK(list[0].as_object()["TotalValue"] == 5);
  CHECK(list[1].is_null());

  // The POST form of a load (long id lists) keeps the counters in the query string.
  auto posted = json_of(c.request("POST", "/databases/db/docs?counter=@all_counters", R"({"Ids":["users/1","users/2"]})"));
  auto& posted_includes = posted["CounterIncludes"].as_object();
  CHECK(posted_includes["users/1"].as_array().size() == 1);
  CHECK(posted_includes["users/2"].as_array().at(0).as_object()["CounterName"] == "Views");

  // full=true: one value per node entry.
  auto full = json_of(c.request("GET", "/databases/db/counters?docId=users/1&full=true"));
  auto& values = full["Counters"].as_array().at(0).as_object()["CounterValues"].as_object();
  REQUIRE(values.size() == 1);
  CHECK(std::string(values.begin()->key()).starts_with("A-"));
  CHECK(values.begin()->value() == 5);

  for (int i = 0; i < 20; ++i) {
    REQUIRE(c.request("POST", "/databases/db/counters", increment_body("users/1", "likes", "1")).status == 200);
  }
  node.server.kill9();
  REQUIRE_MESSAGE(node.server.start(), node.server.log());
  HttpClient c2("127.0.0.1", node.port);
  CHECK(counter_value(c2, "users/1", "likes") == 25);
  CHECK(counter_value(c2, "users/2", "views") == 3);

  // Deleting the document deletes its counters.
  REQUIRE(c2.request("DELETE", "/databases/db/docs?id=users/1").status == 204);
  auto after = json_of(c2.request("GET", "/databases/db/counters?docId=users/1"));
  CHECK(after["Counters"].as_array().empty());
}

TEST_CASE("corvusd: bad counter input gets a clear 4xx and writes nothing") {
  SingleNodeDb node;
  HttpClient& c = node.client;
  REQUIRE(c.request("PUT", "/databases/db/docs?id=users/1", R"({"a":1})").status == 201);
  REQUIRE(c.request("POST", "/databases/db/counters", increment_body("users/1", "big", "9223372036854775807")).status ==
          200);
  const uint64_t before = last_etag(c);
  const std::string bad_request = "BadRequestException";

  SUBCASE("unknown document") {
    check_error(c.request("POST", "/databases/db/counters", increment_body("users/404", "likes", "1")), 404,
                "users/404", "DocumentDoesNotExistException");
    // bulk_docs: 400, since the clients read a 404 there as "no response".
    check_error(c.request("POST", "/databases/db/bulk_docs",
                          R"({"Commands":[{"Type":"Counters","Id":"users/404","Counters":{"DocumentId":"users/404",
                              "Operations":[{"Type":"Increment","CounterName":"likes","Delta":1}]}}]})"),
                400, "users/404", bad_request);
    // A batch whose later document is missing writes nothing of the earlier one.
    check_error(c.request("POST", "/databases/db/counters",
                          R"({"Documents":[{"DocumentId":"users/1","Operations":[{"Type":"Increment","CounterName":"x","Delta":1}]},
                                           {"DocumentId":"users/404","Operations":[{"Type":"Delete","CounterName":"x"}]}]})"),
                404, "users/404", "DocumentDoesNotExistException");
  }
  SUBCASE("bad counter name") {
    check_error(c.request("POST", "/databases/db/counters", increment_body("users/1", "", "1")), 400, "empty",
                bad_request);
    check_error(c.request("POST", "/databases/db/counters", increment_body("users/1", std::string(600, 'n'), "1")),
                400, "limit", bad_request);
    check_error(c.request("POST", "/databases/db/counters", increment_body("users/1", "a\\u0001b", "1")), 400,
                "control character", bad_request);
    check_error(c.request("POST", "/databases/db/counters",
                          R"({"Documents":[{"DocumentId":"users/1","Operations":[{"Type":"Increment","Delta":1}]}]})"),
                400, "CounterName", bad_request);
  }
  SUBCASE("non-numeric or fractional delta") {
    check_error(c.request("POST", "/databases/db/counters", increment_body("users/1", "likes", "\"1\"")), 400,
                "Delta", bad_request);
    check_error(c.request("POST", "/databases/db/counters", increment_body("users/1", "likes", "1.5")), 400,
                "Delta", bad_request);
    check_error(c.request("POST", "/databases/db/counters", increment_body("users/1", "likes", "null")), 400,
                "Delta", bad_request);
    check_error(c.request("POST", "/databases/db/bulk_docs",
                          R"({"Commands":[{"Type":"Counters","Id":"users/1","Counters":{"DocumentId":"users/1",
                              "Operations":[{"Type":"Increment","CounterName":"likes","Delta":true}]}}]})"),
                400, "Delta", bad_request);
  }
  SUBCASE("overflow") {
    check_error(c.request("POST", "/databases/db/counters", increment_body("users/1", "big", "1")), 400, "Overflow",
                bad_request);
    check_error(c.request("POST", "/databases/db/counters", increment_body("users/1", "big", "9223372036854775808")),
                400, "overflow", bad_request);
    // In a batch, the document written before the failing command is rolled back too.
    check_error(c.request("POST", "/databases/db/bulk_docs", R"({"Commands":[
        {"Type":"PUT","Id":"users/3","Document":{}},
        {"Type":"Counters","Id":"users/1","Counters":{"DocumentId":"users/1",
          "Operations":[{"Type":"Increment","CounterName":"big","Delta":1}]}}]})"),
                400, "Overflow", bad_request);
    CHECK(c.request("GET", "/databases/db/docs?id=users/3").status == 404);
    CHECK(counter_value(c, "users/1", "big") == 9223372036854775807);
  }
  SUBCASE("wrong shapes") {
    check_error(c.request("POST", "/databases/db/counters", R"({"Docs":[]})"), 400, "Documents", bad_request);
    check_error(c.request("POST", "/databases/db/counters",
                          R"({"Documents":[{"DocumentId":"users/1","Operations":[{"Type":"Explode","CounterName":"x"}]}]})"),
                400, "Explode", bad_request);
    check_error(c.request("GET", "/databases/db/counters"), 400, "docId", bad_request);
    check_error(c.request("POST", "/databases/db/bulk_docs",
                          R"({"Commands":[{"Type":"Counters","Id":"users/1"}]})"),
                400, "Counters", bad_request);
  }
  CHECK(last_etag(c) == before);
}
