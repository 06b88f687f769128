// External replication between real corvusd processes, each its own
// single-node cluster. Plain: configured with the HTTP API (bad input is a
// 400 that changes nothing), documents, a counter, an attachment and a delete
// arrive; the destination killed (kill -9) while the source writes catches
// up with nothing lost once restarted, as does a source killed and
// restarted; disable/enable; DelayReplicationFor holds items back (never
// sent early). Secured: the destination lets the source's node certificate
// in only with ReadWrite on its database, and the source's task says why it
// is refused meanwhile. Every wait is bounded; nothing asserts a duration
// from above.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tests/support/http_checks.h"
#include "tests/support/secured_node.h"
#include "tests/support/single_node_db.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr auto kWait = 30s;

std::string ext_body(const std::string& name, const std::string& cs, const std::string& delay = "") {
  json::object w{{"Name", name}, {"ConnectionStringName", cs}};
  if (!delay.empty()) w["DelayReplicationFor"] = delay;
  return json::serialize(json::object{{"Watcher", w}});
}

std::string cs_body(const std::string& name, const std::string& database, const std::string& url) {
  return json::serialize(json::object{
      {"Name", name}, {"Database", database}, {"TopologyDiscoveryUrls", json::array{url}}, {"Type", "Raven"}});
}

// Polls `get` (bounded) until it answers `status`; true when it did.
template <typename Get>
bool eventually_status(Get get, int status, std::chrono::seconds limit = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (get().status == status) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

uint64_t count_of_documents(HttpClient& c, const std::string& db = "db") {
  auto r = c.request("GET", "/databases/" + db + "/stats");
  if (r.status != 200) return UINT64_MAX;
  return json::parse(r.body).as_object().at("CountOfDocuments").to_number<uint64_t>();
}

// One bulk_docs batch of `n` documents "<prefix>/<first + i>" on `c`.
void put_batch(HttpClient& c, const std::string& prefix, int first, int n) {
  json::array commands;
  for (int i = 0; i < n; ++i) {
    commands.push_back(json::object{{"Type", "PUT"},
                                    {"Id", prefix + "/" + std::to_string(first + i)},
                                    {"Document", json::object{{"n", first + i}, {"@metadata", json::object{{"@collection", "Items"}}}}}});
  }
  auto r = c.request("POST", "/databases/db/bulk_docs", json::serialize(json::object{{"Commands", commands}}));
  REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
}

json::object task_of(HttpClient& c, uint64_t task_id) {
  return json_of(c.request("GET", "/databases/db/task?key=" + std::to_string(task_id) + "&type=Replication"));
}

uint64_t create_task(HttpClient& c, const std::string& body) {
  auto r = c.request("POST", "/databases/db/admin/tasks/external-replication", body);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto o = json::parse(r.body).as_object();
  CHECK(o.at("RaftCommandIndex").to_number<uint64_t>() > 0);
  return o.at("TaskId").to_number<uint64_t>();
}

}  // namespace

