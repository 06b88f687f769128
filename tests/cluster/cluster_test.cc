// Rachis in real corvusd processes (tests/support/test_cluster.h): failover,
// restarts, pauses, cuts, membership changes and leaving, through the HTTP API.

#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/test_cluster.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;


TEST_CASE("cluster: kill -9 the leader, a new one is elected and no committed entry is lost; full restart") {
  Cluster c(3);
  c.form(3);
  std::vector<std::string> acked;
  for (int i = 0; i < 30; ++i) {
    const std::string k = "before-" + std::to_string(i);
    if (c.put(i % 3, k, k)) acked.push_back(k);  // through followers too (forwarded)
  }
  REQUIRE(acked.size() == 30);

  const int old_leader = c.wait_leader();
  REQUIRE(old_leader >= 0);
  const std::string old_tag = str(*c.topology(old_leader), "NodeTag");
  c[old_leader].process->kill9();
  std::set<int> rest;
  for (int i = 0; i < 3; ++i) {
    if (i != old_leader) rest.insert(i);
  }
  const int new_leader = c.wait_leader(rest);
  REQUIRE_MESSAGE(new_leader >= 0, "no new leader after kill -9 of the leader");
  CHECK(new_leader != old_leader);
  for (int n : rest) CHECK(c.has_all(n, acked));
  for (int i = 0; i < 10; ++i) {
    const std::string k = "after-" + std::to_string(i);
    REQUIRE(c.put(*rest.begin(), k, k));
    acked.push_back(k);
  }

  // The killed node comes back and catches up.
  REQUIRE(c[old_leader].process->start());
  CHECK(c.has_all(old_leader, acked));
  CHECK(str(*c.topology(old_leader), "NodeTag") == old_tag);

  // Restarting every node keeps the cluster: same tags, same log, a leader again.
  std::map<int, std::string> tags;
  for (int i = 0; i < 3; ++i) tags[i] = str(*c.topology(i), "NodeTag");
  for (int i = 0; i < 3; ++i) CHECK(c[i].process->terminate() == 0);
  for (int i = 0; i < 3; ++i) REQUIRE(c[i].process->start());
  REQUIRE(c.wait_leader() >= 0);
  REQUIRE(c.converged(3));
  for (int i = 0; i < 3; ++i) {
    CHECK(str(*c.topology(i), "NodeTag") == tags[i]);
    CHECK(c.has_all(i, acked));
  }
}

TEST_CASE("cluster: SIGSTOP a follower, the cluster goes on, the follower catches up; reelect") {
  Cluster c(3);
  c.form(3);
  const int leader = c.wait_leader();
  REQUIRE(leader >= 0);
  const int follower = (leader + 1) % 3;
  c[follower].process->stop();
  std::vector<std::string> acked;
  for (int i = 0; i < 20; ++i) {
    const std::string k = "k" + std::to_string(i);
    REQUIRE(c.put(leader, k, k));
    acked.push_back(k);
  }
  c[follower].process->resume();
  CHECK(c.has_all(follower, acked));
  REQUIRE(c.converged(3));

  // A forced election through a follower moves the leadership elsewhere.
  const int before = c.wait_leader();
  auto r = c.command(follower == before ? (before + 1) % 3 : follower, "POST", "/admin/cluster/reelect");
  CHECK_MESSAGE(r.status == 200, r.body);
  CHECK(eventually([&] {
    const int now = c.leader();
    return now >= 0 && now != before;
  }));
  REQUIRE(c.converged(3));
}

TEST_CASE("cluster: a leader cut off by the proxy steps down, the majority elects another; heal converges") {
  Cluster c(3);
  c.form(3);
  const int old_leader = c.wait_leader();
  REQUIRE(old_leader >= 0);
  c[old_leader].proxy->cut();
  std::set<int> rest;
  for (int i = 0; i < 3; ++i) {
    if (i != old_leader) rest.insert(i);
  }
  // Check-quorum: the isolated leader hears no acknowledgements and steps down.
  CHECK_MESSAGE(eventually([&] {
                  auto t = c.topology(old_leader);
                  return t && str(*t, "CurrentState") != "Leader";
                }),
                "the cut-off leader did not step down");
  const int new_leader = c.wait_leader(rest);
  REQUIRE_MESSAGE(new_leader >= 0, "the majority did not elect a leader");
  std::vector<std::string> acked;
  for (int i = 0; i < 10; ++i) {
    const std::string k = "cut-" + std::to_string(i);
    REQUIRE(c.put(new_leader, k, k));
    acked.push_back(k);
  }
  // The cut-off node cannot commit anything: a write through it fails, bounded.
  auto r = call(c[old_leader].http_port, "PUT", "/admin/cluster/values?key=lost", "lost");
  CHECK(r.status != 200);

  c[old_leader].proxy->heal();
  REQUIRE(c.converged(3));
  CHECK(c.has_all(old_leader, acked));
}

