// A real corvusd process: crash safety under concurrent load (kill -9),
// clean shutdown on SIGTERM, and refusing to start on a taken port or a data
// directory in use.

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/corvusd_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

using namespace corvus::testing;
using namespace std::chrono_literals;

namespace {

void create_database(uint16_t port, const std::string& name) {
  HttpClient c("127.0.0.1", port);
  auto r = c.request("PUT", "/admin/databases?name=" + name, "{\"DatabaseName\":\"" + name + "\"}");
  REQUIRE_MESSAGE(r.status == 201, r.body);
}

boost::json::object first_result(const HttpResult& r) {
  auto v = boost::json::parse(r.body);
  return v.as_object()["Results"].as_array()[0].as_object();
}

}  // namespace

TEST_CASE("corvusd: every acknowledged write survives kill -9 under concurrent load") {
  TempDir dir;
  const uint16_t port = free_port();
  CorvusdProcess server(dir.sub("node"), port);
  REQUIRE_MESSAGE(server.start(), server.log());
  create_database(port, "crash");

  struct Acked {
    std::string id;
    int t;
    int i;
  };
  std::mutex mu;
  std::vector<Acked> acked;
  std::vector<std::pair<std::string, std::string>> attempted_batches;  // acked or not
  std::atomic<bool> stop{false};
  std::atomic<int> ack_count{0};
  const std::string pad(300, 'x');

  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      HttpClient c("127.0.0.1", port, 5s);
      for (int i = 0; !stop.load() && i < 100000; ++i) {
        const std::string body =
            "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + ",\"pad\":\"" + pad +
            "\",\"@metadata\":{\"@collection\":\"Crash\"}}";
        if (i % 5 == 4) {
          // A two-document batch: after the crash both exist or neither.
          const std::string a = "b/" + std::to_string(t) + "/" + std::to_string(i) + "/1";
          const std::string b = "b/" + std::to_string(t) + "/" + std::to_string(i) + "/2";
          {
            std::lock_guard lock(mu);
            attempted_batches.emplace_back(a, b);
          }
          auto r = c.request("POST", "/databases/crash/bulk_docs",
                             "{\"Commands\":[{\"Type\":\"PUT\",\"Id\":\"" + a + "\",\"Document\":" + body +
                                 "},{\"Type\":\"PUT\",\"Id\":\"" + b + "\",\"Document\":" + body + "}]}");
          if (r.status == 201) {
            std::lock_guard lock(mu);
            acked.push_back({a, t, i});
            acked.push_back({b, t, i});
            ack_count += 2;
          } else if (r.status == 0) {
            break;  // the server is gone
          }
        } else {
          const std::string id = "c/" + std::to_string(t) + "/" + std::to_string(i);
          auto r = c.request("PUT", "/databases/crash/docs?id=" + id, body);
          if (r.status == 201) {
            std::lock_guard lock(mu);
            acked.push_back({id, t, i});
            ++ack_count;
          } else if (r.status == 0) {
            break;
          }
        }
      }
    });
  }
  // Let the load build up, then pull the plug while writes are in flight.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (ack_count.load() < 400 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  server.kill9();
  stop = true;
  for (auto& w : writers) w.join();
  REQUIRE(ack_count.load() >= 400);

  CorvusdProcess restarted(dir.sub("node"), port);
  REQUIRE_MESSAGE(restarted.start(), restarted.log());
  HttpClient c("127.0.0.1", port);
  size_t verified = 0;
  for (const auto& a : acked) {
    auto r = c.request("GET", "/databases/crash/docs?id=" + a.id);
    REQUIRE_MESSAGE(r.status == 200, "acknowledged document " << a.id << " lost after kill -9");
    auto doc = first_result(r);
    CHECK(doc["t"].as_int64() == a.t);
    CHECK(doc["i"].as_int64() == a.i);
    CHECK(doc["pad"].as_string() == pad);
    ++verified;
  }
  CHECK(verified == acked.size());
  for (const auto& [a, b] : attempted_batches) {
    const int sa = c.request("HEAD", "/databases/crash/docs?id=" + a).status;
    const int sb = c.request("HEAD", "/databases/crash/docs?id=" + b).status;
    CHECK_MESSAGE(sa == sb, "batch half applied: " << a << "=" << sa << " " << b << "=" << sb);
  }
  MESSAGE("verified " << verified << " acknowledged writes and " << attempted_batches.size() << " batches");
}

TEST_CASE("corvusd: SIGTERM finishes cleanly and the data is there after restart") {
  TempDir dir;
  const uint16_t port = free_port();
  {
    CorvusdProcess server(dir.sub("node"), port);
    REQUIRE_MESSAGE(server.start(), server.log());
    create_database(port, "db1");
    HttpClient c("127.0.0.1", port);
    REQUIRE(c.request("PUT", "/databases/db1/docs?id=k/1", R"({"v":42})").status == 201);
    CHECK(server.terminate() == 0);
    CHECK_MESSAGE(server.log().find("stopped") != std::string::npos, server.log());
  }
  CorvusdProcess server(dir.sub("node"), port);
  REQUIRE_MESSAGE(server.start(), server.log());
  HttpClient c("127.0.0.1", port);
  auto r = c.request("GET", "/databases/db1/docs?id=K/1");
  REQUIRE(r.status == 200);
  CHECK(first_result(r)["v"].as_int64() == 42);
}

TEST_CASE("corvusd: refuses to start on a taken port or a data directory in use") {
  TempDir dir;
  const uint16_t port = free_port();
  CorvusdProcess first(dir.sub("a"), port);
  REQUIRE_MESSAGE(first.start(), first.log());

  SUBCASE("port taken") {
    CorvusdProcess second(dir.sub("b"), port);
    second.spawn();
    CHECK(second.wait_exit(15s) != 0);
    CHECK_MESSAGE(second.log().find(std::to_string(port)) != std::string::npos, second.log());
    CHECK_MESSAGE(second.log().find("in use") != std::string::npos, second.log());
  }
  SUBCASE("data directory in use") {
    CorvusdProcess second(dir.sub("a"), free_port());
    second.spawn();
    CHECK(second.wait_exit(15s) != 0);
    CHECK_MESSAGE(second.log().find("in use by another corvusd") != std::string::npos, second.log());
  }
  SUBCASE("data directory unusable") {
    // A regular file where the data directory should be.
    { std::ofstream(dir.sub("file")) << "x"; }
    CorvusdProcess second(dir.sub("file") + "/data", free_port());
    second.spawn();
    CHECK(second.wait_exit(15s) != 0);
    CHECK_MESSAGE(second.log().find("cannot start") != std::string::npos, second.log());
  }
  CHECK(first.terminate() == 0);
}