TEST_CASE("external replication (plain): configure, everything arrives, kill -9 either side, disable, delay") {
  SingleNodeDb src;
  SingleNodeDb dst;
  const std::string dst_url = "http://127.0.0.1:" + std::to_string(dst.port);

  // Bad input: a 400 naming the problem, and nothing changes.
  REQUIRE(src.client.request("PUT", "/databases/db/docs?id=users/1", R"({"name":"Ann"})").status == 201);
  const uint64_t etag = last_etag(src.client);
  check_error(src.client.request("POST", "/databases/db/admin/tasks/external-replication", ext_body("x", "nope")), 400,
              "connection string named 'nope'");
  check_error(src.client.request("POST", "/databases/db/admin/tasks/external-replication", R"({"Watcher":{"Name":"x"}})"),
              400, "ConnectionStringName");
  REQUIRE(src.client.request("PUT", "/databases/db/admin/connection-strings", cs_body("to-dst", "db", dst_url)).status ==
          200);
  check_error(src.client.request("POST", "/databases/db/admin/tasks/external-replication",
                                 ext_body("x", "to-dst", "soon")),
              400, "DelayReplicationFor");
  check_error(src.client.request("POST", "/databases/db/admin/tasks/external-replication", "{not json"), 400, "");
  check_error(src.client.request("PUT", "/databases/db/admin/connection-strings", R"({"Name":"bad","Type":"Raven"})"),
              400, "");
  check_error(src.client.request("DELETE", "/databases/db/admin/connection-strings"), 400, "connectionString");
  check_error(src.client.request("GET", "/databases/db/task?key=999&type=Replication"), 404, "999");
  check_error(src.client.request("POST", "/databases/db/admin/tasks/state?key=999&type=Replication&disable=true"), 404,
              "999");
  CHECK(json_of(src.client.request("GET", "/databases/db/tasks"))["OngoingTasks"].as_array().empty());
  CHECK(last_etag(src.client) == etag);
  CHECK(dst.client.request("GET", "/databases/db/docs?id=users/1").status == 404);

  const uint64_t task = create_task(src.client, ext_body("push", "to-dst"));
  auto listed = json_of(src.client.request("GET", "/databases/db/tasks"))["OngoingTasks"].as_array();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].as_object().at("TaskType") == "Replication");

  SUBCASE("documents, a counter, an attachment and a delete arrive; the destination's writes stay there") {
    REQUIRE(src.client.request("PUT", "/databases/db/docs?id=users/2", R"({"name":"Bob"})").status == 201);
    REQUIRE(src.client.request("POST", "/databases/db/counters",
                               R"({"Documents":[{"DocumentId":"users/1","Operations":[{"Type":"Increment","CounterName":"likes","Delta":5}]}]})")
                .status == 200);
    const std::string bytes = "attachment bytes \x01\x02";
    REQUIRE(src.client.request("PUT", "/databases/db/attachments?id=users/1&name=a.bin", bytes).status == 201);
    REQUIRE(src.client.request("PUT", "/databases/db/docs?id=users/3", R"({"name":"gone soon"})").status == 201);
    REQUIRE(eventually_status([&] { return dst.client.request("GET", "/databases/db/docs?id=users/3"); }, 200));
    REQUIRE(src.client.request("DELETE", "/databases/db/docs?id=users/3").status == 204);
    CHECK(eventually_status([&] { return dst.client.request("GET", "/databases/db/docs?id=users/3"); }, 404));
    CHECK(dst.client.request("GET", "/databases/db/docs?id=users/2").status == 200);
    auto att = dst.client.request("GET", "/databases/db/attachments?id=users/1&name=a.bin");
    CHECK(att.status == 200);
    CHECK(att.body == bytes);
    bool counted = false;
    for (auto deadline = std::chrono::steady_clock::now() + kWait; !counted && std::chrono::steady_clock::now() < deadline;) {
      auto r = dst.client.request("GET", "/databases/db/counters?docId=users/1&counter=likes");
      counted = r.status == 200 && r.body.find("\"TotalValue\":5") != std::string::npos;
      if (!counted) std::this_thread::sleep_for(50ms);
    }
    CHECK(counted);

    // One way: the destination's own write never reaches the source.
    REQUIRE(dst.client.request("PUT", "/databases/db/docs?id=local/1", R"({"mine":true})").status == 201);
    REQUIRE(src.client.request("PUT", "/databases/db/docs?id=marker/1", "{}").status == 201);
    REQUIRE(eventually_status([&] { return dst.client.request("GET", "/databases/db/docs?id=marker/1"); }, 200));
    CHECK(src.client.request("GET", "/databases/db/docs?id=local/1").status == 404);

    auto view = task_of(src.client, task);
    CHECK(view["TaskConnectionStatus"] == "Active");
    CHECK(view["DestinationDatabase"] == "db");
    CHECK(view["DestinationUrl"] == json::value(dst_url));
    CHECK(view["Error"].is_null());
  }

  SUBCASE("the destination killed while the source writes, then the source killed: nothing lost") {
    int written = 0;
    for (; written < 2000; written += 100) {
      if (written == 600) dst.server.kill9();
      put_batch(src.client, "items", written, 100);
    }
    REQUIRE_MESSAGE(dst.server.start(), dst.server.log());
    const uint64_t want = count_of_documents(src.client);
    CHECK(want == 2001);
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (count_of_documents(dst.client) != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
    }
    CHECK(count_of_documents(dst.client) == want);

    // The source dies and comes back: it resumes from the position the
    // destination keeps, and what it writes afterwards arrives.
    src.server.kill9();
    REQUIRE_MESSAGE(src.server.start(), src.server.log());
    put_batch(src.client, "after", 0, 100);
    CHECK(eventually_status([&] { return dst.client.request("GET", "/databases/db/docs?id=after/99"); }, 200));
    CHECK(count_of_documents(dst.client) == want + 100);
  }

  SUBCASE("disabled sends nothing; enabled again, what was written meanwhile arrives") {
    auto r = src.client.request("POST", "/databases/db/admin/tasks/state?key=" + std::to_string(task) +
                                            "&type=Replication&disable=true");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto view = task_of(src.client, task);
    CHECK(view["TaskState"] == "Disabled");
    CHECK(view["TaskConnectionStatus"] == "NotActive");
    REQUIRE(src.client.request("PUT", "/databases/db/docs?id=while/disabled", "{}").status == 201);
    // Absence cannot be waited for; a second is a fair chance for a leak to show.
    std::this_thread::sleep_for(1s);
    CHECK(dst.client.request("GET", "/databases/db/docs?id=while/disabled").status == 404);
    r = src.client.request("POST", "/databases/db/admin/tasks/state?key=" + std::to_string(task) +
                                       "&type=Replication&disable=false");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(eventually_status([&] { return dst.client.request("GET", "/databases/db/docs?id=while/disabled"); }, 200));
  }

  SUBCASE("a deletion waits for the destination while it is away; a deleted task stops holding it") {
    auto tombstones = [&] {
      auto r = src.client.request("GET", "/databases/db/stats");
      return r.status == 200 ? json::parse(r.body).as_object().at("CountOfTombstones").to_number<int64_t>() : -1;
    };
    REQUIRE(src.client.request("PUT", "/databases/db/docs?id=users/9", "{}").status == 201);
    REQUIRE(eventually_status([&] { return dst.client.request("GET", "/databases/db/docs?id=users/9"); }, 200));
    dst.server.kill9();
    REQUIRE(src.client.request("DELETE", "/databases/db/docs?id=users/9").status == 204);
    // The source's housekeeping runs every second; the tombstone must outlive a few runs.
    std::this_thread::sleep_for(2500ms);
    CHECK(tombstones() == 1);
    auto r = src.client.request("DELETE", "/databases/db/admin/tasks?id=" + std::to_string(task) + "&type=Replication");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    // Purges run while some destination is connected: a new task to a
    // database that is up (on the source's own node) acknowledges past the
    // deletion; the deleted task's position, forgotten, holds nothing back.
    const std::string src_url = "http://127.0.0.1:" + std::to_string(src.port);
    REQUIRE(src.client.request("PUT", "/admin/databases?name=db2", R"({"DatabaseName":"db2"})").status == 201);
    REQUIRE(src.client.request("PUT", "/databases/db/admin/connection-strings", cs_body("to-db2", "db2", src_url))
                .status == 200);
    create_task(src.client, ext_body("local", "to-db2"));
    bool purged = false;
    for (auto deadline = std::chrono::steady_clock::now() + kWait; !purged && std::chrono::steady_clock::now() < deadline;) {
      purged = tombstones() == 0;
      if (!purged) std::this_thread::sleep_for(100ms);
    }
    CHECK(purged);
  }

  SUBCASE("DelayReplicationFor: an item arrives, and never before it is that old") {
    REQUIRE(dst.client.request("PUT", "/admin/databases?name=delayed", R"({"DatabaseName":"delayed"})").status == 201);
    REQUIRE(src.client.request("PUT", "/databases/db/admin/connection-strings", cs_body("to-delayed", "delayed", dst_url))
                .status == 200);
    const uint64_t delayed = create_task(src.client, ext_body("late", "to-delayed", "00:00:02"));
    CHECK(task_of(src.client, delayed)["DelayReplicationFor"] == "00:00:02");
    const auto written_before = std::chrono::steady_clock::now();
    REQUIRE(src.client.request("PUT", "/databases/db/docs?id=delayed/1", "{}").status == 201);
    auto get = [&] { return dst.client.request("GET", "/databases/delayed/docs?id=delayed/1"); };
    REQUIRE(eventually_status(get, 200));
    CHECK(std::chrono::steady_clock::now() - written_before >= 2s);
  }
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The certificate block of a PEM file holding a certificate and its key.
std::string certificate_pem(const std::string& path) {
  const std::string all = read_file(path);
  const std::string begin = "-----BEGIN CERTIFICATE-----";
  const std::string end = "-----END CERTIFICATE-----";
  const size_t b = all.find(begin);
  const size_t e = all.find(end, b);
  REQUIRE((b != std::string::npos && e != std::string::npos));
  return all.substr(b, e + end.size() - b) + "\n";
}

