// Streams over HTTP against a real corvusd: /streams/queries (GET and POST,
// json and jsonl, statistics after the results, a query waiting for its new
// auto-index) and /streams/docs (prefix, matches/exclude/startAfter, paging,
// newest first), answered chunked; errors before the first byte are the
// usual JSON errors and change nothing; and a 20,000-document stream read
// slowly while the server's memory stays far below the result's size.

#include <doctest/doctest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_checks.h"
#include "tests/support/single_node_db.h"
#include "tests/support/stream_client.h"

using namespace corvus::testing;
namespace json = boost::json;

namespace {

void put_user(HttpClient& c, const std::string& id, int age) {
  REQUIRE(
      c.request("PUT", "/databases/db/docs?id=" + id,
                R"({"Name":")" + id + R"(","Age":)" + std::to_string(age) + R"(,"@metadata":{"@collection":"Users"}})")
          .status == 201);
}

std::vector<json::object> jsonl_lines(const std::string& body) {
  std::vector<json::object> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    REQUIRE_MESSAGE(!line.empty(), "an empty line in a jsonl stream");
    out.push_back(json::parse(line).as_object());
  }
  CHECK((body.empty() || body.back() == '\n'));
  return out;
}

std::vector<std::string> ids_of(const json::array& docs) {
  std::vector<std::string> ids;
  for (const auto& d : docs) ids.emplace_back(d.as_object().at("@metadata").as_object().at("@id").as_string());
  return ids;
}

// The resident set of a process, in bytes (Linux /proc).
uint64_t rss_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      uint64_t kb = 0;
      status >> kb;
      return kb * 1024;
    }
    status.ignore(4096, '\n');
  }
  FAIL("no VmRSS in /proc/<pid>/status");
  return 0;
}

}  // namespace

TEST_CASE("corvusd: /streams/queries, json and jsonl, GET and POST") {
  SingleNodeDb node;
  HttpClient& c = node.client;
  for (int i = 1; i <= 5; ++i) put_user(c, "users/" + std::to_string(i), 20 + i);
  REQUIRE(c.request("PUT", "/databases/db/docs?id=orders/1", R"({"@metadata":{"@collection":"Orders"}})").status ==
          201);

  // json: Results first, statistics after them; chunked.
  auto r = c.request("GET", "/databases/db/streams/queries?query=from%20Users");
  REQUIRE(r.status == 200);
  CHECK(r.header("transfer-encoding") == "chunked");
  CHECK(r.header("content-length").empty());
  CHECK(r.body.rfind("{\"Results\":[", 0) == 0);
  auto o = json_of(r);
  CHECK(ids_of(o["Results"].as_array()) ==
        std::vector<std::string>{"users/1", "users/2", "users/3", "users/4", "users/5"});
  CHECK(o["IndexName"] == "collection/Users");
  CHECK(o["IsStale"] == false);
  CHECK(o["TotalResults"] == 5);
  CHECK(o["ResultEtag"].is_int64());
  CHECK(o["IndexTimestamp"].is_string());

  // jsonl (the npm client's default): {"Item":..} lines, then one {"Stats":..}.
  r = c.request("GET", "/databases/db/streams/queries?query=from%20Users&format=jsonl&start=1&pageSize=3");
  REQUIRE(r.status == 200);
  CHECK(r.header("transfer-encoding") == "chunked");
  auto lines = jsonl_lines(r.body);
  REQUIRE(lines.size() == 4);
  json::array items;
  for (size_t i = 0; i < 3; ++i) items.push_back(lines[i].at("Item"));
  CHECK(ids_of(items) == std::vector<std::string>{"users/2", "users/3", "users/4"});
  auto& stats = lines[3].at("Stats").as_object();
  CHECK(stats.at("IndexName") == "collection/Users");
  CHECK(stats.at("TotalResults") == 5);
  CHECK(stats.at("IsStale") == false);
  CHECK(stats.contains("ResultEtag"));
  CHECK(stats.contains("IndexTimestamp"));

  // POST as the clients send it: a filtered, sorted query with parameters. It
  // creates an auto-index, so it waits for it (on a worker) and is not stale.
  r = c.request("POST", "/databases/db/streams/queries?format=jsonl",
                R"({"Query":"from Users where Age >= $min order by Age desc","QueryParameters":{"min":23}})");
  REQUIRE(r.status == 200);
  lines = jsonl_lines(r.body);
  REQUIRE(lines.size() == 4);
  items.clear();
  for (size_t i = 0; i < 3; ++i) items.push_back(lines[i].at("Item"));
  CHECK(ids_of(items) == std::vector<std::string>{"users/5", "users/4", "users/3"});
  CHECK(lines[3].at("Stats").at("IndexName") == "Auto/Users/ByAge");
  CHECK(lines[3].at("Stats").at("IsStale") == false);
  CHECK(lines[3].at("Stats").at("TotalResults") == 3);

  // A projection streams its projected results.
  r = c.request("POST", "/databases/db/streams/queries", R"({"Query":"from Users where Age < 23 select Name"})");
  REQUIRE(r.status == 200);
  o = json_of(r);
  REQUIRE(o["Results"].as_array().size() == 2);
  CHECK(o["Results"].as_array()[0].as_object()["Name"] == "users/1");
  CHECK(!o["Results"].as_array()[0].as_object().contains("Age"));

  // Nothing matches: an empty stream with its statistics.
  r = c.request("GET", "/databases/db/streams/queries?query=from%20Nobody&format=jsonl");
  REQUIRE(r.status == 200);
  lines = jsonl_lines(r.body);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].at("Stats").at("TotalResults") == 0);
}

