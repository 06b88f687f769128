// Pull replication from a three-node hub cluster to two edges, each edge its
// own one-node cluster (plain HTTP: test_cluster.h speaks HTTP; a secured hub
// cluster with an edge is secured_cluster_test's and deploy/local-cluster.sh
// start-edge's, tests/cluster/local_cluster_smoke.sh). The edges' connection
// string lists every hub node; when the node an edge pulls from is killed
// (kill -9), the edge fails over to another and catches up, and its own
// writes keep going up. Every acknowledged write arrives where the mode
// says. Every wait is bounded.

#include <doctest/doctest.h>

#include <string>
#include <thread>

#include <boost/json.hpp>

#include "tests/support/replication_checks.h"
#include "tests/support/test_cluster.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

void put_doc(uint16_t port, const std::string& db, const std::string& id) {
  auto r = call(port, "PUT", "/databases/" + db + "/docs?id=" + id, R"({"v":1})");
  REQUIRE_MESSAGE(r.status == 201, "PUT " << id << " on " << port << ": " << r.status << " " << r.body);
}

}  // namespace

TEST_CASE("pull replication: two edges of a three-node hub fail over when their hub node dies") {
  Cluster c(3);  // 0..2: the hub cluster
  c.form(3);
  c.learn_tags();
  create_database(c, 0, "hub", 3);
  // 3 and 4: an edge each, each its own one-node cluster.
  REQUIRE(c.add_process() == 3);
  REQUIRE(c.add_process() == 4);
  auto r = c.command(0, "PUT", "/databases/hub/admin/tasks/pull-replication/hub",
                     R"({"Name":"edges","Mode":"HubToSink,SinkToHub"})");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  json::array urls;
  for (int i = 0; i < 3; ++i) urls.emplace_back(c[i].url());
  for (int e : {3, 4}) {
    const std::string db = "edge" + std::to_string(e);
    REQUIRE(call(c[e].http_port, "PUT", "/admin/databases?name=" + db, "{\"DatabaseName\":\"" + db + "\"}").status == 201);
    r = call(c[e].http_port, "PUT", "/databases/" + db + "/admin/connection-strings",
             json::serialize(json::object{{"Name", "hub"}, {"Database", "hub"}, {"TopologyDiscoveryUrls", urls}}));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    r = call(c[e].http_port, "POST", "/databases/" + db + "/admin/tasks/sink-pull-replication",
             json::serialize(json::object{{"PullReplicationAsSink", json::object{{"HubName", "edges"},
                                                                                 {"ConnectionStringName", "hub"},
                                                                                 {"Mode", "HubToSink,SinkToHub"}}}}));
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  for (int i = 1; i <= 20; ++i) put_doc(c[0].http_port, "hub", "users/" + std::to_string(i));
  for (int e : {3, 4}) {
    const std::string db = "edge" + std::to_string(e);
    REQUIRE_MESSAGE(eventually([&] { return has_doc(c[e].http_port, db, "users/20"); }, 30s), c.logs());
    put_doc(c[e].http_port, db, db + "/1");
    REQUIRE_MESSAGE(eventually([&] { return has_doc(c[1].http_port, "hub", db + "/1"); }, 30s), c.logs());
  }

  // Both edges pull from the first URL (node 0). Kill it; write on the others.
  c[0].process->kill9();
  for (int i = 21; i <= 60; ++i) put_doc(c[1 + i % 2].http_port, "hub", "users/" + std::to_string(i));
  for (int e : {3, 4}) {
    const std::string db = "edge" + std::to_string(e);
    for (int i = 2; i <= 10; ++i) put_doc(c[e].http_port, db, db + "/" + std::to_string(i));
  }
  for (int e : {3, 4}) {
    const std::string db = "edge" + std::to_string(e);
    for (int i = 21; i <= 60; ++i) {
      REQUIRE_MESSAGE(eventually([&] { return has_doc(c[e].http_port, db, "users/" + std::to_string(i)); }, 30s),
                      db << " lacks users/" << i << "\n" << c.logs());
    }
    for (int i = 1; i <= 10; ++i) {
      const std::string id = db + "/" + std::to_string(i);
      REQUIRE_MESSAGE(eventually([&] { return has_doc(c[1].http_port, "hub", id) && has_doc(c[2].http_port, "hub", id); }, 30s),
                      "the hub lacks " << id << "\n" << c.logs());
    }
    // One edge's writes reach the other edge through the hub.
    const std::string other = e == 3 ? "edge4" : "edge3";
    CHECK(eventually([&] { return has_doc(c[e].http_port, db, other + "/10"); }, 30s));
  }

  // A deletion while an edge is away reaches it when it returns: the hub
  // group keeps the tombstone for the edge (its position is kept like a
  // member's) even once every member has it.
  REQUIRE_MESSAGE(c[0].process->start(), c[0].process->log());
  c[3].process->kill9();
  REQUIRE(call(c[1].http_port, "DELETE", "/databases/hub/docs?id=users/5").status == 204);
  for (int i : {0, 1, 2}) {
    REQUIRE_MESSAGE(eventually([&] { return !has_doc(c[i].http_port, "hub", "users/5"); }, 30s), c.logs());
  }
  REQUIRE(eventually([&] { return !has_doc(c[4].http_port, "edge4", "users/5"); }, 30s));
  put_doc(c[1].http_port, "hub", "after-delete");
  REQUIRE_MESSAGE(c[3].process->start(), c[3].process->log());
  REQUIRE_MESSAGE(eventually([&] { return has_doc(c[3].http_port, "edge3", "after-delete"); }, 30s), c.logs());
  CHECK_FALSE(has_doc(c[3].http_port, "edge3", "users/5"));
}

TEST_CASE("pull replication: a deletion reaches an edge that fails over to a hub node it never pulled from") {
  Cluster c(3);  // 0..2: the hub cluster
  c.form(3);
  c.learn_tags();
  create_database(c, 0, "hub", 3);
  REQUIRE(c.add_process() == 3);  // the edge
  auto r = c.command(0, "PUT", "/databases/hub/admin/tasks/pull-replication/hub", R"({"Name":"edges","Mode":"HubToSink"})");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  json::array urls;
  for (int i = 0; i < 3; ++i) urls.emplace_back(c[i].url());
  REQUIRE(call(c[3].http_port, "PUT", "/admin/databases?name=edge", R"({"DatabaseName":"edge"})").status == 201);
  r = call(c[3].http_port, "PUT", "/databases/edge/admin/connection-strings",
           json::serialize(json::object{{"Name", "hub"}, {"Database", "hub"}, {"TopologyDiscoveryUrls", urls}}));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  r = call(c[3].http_port, "POST", "/databases/edge/admin/tasks/sink-pull-replication",
           json::serialize(json::object{{"PullReplicationAsSink", json::object{{"HubName", "edges"},
                                                                               {"ConnectionStringName", "hub"},
                                                                               {"Mode", "HubToSink"}}}}));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  for (int i = 1; i <= 5; ++i) put_doc(c[0].http_port, "hub", "users/" + std::to_string(i));
  // The edge pulls from the first URL only (node 0).
  REQUIRE_MESSAGE(eventually([&] { return has_doc(c[3].http_port, "edge", "users/5"); }, 30s), c.logs());

  // Away, the edge misses a deletion; every hub node has it, and has had
  // time to purge what its members acknowledged (once a second).
  c[3].process->kill9();
  REQUIRE(call(c[0].http_port, "DELETE", "/databases/hub/docs?id=users/3").status == 204);
  put_doc(c[0].http_port, "hub", "after");
  for (int i : {0, 1, 2}) {
    REQUIRE_MESSAGE(eventually([&] { return has_doc(c[i].http_port, "hub", "after"); }, 30s), c.logs());
    REQUIRE(!has_doc(c[i].http_port, "hub", "users/3"));
  }
  std::this_thread::sleep_for(3s);

  // Only node 2, which never served the edge, is left: the edge fails over
  // to it and gets everything from there, the deletion included.
  c[0].process->kill9();
  c[1].process->kill9();
  REQUIRE_MESSAGE(c[3].process->start(), c[3].process->log());
  REQUIRE_MESSAGE(eventually([&] { return has_doc(c[3].http_port, "edge", "after"); }, 60s), c.logs());
  CHECK_FALSE(has_doc(c[3].http_port, "edge", "users/3"));
  CHECK(has_doc(c[3].http_port, "edge", "users/5"));
}