// Upper-case hex SHA-1 of the certificate's DER.
std::string thumbprint_of(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(x);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(x, EVP_sha1(), md, &n);
  X509_free(x);
  std::string hex;
  char buf[3];
  for (unsigned i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02X", md[i]);
    hex += buf;
  }
  return hex;
}

}  // namespace

TEST_CASE("external replication (secured): the destination needs the source's certificate with ReadWrite") {
  SecuredNode src;
  SecuredNode dst;
  auto src_admin = src.client(&src.admin);
  auto dst_admin = dst.client(&dst.admin);
  REQUIRE(src_admin.request("PUT", "/admin/databases?name=db", R"({"DatabaseName":"db"})").status == 201);
  REQUIRE(dst_admin.request("PUT", "/admin/databases?name=db", R"({"DatabaseName":"db"})").status == 201);
  const std::string dst_url = "https://127.0.0.1:" + std::to_string(dst.port);
  REQUIRE(src_admin.request("PUT", "/databases/db/admin/connection-strings", cs_body("to-dst", "db", dst_url)).status ==
          200);
  REQUIRE(src_admin.request("PUT", "/databases/db/docs?id=users/1", R"({"name":"Ann"})").status == 201);
  auto created = src_admin.request("POST", "/databases/db/admin/tasks/external-replication", ext_body("push", "to-dst"));
  REQUIRE_MESSAGE(created.status == 200, created.body);
  const uint64_t task = json::parse(created.body).as_object().at("TaskId").to_number<uint64_t>();

  // The task's Error says why, bounded; `needle` must appear in it.
  auto refused_because = [&](const std::string& needle) {
    std::string last;
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = src_admin.request("GET", "/databases/db/task?key=" + std::to_string(task) + "&type=Replication");
      if (r.status == 200) {
        auto o = json::parse(r.body).as_object();
        if (o.at("Error").is_string()) last = std::string(o.at("Error").as_string());
        if (last.find(needle) != std::string::npos) return last;
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL_CHECK("the task's Error never mentioned '" << needle << "'; last: " << last);
    return last;
  };

  // Unknown to the destination: refused, and the source's task says so.
  MESSAGE("unregistered: " << refused_because("is not registered"));
  CHECK(dst_admin.request("GET", "/databases/db/docs?id=users/1").status == 404);

  // Registered with Read only: still refused, naming the access it needs.
  const std::string pem = certificate_pem(src.server_pem);
  const std::string thumbprint = thumbprint_of(pem);
  auto r = dst_admin.request("PUT", "/admin/certificates",
                             json::serialize(json::object{{"Name", "source-cluster"},
                                                          {"Certificate", pem},
                                                          {"SecurityClearance", "ValidUser"},
                                                          {"Permissions", json::object{{"db", "Read"}}}}));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  MESSAGE("read only: " << refused_because("ReadWrite"));
  CHECK(dst_admin.request("GET", "/databases/db/docs?id=users/1").status == 404);

  // ReadWrite on that database: it flows.
  r = dst_admin.request("POST", "/admin/certificates/edit",
                        json::serialize(json::object{{"thumbprint", thumbprint},
                                                     {"name", "source-cluster"},
                                                     {"securityClearance", "ValidUser"},
                                                     {"permissions", json::object{{"db", "ReadWrite"}}}}));
  REQUIRE_MESSAGE(r.status == 204, r.body);
  CHECK(eventually_status([&] { return dst_admin.request("GET", "/databases/db/docs?id=users/1"); }, 200));
  REQUIRE(src_admin.request("PUT", "/databases/db/docs?id=users/2", R"({"name":"Bob"})").status == 201);
  CHECK(eventually_status([&] { return dst_admin.request("GET", "/databases/db/docs?id=users/2"); }, 200));
  auto view = json::parse(src_admin.request("GET", "/databases/db/task?key=" + std::to_string(task) + "&type=Replication").body)
                  .as_object();
  CHECK(view["TaskConnectionStatus"] == "Active");
  CHECK(view["Error"].is_null());

  // The connection string may pin the destination's public key: a node
  // presenting another key is refused before anything is sent to it.
  auto pinned = [&](const std::string& hash) {
    auto o = json::parse(cs_body("to-dst", "db", dst_url)).as_object();
    o["ServerKeyHash"] = hash;
    return json::serialize(o);
  };
  CHECK(src_admin.request("PUT", "/databases/db/admin/connection-strings", pinned("not-a-hash")).status == 400);
  REQUIRE(src_admin.request("PUT", "/databases/db/admin/connection-strings", pinned(std::string(43, 'A') + "="))
              .status == 200);
  MESSAGE("wrong pin: " << refused_because("ServerKeyHash"));
  REQUIRE(src_admin.request("PUT", "/databases/db/admin/connection-strings", pinned(dst.server_key_hash)).status ==
          200);
  REQUIRE(src_admin.request("PUT", "/databases/db/docs?id=users/3", R"({"name":"Cy"})").status == 201);
  CHECK(eventually_status([&] { return dst_admin.request("GET", "/databases/db/docs?id=users/3"); }, 200));
}
