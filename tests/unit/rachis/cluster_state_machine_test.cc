#include <doctest/doctest.h>

#include "rachis/cluster/cluster_state_machine.h"

using namespace corvus::rachis;
using namespace corvus::rachis::cluster;
using namespace corvus::rachis::core;

namespace {

Entry config_entry(Index i, ConfigChangeType type, NodeId node, const std::string& context = "") {
  ConfigChange cc{type, node, context};
  return Entry{1, i, EntryType::ConfigChange, encode_config_change(cc, Configuration{})};
}

}  // namespace

TEST_CASE("ClusterStateMachine: bootstrap, add, promote, remove and tags") {
  ClusterStateMachine sm;
  NodeInfo a{"A", 1, "http://a", "127.0.0.1:1", NodeRole::Member};
  REQUIRE(sm.apply(Entry{1, 1, EntryType::Normal, make_bootstrap_command("topo", a)}).ok());
  auto t = sm.topology();
  CHECK(t.cluster_id == "topo");
  CHECK(t.nodes.size() == 1);
  CHECK(t.next_free_tag() == "B");

  NodeInfo b{"B", 0, "http://b", "127.0.0.1:2", NodeRole::Promotable};
  REQUIRE(sm.apply(config_entry(2, ConfigChangeType::AddLearner, 2, encode_node_context(b))).ok());
  t = sm.topology();
  REQUIRE(t.nodes.count("B"));
  CHECK(t.nodes["B"].id == 2);
  CHECK(t.nodes["B"].role == NodeRole::Promotable);
  CHECK(t.etag == 2);
  CHECK(t.next_free_tag() == "C");

  REQUIRE(sm.apply(config_entry(3, ConfigChangeType::PromoteVoter, 2)).ok());
  CHECK(sm.topology().nodes["B"].role == NodeRole::Member);

  REQUIRE(sm.apply(Entry{1, 4, EntryType::Normal, make_put_value_command("k", "v")}).ok());
  CHECK(sm.value("k") == std::optional<std::string>("v"));

  REQUIRE(sm.apply(config_entry(5, ConfigChangeType::RemoveNode, 2)).ok());
  t = sm.topology();
  CHECK(t.nodes.size() == 1);
  CHECK(t.next_free_tag() == "C");  // tags are not reused right away
  CHECK(t.applied == 5);

  SUBCASE("snapshot and restore") {
    ClusterStateMachine other;
    REQUIRE(other.restore(sm.snapshot(), 5).ok());
    auto t2 = other.topology();
    CHECK(t2.cluster_id == "topo");
    CHECK(t2.nodes.size() == 1);
    CHECK(t2.last_node_tag == "B");
    CHECK(t2.last_node_id == 2);
    CHECK(other.value("k") == std::optional<std::string>("v"));
  }
  SUBCASE("unknown commands are skipped") {
    CHECK_FALSE(sm.apply(Entry{1, 6, EntryType::Normal, "{\"Type\":\"FromTheFuture\"}"}).ok());
    CHECK_FALSE(sm.apply(Entry{1, 7, EntryType::Normal, "not json"}).ok());
    CHECK(sm.applied() == 7);
  }
}

TEST_CASE("Topology: next free tag wraps from Z to AA") {
  Topology t;
  t.last_node_tag = "Z";
  CHECK(t.next_free_tag() == "AA");
  t.last_node_tag = "AZ";
  CHECK(t.next_free_tag() == "BA");
  t.last_node_tag = "B";
  t.nodes["C"] = NodeInfo{"C", 3, "", "", NodeRole::Member};
  CHECK(t.next_free_tag() == "D");
}