TEST_CASE("corvusd: stream errors before the first byte are JSON errors that change nothing") {
  SingleNodeDb node;
  HttpClient& c = node.client;
  put_user(c, "users/1", 30);
  const uint64_t etag = last_etag(c);

  check_error(c.request("GET", "/databases/db/streams/queries?query=from%20Users%20where"), 400, "RQL",
              "Raven.Client.Exceptions.InvalidQueryException");
  check_error(c.request("GET", "/databases/db/streams/queries"), 400, "query",
              "Raven.Client.Exceptions.InvalidQueryException");
  check_error(c.request("POST", "/databases/db/streams/queries", "{not json"), 400, "",
              "Raven.Client.Exceptions.InvalidQueryException");
  check_error(c.request("POST", "/databases/db/streams/queries", R"({"Query":"from Users where Age > $nope"})"), 400,
              "nope", "Raven.Client.Exceptions.InvalidQueryException");
  check_error(c.request("GET", "/databases/db/streams/queries?query=from%20index%20'Auto/Nope/ByX'"), 404,
              "Auto/Nope/ByX", "Raven.Client.Exceptions.Documents.Indexes.IndexDoesNotExistException");
  check_error(c.request("GET", "/databases/db/streams/queries?query=from%20Users&format=csv"), 400, "format");
  check_error(c.request("GET", "/databases/db/streams/queries?query=from%20Users&pageSize=x"), 400, "pageSize");
  check_error(c.request("GET", "/databases/db/streams/docs?format=xml"), 400, "format");
  check_error(c.request("GET", "/databases/db/streams/docs?start=-1"), 400, "start");
  auto missing = c.request("GET", "/databases/nope/streams/docs");
  CHECK(missing.status == 503);
  CHECK(!missing.header("database-missing").empty());
  CHECK(last_etag(c) == etag);
  // The connection is still good after the errors.
  CHECK(c.request("GET", "/databases/db/streams/docs").status == 200);
}