TEST_CASE("cluster: add and remove a node under load; a node of another cluster is refused") {
  Cluster c(3);
  c.form(3);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acked;
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop && i < 100000; ++i) {
        const std::string k = "w" + std::to_string(t) + "-" + std::to_string(i);
        auto r = call(c[t].http_port, "PUT", "/admin/cluster/values?key=" + k, k);
        if (r.status == 200) {
          std::lock_guard lock(mu);
          acked.push_back(k);
        }
      }
    });
  }
  struct StopWriters {
    std::atomic<bool>& stop;
    std::vector<std::thread>& writers;
    ~StopWriters() {
      stop = true;
      for (auto& w : writers) {
        if (w.joinable()) w.join();
      }
    }
  } stop_writers{stop, writers};

  // D and E form their own two-node cluster; D cannot then join ours.
  const int d = c.add_process();
  const int e = c.add_process();
  REQUIRE(c.wait_leader({d}) == d);
  c.add_node(d, e);
  REQUIRE(eventually([&] { return c.members(d).size() == 2; }));
  auto refused = c.command(0, "PUT", "/admin/cluster/node?url=" + c[d].url());
  CHECK(refused.status == 400);
  CHECK_MESSAGE(refused.body.find("already belongs to another cluster") != std::string::npos, refused.body);

  // Remove E from D's cluster: D is alone again and may join ours, under load.
  auto removed = c.command(d, "DELETE", "/admin/cluster/node?nodeTag=B");
  REQUIRE_MESSAGE(removed.status == 200, removed.body);
  REQUIRE(eventually([&] {
    auto t = c.topology(e);
    return t && t->at("Topology").as_object().at("AllNodes").as_object().size() == 1;
  }));
  c.add_node(1, d);  // through a follower: forwarded to the leader
  REQUIRE_MESSAGE(eventually([&] { return c.members(0).size() == 4; }), "D was not promoted\n" << c.logs());
  const std::string d_tag = str(*c.topology(d), "NodeTag");
  CHECK(d_tag == "D");

  // And remove it again, under load.
  auto r = c.command(2, "DELETE", "/admin/cluster/node?nodeTag=" + d_tag);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  REQUIRE(eventually([&] { return c.members(0).size() == 3; }));
  CHECK(eventually([&] {
    auto t = c.topology(d);
    return t && t->at("Topology").as_object().at("AllNodes").as_object().size() == 1;
  }));

  stop = true;
  for (auto& w : writers) w.join();
  std::vector<std::string> all;
  {
    std::lock_guard lock(mu);
    all = acked;
  }
  MESSAGE("acknowledged writes under membership changes: " << all.size());
  CHECK(all.size() > 0);
  for (int i = 0; i < 3; ++i) CHECK(c.has_all(i, all));
}

TEST_CASE("cluster: /admin/cluster/leave cannot erase a majority; a forced leave is refused by the old cluster") {
  Cluster c(3);
  c.form(3);
  const int leader = c.wait_leader();
  REQUIRE(leader >= 0);
  const std::string topology_id = str(c.topology(leader)->at("Topology").as_object(), "TopologyId");
  std::vector<int> followers;
  for (int i = 0; i < 3; ++i) {
    if (i != leader) followers.push_back(i);
  }
  // What a new user tried: tell each follower to leave. Both still are voters
  // the leader counts on: both refuse, and the cluster keeps its quorum.
  for (int f : followers) {
    auto r = call(c[f].http_port, "POST", "/admin/cluster/leave?topologyId=" + topology_id);
    CHECK_MESSAGE(r.status == 400, r.body);
    CHECK(r.body.find("force=true") != std::string::npos);
  }
  REQUIRE(c.put(leader, "after-refused-leave", "after-refused-leave"));
  for (int i = 0; i < 3; ++i) CHECK(c.has_all(i, {"after-refused-leave"}));

  // force=true wipes one follower (documented as losing its data); the other
  // two still form a majority and keep committing. The wiped node refuses its
  // old cluster's traffic instead of rejoining under its old id.
  const int wiped = followers[0];
  auto forced = call(c[wiped].http_port, "POST", "/admin/cluster/leave?topologyId=" + topology_id + "&force=true");
  REQUIRE_MESSAGE(forced.status == 200, forced.body);
  REQUIRE(eventually([&] {
    auto t = c.topology(wiped);
    return t && str(t->at("Topology").as_object(), "TopologyId") != topology_id;
  }));
  for (int i = 0; i < 5; ++i) REQUIRE(c.put(leader, "after-forced-" + std::to_string(i), "after-forced-" + std::to_string(i)));
  std::this_thread::sleep_for(1s);  // the old leader keeps dialing the wiped node meanwhile
  c[wiped].process->wait_exit(500ms);  // reaps it if it died
  CHECK_MESSAGE(c[wiped].process->running(), c.logs());  // no "two leaders in one term" abort
  CHECK(c.has_all(followers[1], {"after-forced-4"}));

  // The way back: remove it on the leader, then add it again (a new NodeId).
  const std::string wiped_tag = [&] {
    auto t = c.topology(leader);
    REQUIRE(t);
    for (const auto& kv : t->at("Topology").as_object().at("AllNodes").as_object()) {
      if (kv.value().is_string() && kv.value().as_string() == c[wiped].url()) return std::string(kv.key());
    }
    return std::string();
  }();
  REQUIRE(!wiped_tag.empty());
  REQUIRE(c.command(leader, "DELETE", "/admin/cluster/node?nodeTag=" + wiped_tag).status == 200);
  auto readd = c.command(leader, "PUT", "/admin/cluster/node?url=" + c[wiped].url());
  REQUIRE_MESSAGE(readd.status == 200, readd.body << "\n" << c[wiped].process->log());
  REQUIRE_MESSAGE(c.converged(3), c.logs());
  CHECK(c.has_all(wiped, {"after-forced-4"}));
}
