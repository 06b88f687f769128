// Revisions against a real corvusd: bad input to the revisions endpoints gets
// a clear 4xx and changes nothing (neither the record nor the etag), and
// revisions with their configuration survive kill -9.

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/http_checks.h"
#include "tests/support/single_node_db.h"

using namespace corvus::testing;

namespace {

// The record's Revisions as GET /admin/databases shows it (null when none).
boost::json::value revisions_in_record(HttpClient& c) {
  auto r = c.request("GET", "/admin/databases?name=db");
  REQUIRE(r.status == 200);
  auto o = boost::json::parse(r.body).as_object();
  return o.contains("Revisions") ? o["Revisions"] : boost::json::value(nullptr);
}

uint64_t revisions_count(HttpClient& c, const std::string& id) {
  auto r = c.request("GET", "/databases/db/revisions/count?id=" + id);
  REQUIRE(r.status == 200);
  return boost::json::parse(r.body).as_object()["RevisionsCount"].to_number<uint64_t>();
}

}  // namespace

TEST_CASE("corvusd revisions: bad input gets a clear 4xx and changes nothing") {
  SingleNodeDb node;
  HttpClient& c = node.client;
  REQUIRE(c.request("PUT", "/databases/db/docs?id=users/1", R"({"a":1})").status == 201);
  const uint64_t before = last_etag(c);

  SUBCASE("bad configuration bodies") {
    const std::string url = "/databases/db/admin/revisions/config?raft-request-id=1";
    check_error(c.request("POST", url, R"({"Default":)"), 400, "Malformed JSON");
    check_error(c.request("POST", url, R"([1])"), 400, "must be a JSON object");
    check_error(c.request("POST", url, R"({"Default":{"MinimumRevisionsToKeep":-3}})"), 400,
                "Default.MinimumRevisionsToKeep");
    check_error(c.request("POST", url, R"({"Default":{"MinimumRevisionAgeToKeep":"7 days"}})"), 400, "TimeSpan");
    check_error(c.request("POST", url, R"({"Collections":{"Users":{"Disabled":"yes"}}})"), 400,
                "Collections['Users'].Disabled");
    check_error(c.request("PUT", "/admin/databases", R"({"DatabaseName":"db2","Revisions":{"Default":3}})"), 400,
                "Default");
    CHECK(c.request("GET", "/admin/databases?name=db2").status == 404);
    CHECK(revisions_in_record(c).is_null());
  }
  SUBCASE("bad reads") {
    check_error(c.request("GET", "/databases/db/revisions?changeVector="), 400, "changeVector");
    check_error(c.request("GET", "/databases/db/revisions?changeVector=A:1-abc&changeVector="), 400, "changeVector");
    // Any other string is only looked up (as RavenDB does): not found.
    CHECK(c.request("GET", "/databases/db/revisions?changeVector=garbage").status == 404);
    auto two = c.request("GET", "/databases/db/revisions?changeVector=garbage&changeVector=A:1-abc");
    CHECK(two.status == 200);
    CHECK(two.body == R"({"Results":[null,null]})");
    check_error(c.request("GET", "/databases/db/revisions?id=users/1&pageSize=-1"), 400, "pageSize");
    check_error(c.request("GET", "/databases/db/revisions?id=users/1&start=x"), 400, "start");
    check_error(c.request("GET", "/databases/db/revisions?id=users/1&before=yesterday"), 400, "before");
    check_error(c.request("GET", "/databases/db/revisions"), 400, "'id' or 'changeVector'");
    check_error(c.request("GET", "/databases/db/revisions/count"), 400, "'id' is required");
    check_error(c.request("GET", "/databases/db/revisions/bin?pageSize=abc"), 400, "pageSize");
    // No revisions is an empty page, not a 404 (the client's getFor needs Results).
    auto none = c.request("GET", "/databases/db/revisions?id=users/1&start=0&pageSize=25");
    CHECK(none.status == 200);
    CHECK(none.body == R"({"Results":[],"TotalResults":0})");
  }
  SUBCASE("bad batch commands") {
    check_error(c.request("POST", "/databases/db/bulk_docs", R"({"Commands":[{"Type":"ForceRevisionCreation"}]})"),
                400, "Id");
    check_error(c.request("POST", "/databases/db/bulk_docs",
                          R"({"Commands":[{"Type":"PUT","Id":"users/1","Document":{},"ForceRevisionCreationStrategy":"After"}]})"),
                400, "ForceRevisionCreationStrategy");
    // All or nothing: a forced revision of a missing document fails the batch.
    check_error(c.request("POST", "/databases/db/bulk_docs",
                          R"({"Commands":[{"Type":"ForceRevisionCreation","Id":"users/1"},{"Type":"ForceRevisionCreation","Id":"nope"}]})"),
                404, "nope");
    // "Before" needs a stored version to keep.
    check_error(c.request("POST", "/databases/db/bulk_docs",
                          R"({"Commands":[{"Type":"PUT","Id":"users/9","Document":{},"ForceRevisionCreationStrategy":"Before"}]})"),
                400, "was not saved on the server yet");
    CHECK(c.request("GET", "/databases/db/docs?id=users/9").status == 404);
    CHECK(revisions_count(c, "users/1") == 0);
  }
  CHECK(last_etag(c) == before);
}

TEST_CASE("corvusd revisions: configuration and revisions survive kill -9") {
  SingleNodeDb node;
  {
    HttpClient& c = node.client;
    auto conf = c.request("POST", "/databases/db/admin/revisions/config?raft-request-id=1",
                          R"({"Default":{"MinimumRevisionsToKeep":2},"Collections":{"Orders":{"Disabled":true}}})");
    REQUIRE_MESSAGE(conf.status == 200, conf.body);
    CHECK(boost::json::parse(conf.body).as_object()["RaftCommandIndex"].to_number<uint64_t>() > 0);
    for (int i = 0; i < 3; ++i) {
      REQUIRE(c.request("PUT", "/databases/db/docs?id=users/1", R"({"v":)" + std::to_string(i) + "}").status == 201);
    }
    REQUIRE(c.request("PUT", "/databases/db/docs?id=orders/1", R"({"@metadata":{"@collection":"Orders"}})").status == 201);
    CHECK(revisions_count(c, "users/1") == 2);  // pruned to MinimumRevisionsToKeep
    CHECK(revisions_count(c, "orders/1") == 0);
  }
  node.server.kill9();
  REQUIRE_MESSAGE(node.server.start(), node.server.log());
  HttpClient c("127.0.0.1", node.port);
  CHECK(revisions_count(c, "users/1") == 2);
  auto stats = c.request("GET", "/databases/db/stats");
  REQUIRE(stats.status == 200);
  CHECK(boost::json::parse(stats.body).at("CountOfRevisionDocuments") == 2);
  auto rec = revisions_in_record(c);
  REQUIRE(rec.is_object());
  CHECK(rec.at("Default").at("MinimumRevisionsToKeep") == 2);
  // Still in force after the restart: a write keeps a revision and prunes.
  REQUIRE(c.request("PUT", "/databases/db/docs?id=users/1", R"({"v":9})").status == 201);
  auto page = c.request("GET", "/databases/db/revisions?id=users/1");
  REQUIRE(page.status == 200);
  auto o = boost::json::parse(page.body).as_object();
  CHECK(o["TotalResults"] == 2);
  CHECK(o["Results"].at(0).at("v") == 9);
  CHECK(std::string(o["Results"].at(0).at("@metadata").at("@flags").as_string()).find("Revision") != std::string::npos);
}