TEST_CASE("corvusd: /streams/docs by prefix (matches, exclude, startAfter, paging) and newest first") {
  SingleNodeDb node;
  HttpClient& c = node.client;
  for (const char* id : {"users/1", "users/2", "users/10", "users/11", "users/20", "usersx/1"}) put_user(c, id, 1);
  REQUIRE(c.request("PUT", "/databases/db/docs?id=orders/1", R"({"@metadata":{"@collection":"Orders"}})").status ==
          201);
  put_user(c, "Users/2", 2);  // an update: users/2 is now the newest document

  auto docs = [&](const std::string& query) {
    auto r = c.request("GET", "/databases/db/streams/docs?" + query);
    REQUIRE(r.status == 200);
    CHECK(r.header("transfer-encoding") == "chunked");
    return ids_of(json_of(r)["Results"].as_array());
  };
  using ids = std::vector<std::string>;
  CHECK(docs("startsWith=users/") == ids{"users/1", "users/10", "users/11", "Users/2", "users/20"});
  CHECK(docs("startsWith=USERS/&matches=1*") == ids{"users/1", "users/10", "users/11"});
  CHECK(docs("startsWith=users/&matches=1?|2") == ids{"users/10", "users/11", "Users/2"});
  CHECK(docs("startsWith=users/&exclude=*0") == ids{"users/1", "users/11", "Users/2"});
  CHECK(docs("startsWith=users/&matches=1*&exclude=11") == ids{"users/1", "users/10"});
  CHECK(docs("startsWith=users/&startAfter=users/10") == ids{"users/11", "Users/2", "users/20"});
  CHECK(docs("startsWith=users/&start=1&pageSize=2") == ids{"users/10", "users/11"});
  CHECK(docs("startsWith=users/&matches=1*&start=1") == ids{"users/10", "users/11"});
  CHECK(docs("startsWith=nobody/").empty());
  // No prefix: every document, newest first (matches is ignored, as in RavenDB).
  CHECK(docs("") == ids{"Users/2", "orders/1", "usersx/1", "users/20", "users/11", "users/10", "users/1"});
  CHECK(docs("start=2&pageSize=2&matches=nothing") == ids{"usersx/1", "users/20"});
  CHECK(docs("pageSize=0").empty());

  // jsonl: one document per line (what the clients read for document streams).
  auto r = c.request("GET", "/databases/db/streams/docs?startsWith=users/1&format=jsonl");
  REQUIRE(r.status == 200);
  auto lines = jsonl_lines(r.body);
  json::array arr;
  for (auto& l : lines) arr.push_back(l);
  CHECK(ids_of(arr) == ids{"users/1", "users/10", "users/11"});
}

TEST_CASE("corvusd: a 20,000-document stream read slowly holds memory bounded, not the result") {
  SingleNodeDb node;
  HttpClient& c = node.client;
  constexpr int kDocs = 20000;
  const std::string padding(1000, 'p');
  for (int batch = 0; batch < kDocs / 1000; ++batch) {
    std::string body = R"({"Commands":[)";
    for (int i = 0; i < 1000; ++i) {
      const int n = batch * 1000 + i;
      if (i > 0) body += ',';
      body += R"({"Type":"PUT","Id":"users/)" + std::to_string(n) + R"(","Document":{"N":)" + std::to_string(n) +
              R"(,"Pad":")" + padding + R"(","@metadata":{"@collection":"Users"}}})";
    }
    body += "]}";
    REQUIRE(c.request("POST", "/databases/db/bulk_docs", body).status == 201);
  }

  for (const std::string format : {"json", "jsonl"}) {
    CAPTURE(format);
    const uint64_t rss_before = rss_bytes(node.server.pid());
    StreamConnection s(node.port);
    REQUIRE(s.connected());
    REQUIRE(s.send("GET /databases/db/streams/queries?query=from%20Users&format=" + format +
                   " HTTP/1.1\r\nHost: x\r\n\r\n"));
    uint64_t rss_peak = rss_before;
    uint64_t next_sample = 0;
    uint64_t received = 0;
    std::string tail;  // the last bytes, for the statistics
    auto r = s.read_response([&](std::string_view bytes) {
      received += bytes.size();
      tail.append(bytes);
      if (tail.size() > 4096) tail.erase(0, tail.size() - 4096);
      // Slowly: the server can be at most a socket buffer and a chunk ahead.
      if (received >= next_sample) {
        rss_peak = std::max(rss_peak, rss_bytes(node.server.pid()));
        next_sample = received + (512 << 10);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
    REQUIRE_MESSAGE(r.status == 200, r.error);
    CHECK(r.header("transfer-encoding") == "chunked");
    const uint64_t result_bytes = r.body_bytes;
    CHECK(result_bytes > uint64_t{kDocs} * 1000);
    CHECK(tail.find("\"TotalResults\":20000") != std::string::npos);
    // A server building the whole result would hold at least its size; a
    // stream holds a chunk (and whatever RocksDB caches, well below that).
    const uint64_t growth = rss_peak > rss_before ? rss_peak - rss_before : 0;
    MESSAGE("result " << result_bytes / 1024 << " KiB, server RSS growth " << growth / 1024 << " KiB");
    CHECK(growth < result_bytes / 4);
  }

  // /streams/docs of the same documents, in id order.
  StreamConnection s(node.port);
  REQUIRE(s.send("GET /databases/db/streams/docs?startsWith=users/&format=jsonl HTTP/1.1\r\nHost: x\r\n\r\n"));
  uint64_t lines = 0;
  auto r = s.read_response([&](std::string_view bytes) {
    for (char ch : bytes) lines += ch == '\n';
  });
  REQUIRE_MESSAGE(r.status == 200, r.error);
  CHECK(lines == kDocs);
}
