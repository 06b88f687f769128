// Three rachis::Node instances in one process, over real TCP on 127.0.0.1.
// Waits are bounded polls; nothing asserts on timing.

#include <thread>

#include <doctest/doctest.h>

#include "rachis/cluster/commands/database_commands.h"
#include "rachis/cluster/commands/value_commands.h"
#include "rachis/node.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/rachis/node_test_support.h"

using namespace corvus;
using namespace corvus::rachis;
using namespace corvus::testing;
using namespace std::chrono_literals;

TEST_CASE("Node: three nodes over TCP form a cluster, fail over and survive a restart") {
  testing::TempDir dir;
  auto oa = options_for(dir, "a"), ob = options_for(dir, "b"), oc = options_for(dir, "c");
  auto a = open_node(oa);
  auto b = open_node(ob);
  auto c = open_node(oc);
  // Fixed ports for the restart.
  oa.listen.port = a->cluster_port();
  ob.listen.port = b->cluster_port();
  oc.listen.port = c->cluster_port();

  REQUIRE(eventually([&] { return a->view().role == core::Role::Leader && a->state().topology().nodes.size() == 1; }));
  CHECK(a->state().topology().nodes.count("A"));

  REQUIRE(call_retrying([&](Node::Done d) { a->add_node("", "http://b", b->advertise_address(), false, cluster::kCommandVersion, d); }).ok());
  REQUIRE(eventually([&] { return a->view().config.voters.size() == 2; }));
  REQUIRE(call_retrying([&](Node::Done d) { a->add_node("", "http://c", c->advertise_address(), false, cluster::kCommandVersion, d); }).ok());
  REQUIRE(eventually([&] { return a->view().config.voters.size() == 3; }));

  auto topo = a->state().topology();
  CHECK(topo.nodes.count("B"));
  CHECK(topo.nodes.count("C"));
  REQUIRE(eventually([&] { return c->state().topology().nodes.size() == 3 && b->view().identity.node_id == 2; }));
  CHECK(b->view().identity.cluster_id == "cluster-a");

  SUBCASE("a node of another multi-node cluster is refused; a busy cluster node cannot be stolen") {
    auto od = options_for(dir, "d");
    auto d = open_node(od);
    // d is fresh: it may join. But a's members are not fresh: nothing else can claim them.
    CHECK_FALSE(b->view().fresh);
    CHECK(d->view().fresh);
  }

  for (int i = 0; i < 120; ++i) {
    Node* l = nullptr;
    REQUIRE(eventually([&] { return (l = leader_of({a.get(), b.get(), c.get()})) != nullptr; }));
    Status s;
    for (int attempt = 0; attempt < 50; ++attempt) {
      s = call([&](Node::Done d) {
        l->propose(cluster::PutValueCommand::make("k" + std::to_string(i), std::to_string(i)), Node::as_command_done(d));
      });
      if (s.ok()) break;
      std::this_thread::sleep_for(20ms);
      l = leader_of({a.get(), b.get(), c.get()});
      if (!l) l = a.get();
    }
    REQUIRE_MESSAGE(s.ok(), s.to_string());
  }
  REQUIRE(eventually([&] { return c->state().value_count() == 120 && b->state().value_count() == 120; }));

  // Kill the leader: the other two elect a new one and keep committing.
  Node* old_leader = leader_of({a.get(), b.get(), c.get()});
  REQUIRE(old_leader);
  std::unique_ptr<Node>* owner = old_leader == a.get() ? &a : old_leader == b.get() ? &b : &c;
  (*owner)->stop();
  owner->reset();
  std::vector<Node*> alive;
  for (auto* p : {&a, &b, &c}) {
    if (*p) alive.push_back(p->get());
  }
  Node* nl = nullptr;
  REQUIRE(eventually([&] { return (nl = leader_of(alive)) != nullptr; }));
  REQUIRE(call_retrying([&](Node::Done d) { nl->propose(cluster::PutValueCommand::make("after", "x"), Node::as_command_done(d)); }).ok());

  // Restart everyone from disk: same tags, same values, a leader again.
  a.reset();
  b.reset();
  c.reset();
  a = open_node(oa);
  b = open_node(ob);
  c = open_node(oc);
  REQUIRE(eventually([&] { return leader_of({a.get(), b.get(), c.get()}) != nullptr; }));
  REQUIRE(eventually([&] {
    return a->state().value("after").has_value() && b->state().value("after").has_value() &&
           c->state().value("after").has_value();
  }));
  CHECK(a->state().value_count() == 121);
  auto t2 = b->state().topology();
  CHECK(t2.nodes.size() == 3);
  CHECK(t2.nodes["A"].id == 1);
  CHECK(t2.nodes["B"].id == 2);
  CHECK(t2.nodes["C"].id == 3);

  // A follower that comes back on another port is found again: its handshake
  // advertises the new address and the leader records it (UpdateNode).
  Node* l = nullptr;
  REQUIRE(eventually([&] { return (l = leader_of({a.get(), b.get(), c.get()})) != nullptr; }));
  std::unique_ptr<Node>& moving = l == c.get() ? b : c;
  auto om = moving.get() == b.get() ? ob : oc;
  const std::string old_address = moving->advertise_address();
  moving.reset();
  om.listen.port = 0;
  moving = open_node(om);
  REQUIRE(moving->advertise_address() != old_address);
  REQUIRE(eventually([&] {
    for (const auto& [tag, n] : l->state().topology().nodes) {
      if (n.address == moving->advertise_address()) return true;
    }
    return false;
  }));
  REQUIRE(call_retrying([&](Node::Done d) { l->propose(cluster::PutValueCommand::make("moved", "y"), Node::as_command_done(d)); }).ok());
  CHECK(eventually([&] { return moving->state().value("moved").has_value(); }));
}

