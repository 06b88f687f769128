// External replication from a three-node database group: one member runs the
// task (the ResponsibleNode of its view); killed (kill -9), the leader's
// supervisor moves it to Rehab (--database-rehab-grace 2) and another member
// takes the task over, so writes made on the survivors still reach the
// destination (a fourth corvusd, its own cluster). Bounded polls; no timing
// assertions.

#include <thread>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/test_cluster.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

TEST_CASE("external replication: the responsible member dies, another member takes the task over") {
  Cluster c(3, {"--database-rehab-grace", "2"});
  c.form(3);
  c.learn_tags();
  const int dst = c.add_process();  // its own one-node cluster
  auto r = c.command(0, "PUT", "/admin/databases?name=db&replicationFactor=3", R"({"DatabaseName":"db"})");
  REQUIRE_MESSAGE(r.status == 201, r.body);
  r = c.command(dst, "PUT", "/admin/databases?name=copy", R"({"DatabaseName":"copy"})");
  REQUIRE_MESSAGE(r.status == 201, r.body);

  r = c.command(0, "PUT", "/databases/db/admin/connection-strings",
                json::serialize(json::object{{"Name", "out"},
                                             {"Database", "copy"},
                                             {"TopologyDiscoveryUrls", json::array{c[dst].url()}},
                                             {"Type", "Raven"}}));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  r = c.command(0, "POST", "/databases/db/admin/tasks/external-replication",
                R"({"Watcher":{"Name":"out","ConnectionStringName":"out"}})");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  const auto task_id = json::parse(r.body).as_object().at("TaskId").to_number<std::uint64_t>();
  const std::string task = "/databases/db/task?type=Replication&key=" + std::to_string(task_id);

  // Every member names the same responsible node.
  std::string responsible;
  REQUIRE(eventually([&] {
    std::set<std::string> named;
    for (int i = 0; i < 3; ++i) {
      auto v = get_json(c[i].http_port, task);
      if (!v) return false;
      named.insert(str(v->at("ResponsibleNode").as_object(), "NodeTag"));
    }
    if (named.size() != 1 || named.begin()->empty()) return false;
    responsible = *named.begin();
    return true;
  }));
  const int owner = c.index_of(responsible);
  REQUIRE(owner >= 0);
  REQUIRE(c.command(owner, "PUT", "/databases/db/docs?id=before/1", "{}").status == 201);
  CHECK_MESSAGE(eventually([&] { return has_doc(c[dst].http_port, "copy", "before/1"); }), c.logs());
  REQUIRE(c.command(owner, "PUT", "/databases/db/docs?id=doomed/1", "{}").status == 201);
  CHECK_MESSAGE(eventually([&] { return has_doc(c[dst].http_port, "copy", "doomed/1"); }), c.logs());
  auto view = get_json(c[owner].http_port, task);
  REQUIRE(view);
  CHECK(str(*view, "TaskConnectionStatus") == "Active");

  // A deletion the destination misses while it is down: every member has
  // the tombstone and has had time to purge what the others acknowledged
  // (once a second); only the responsible member had to keep it for the
  // destination, and it dies before the destination returns.
  c[dst].process->kill9();
  REQUIRE(c.command(owner, "DELETE", "/databases/db/docs?id=doomed/1").status == 204);
  for (int i = 0; i < 3; ++i) REQUIRE(eventually([&] { return !has_doc(c[i].http_port, "db", "doomed/1"); }));
  std::this_thread::sleep_for(3s);
  REQUIRE_MESSAGE(c[dst].process->start(), c[dst].process->log());

  c[owner].process->kill9();
  const int survivor = (owner + 1) % 3;
  REQUIRE(c.command(survivor, "PUT", "/databases/db/docs?id=after/1", "{}").status == 201);
  // The supervisor moves the dead node out of the members, another member
  // starts the task and pushes what the destination lacks.
  CHECK_MESSAGE(eventually([&] { return has_doc(c[dst].http_port, "copy", "after/1"); }, 60s), c.logs());
  // ... from the start there: the deletion made while it was down included.
  CHECK_FALSE(has_doc(c[dst].http_port, "copy", "doomed/1"));
  auto moved = get_json(c[survivor].http_port, task);
  REQUIRE(moved);
  CHECK(str(moved->at("ResponsibleNode").as_object(), "NodeTag") != responsible);
}
