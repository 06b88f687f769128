// Bad input against a real corvusd: each gets a 4xx with RavenDB's
// {Type, Message, Error} body that says what is wrong, and nothing is written.

#include <doctest/doctest.h>

#include "tests/support/http_checks.h"
#include "tests/support/single_node_db.h"

using namespace corvus::testing;

TEST_CASE("corvusd: bad input gets a clear 4xx and changes nothing") {
  SingleNodeDb node({"--max-body-size", "4KB"});
  HttpClient& c = node.client;
  REQUIRE(c.request("PUT", "/databases/db/docs?id=users/1", R"({"a":1})").status == 201);
  const uint64_t before = last_etag(c);

  SUBCASE("malformed JSON") {
    check_error(c.request("PUT", "/databases/db/docs?id=users/2", R"({"a":)"), 400, "Malformed JSON");
    check_error(c.request("POST", "/databases/db/bulk_docs", R"({"Commands":[}")"), 400, "Malformed JSON");
    check_error(c.request("PUT", "/databases/db/docs?id=users/2", R"({"a":1} trailing)"), 400, "Malformed JSON");
  }
  SUBCASE("body over the limit") {
    const std::string big = "{\"pad\":\"" + std::string(8192, 'x') + "\"}";
    auto r = c.request("PUT", "/databases/db/docs?id=users/2", big);
    CHECK(r.status == 413);
  }
  SUBCASE("unknown route") {
    check_error(c.request("GET", "/databases/db/no-such-thing"), 400, "no handler");
    check_error(c.request("PATCH", "/databases/db/no-such-thing", "{}"), 400, "no handler");
  }
  SUBCASE("missing id") {
    check_error(c.request("PUT", "/databases/db/docs", R"({"a":1})"), 400, "'id' is required");
    check_error(c.request("DELETE", "/databases/db/docs"), 400, "'id' is required");
    // A batch PUT without an Id asks for a generated one (RavenDB does the same); a DELETE cannot.
    check_error(c.request("POST", "/databases/db/bulk_docs", R"({"Commands":[{"Type":"DELETE"}]})"), 400, "Id");
  }
  SUBCASE("bad database name") {
    check_error(c.request("PUT", "/admin/databases?name=..%2Fetc", R"({"DatabaseName":"../etc"})"), 400,
                "may only contain");
    check_error(c.request("PUT", "/admin/databases", R"({"DatabaseName":".hidden"})"), 400, "start or end");
    check_error(c.request("PUT", "/admin/databases", R"({"DatabaseName":""})"), 400, "DatabaseName");
  }
  SUBCASE("invalid change vector") {
    check_error(c.request("PUT", "/databases/db/docs?id=users/1", R"({"a":2})", {{"If-Match", "\"garbage\""}}),
                400, "Invalid change vector");
    check_error(c.request("POST", "/databases/db/bulk_docs",
                          R"({"Commands":[{"Type":"PUT","Id":"users/1","ChangeVector":"A:x-y","Document":{}}]})"),
                400, "Invalid change vector");
  }
  SUBCASE("unsupported batch command and wrong shapes") {
    check_error(c.request("POST", "/databases/db/bulk_docs", R"({"Commands":[{"Type":"PUT","Id":"x","Document":{}},{"Type":"TimeSeries","Id":"y"}]})"),
                400, "not supported");
    check_error(c.request("POST", "/databases/db/bulk_docs", R"({"Commands":[{"Type":"PUT","Id":"x","Document":{}},{"Type":"PATCH","Id":"y"}]})"),
                400, "\"Patch\"");
    check_error(c.request("PATCH", "/databases/db/docs?id=users/1", "{}"), 400, "\"Patch\"");
    check_error(c.request("PATCH", "/databases/db/docs?id=users/1", R"({"Patch":{"Script":""}})"), 400, "Script");
    check_error(c.request("PATCH", "/databases/db/docs?id=users/1", R"({"Patch":{"Script":"this.a = ;"}})"), 400,
                "SyntaxError");
    check_error(c.request("POST", "/databases/db/bulk_docs", R"([1,2])"), 400, "Commands");
    check_error(c.request("PUT", "/databases/db/docs?id=users/2", R"([1,2])"), 400, "JSON object");
    check_error(c.request("GET", "/databases/db/docs?start=abc"), 400, "start");
  }
  SUBCASE("a missing database") {
    auto r = c.request("GET", "/databases/nope/docs?id=x");
    CHECK(r.status == 503);
    CHECK(r.header("database-missing") == "nope");
  }
  CHECK(last_etag(c) == before);
  CHECK(c.request("HEAD", "/databases/db/docs?id=users/2").status == 404);
  CHECK(c.request("GET", "/databases").body.find("etc") == std::string::npos);
}
