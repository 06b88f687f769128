// Cluster-wide transactions on three real corvusd with failpoints
// (--enable-failpoints): the transaction is all or nothing everywhere, every
// member applies its documents, and the node that took the request answers
// only once its own copy has them, also when it crashes or stalls in between.

#include <atomic>
#include <thread>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/test_cluster.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr const char* kDb = "orders";

std::string tx_body(const std::string& doc_id, const std::string& name, const std::string& email_key) {
  return "{\"TransactionMode\":\"ClusterWide\",\"Commands\":["
         "{\"Type\":\"PUT\",\"Id\":\"" + doc_id + "\",\"Document\":{\"Name\":\"" + name +
         "\",\"@metadata\":{\"@collection\":\"Users\"}}},"
         "{\"Type\":\"CompareExchangePUT\",\"Id\":\"" + email_key + "\",\"Index\":0,\"Document\":{\"Object\":\"" +
         doc_id + "\"}}]}";
}

// The document's Name on node i, "" when it is not there.
std::string name_on(Cluster& c, int i, const std::string& id) {
  auto o = get_json(c[i].http_port, std::string("/databases/") + kDb + "/docs?id=" + id);
  if (!o) return "";
  const auto& results = o->at("Results").as_array();
  if (results.empty() || !results[0].is_object()) return "";
  return str(results[0].as_object(), "Name");
}

bool cmpxchg_exists(Cluster& c, int i, const std::string& key) {
  auto o = get_json(c[i].http_port, std::string("/databases/") + kDb + "/cmpxchg?key=" + key);
  return o && !o->at("Results").as_array().empty();
}

void arm(Cluster& c, int i, const std::string& point, const std::string& action) {
  auto r = call(c[i].http_port, "PUT", "/admin/failpoints?name=" + point + "&action=" + action + "&times=1");
  REQUIRE_MESSAGE(r.status == 200, r.body);
}

void setup(Cluster& c) {
  c.form(3);
  auto r = c.command(0, "PUT", std::string("/admin/databases?name=") + kDb + "&replicationFactor=3",
                     std::string("{\"DatabaseName\":\"") + kDb + "\"}");
  REQUIRE_MESSAGE(r.status == 201, r.body);
}

}  // namespace

TEST_CASE("cluster-wide transaction: the node that took it crashes before applying it; it applies it on restart") {
  Cluster c(3, {"--enable-failpoints"});
  setup(c);
  const int x = 1;
  arm(c, x, "cluster-tx.before-documents-applied", "crash");
  // The answer never comes (the node dies after the commit): outcome unknown
  // to the client, but the transaction is committed.
  auto r = call(c[x].http_port, "POST", std::string("/databases/") + kDb + "/bulk_docs", tx_body("users/1", "crash", "emails/crash"));
  CHECK(r.status != 201);
  c[x].process->wait_exit(10s);
  REQUIRE_MESSAGE(!c[x].process->running(), "the failpoint did not crash the node\n" << c[x].process->log());
  for (int i : {0, 2}) {
    CHECK_MESSAGE(eventually([&] { return name_on(c, i, "users/1") == "crash"; }), c.logs());
    CHECK(cmpxchg_exists(c, i, "emails/crash"));
  }
  REQUIRE_MESSAGE(c[x].process->start(), c[x].process->log());
  CHECK_MESSAGE(eventually([&] { return name_on(c, x, "users/1") == "crash"; }), c[x].process->log());
  CHECK(cmpxchg_exists(c, x, "emails/crash"));
}

TEST_CASE("cluster-wide transaction: answered only once the node that took it applied it") {
  Cluster c(3, {"--enable-failpoints"});
  setup(c);
  int leader = c.wait_leader();
  REQUIRE(leader >= 0);
  const int y = (leader + 1) % 3;  // a follower
  arm(c, y, "rachis.after-append-before-apply", "pause");
  std::atomic<int> status{0};
  std::thread client([&] {
    HttpClient h("127.0.0.1", c[y].http_port, 30s);
    status = h.request("POST", std::string("/databases/") + kDb + "/bulk_docs", tx_body("users/2", "paused", "emails/paused")).status;
  });
  // The others commit and apply it; the paused node has not, and has not answered.
  const int other = 3 - leader - y;
  CHECK_MESSAGE(eventually([&] { return name_on(c, leader, "users/2") == "paused" && name_on(c, other, "users/2") == "paused"; }),
                c.logs());
  // (Replication may already have brought the document itself to the paused
  // node: the same version, TRXN change vector. Its answer waits for its own apply.)
  CHECK(status.load() == 0);
  auto rel = call(c[y].http_port, "POST", "/admin/failpoints/release?name=rachis.after-append-before-apply");
  REQUIRE(rel.status == 200);
  client.join();
  CHECK(status.load() == 201);
  CHECK(name_on(c, y, "users/2") == "paused");  // its own write, right after the answer
}

TEST_CASE("cluster-wide transaction: concurrent creates of one document through two nodes, exactly one wins") {
  Cluster c(3);
  setup(c);
  std::atomic<int> created{0}, conflicts{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] {
      HttpClient h("127.0.0.1", c[i].http_port, 20s);
      auto r = h.request("POST", std::string("/databases/") + kDb + "/bulk_docs",
                         tx_body("users/3", "writer-" + std::to_string(i), "emails/w" + std::to_string(i)));
      if (r.status == 201) ++created;
      if (r.status == 409) {
        CHECK(r.body.find("ClusterTransactionConcurrencyException") != std::string::npos);
        ++conflicts;
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(created.load() == 1);
  CHECK(conflicts.load() == 2);
  // Every member has the winner's version and only the winner's email key.
  std::string winner;
  REQUIRE(eventually([&] { return !(winner = name_on(c, 0, "users/3")).empty(); }));
  int emails = 0;
  for (int i = 0; i < 3; ++i) {
    CHECK(eventually([&] { return name_on(c, i, "users/3") == winner; }));
    emails += cmpxchg_exists(c, 0, "emails/w" + std::to_string(i)) ? 1 : 0;
  }
  CHECK(emails == 1);
  CHECK(cmpxchg_exists(c, 0, "emails/w" + winner.substr(winner.size() - 1)));
}