TEST_CASE("Node: removing a node shrinks the configuration") {
  testing::TempDir dir;
  auto a = open_node(options_for(dir, "a"));
  auto b = open_node(options_for(dir, "b"));
  REQUIRE(eventually([&] { return a->view().role == core::Role::Leader && a->state().topology().nodes.size() == 1; }));
  REQUIRE(call_retrying([&](Node::Done d) { a->add_node("", "http://b", b->advertise_address(), true, cluster::kCommandVersion, d); }).ok());
  REQUIRE(eventually([&] { return b->state().topology().nodes.size() == 2; }));
  // A watcher is never promoted.
  std::this_thread::sleep_for(300ms);
  CHECK(a->view().config.learners.size() == 1);
  CHECK(a->state().topology().nodes["B"].role == cluster::NodeRole::Watcher);
  REQUIRE(call_retrying([&](Node::Done d) { a->remove_node("B", d); }).ok());
  CHECK(a->state().topology().nodes.size() == 1);
  // B never sees its removal commit; the leader's side (corvusd) tells it.
  const std::string cluster = a->view().identity.cluster_id;
  REQUIRE(call([&](Node::Done d) { b->leave(cluster, false, d); }).ok());
  REQUIRE(eventually([&] { return b->view().role == core::Role::Leader; }));
  CHECK(b->view().identity.cluster_id != cluster);
  CHECK(b->view().fresh);
  REQUIRE(eventually([&] { return b->state().topology().nodes.size() == 1; }));
  // And it can be added again, under a new tag.
  REQUIRE(call_retrying([&](Node::Done d) { a->add_node("", "http://b", b->advertise_address(), false, cluster::kCommandVersion, d); }).ok());
  REQUIRE(eventually([&] { return b->view().identity.cluster_id == cluster && a->view().config.voters.size() == 2; }));
  CHECK(a->state().topology().nodes.count("C"));
  CHECK(call([&](Node::Done d) { a->remove_node("Z", d); }).is_not_found());
}

TEST_CASE("Node: a member of another multi-node cluster refuses to be taken over") {
  testing::TempDir dir;
  auto a = open_node(options_for(dir, "a"));
  auto b = open_node(options_for(dir, "b"));
  auto x = open_node(options_for(dir, "x"));
  auto y = open_node(options_for(dir, "y"));
  REQUIRE(eventually([&] { return a->state().topology().nodes.size() == 1 && x->state().topology().nodes.size() == 1; }));
  REQUIRE(call_retrying([&](Node::Done d) { x->add_node("", "http://y", y->advertise_address(), false, cluster::kCommandVersion, d); }).ok());
  REQUIRE(eventually([&] { return x->view().config.voters.size() == 2; }));
  const std::string y_cluster = y->view().identity.cluster_id;
  CHECK(y_cluster == "cluster-x");
  CHECK_FALSE(y->view().fresh);

  // a adds y behind the HTTP layer's back: the entry commits (a alone is a quorum)
  // but y's listener refuses a's handshake, so y never joins and is never promoted.
  REQUIRE(call_retrying([&](Node::Done d) { a->add_node("", "http://y", y->advertise_address(), false, cluster::kCommandVersion, d); }).ok());
  REQUIRE(eventually([&] {
    auto st = a->peer_status();
    for (const auto& [id, p] : st) {
      if (p.last_error.find("refused by peer") != std::string::npos) return true;
    }
    return false;
  }));
  CHECK(a->view().config.voters.size() == 1);
  CHECK(y->view().identity.cluster_id == y_cluster);
  CHECK(y->state().topology().nodes.size() == 2);
  // A fresh node still joins normally.
  REQUIRE(call_retrying([&](Node::Done d) { a->remove_node("B", d); }).ok());
  REQUIRE(call_retrying([&](Node::Done d) { a->add_node("", "http://b", b->advertise_address(), false, cluster::kCommandVersion, d); }).ok());
  REQUIRE(eventually([&] { return a->view().config.voters.size() == 2; }));
}

TEST_CASE("Node: the leader refuses a command some node is too old to apply") {
  testing::TempDir dir;
  auto a = open_node(options_for(dir, "a"));
  auto b = open_node(options_for(dir, "b"));
  REQUIRE(eventually([&] { return a->view().role == core::Role::Leader && a->state().topology().nodes.size() == 1; }));
  // B says it runs the first command format (only node list and values).
  REQUIRE(call_retrying([&](Node::Done d) { a->add_node("", "http://b", b->advertise_address(), true, 1, d); }).ok());
  REQUIRE(eventually([&] { return a->state().topology().nodes.size() == 2; }));
  cluster::AddDatabaseCommand create;
  create.record.name = "db";
  create.record.topology.members = {"A"};
  Status refused = call([&](Node::Done d) { a->propose(create, Node::as_command_done(d)); });
  CHECK(refused.is_invalid_argument());
  CHECK(refused.message().find("node B") != std::string::npos);
  CHECK_FALSE(a->state().state().record("db"));
  // What B understands still goes through.
  CHECK(call([&](Node::Done d) { a->propose(cluster::PutValueCommand::make("k", "v"), Node::as_command_done(d)); }).ok());
}
