#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "rachis/cluster/cluster_state_machine.h"
#include "rachis/cluster/commands/cluster_transaction_command.h"
#include "rachis/cluster/commands/compare_exchange_commands.h"
#include "rachis/cluster/commands/conflict_solver_commands.h"
#include "rachis/cluster/commands/database_commands.h"
#include "rachis/cluster/commands/identity_commands.h"
#include "rachis/cluster/commands/node_commands.h"
#include "rachis/cluster/commands/value_commands.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/rachis/state_snapshot_copy.h"

using namespace corvus;
using namespace corvus::rachis;
using namespace corvus::rachis::cluster;
using namespace corvus::rachis::core;
namespace json = boost::json;

namespace {

Entry config_entry(Index i, ConfigChangeType type, NodeId node, const std::string& context = "") {
  ConfigChange cc{type, node, context};
  return Entry{1, i, EntryType::ConfigChange, encode_config_change(cc, Configuration{})};
}

Entry command_entry(Index i, const ClusterCommand& c) { return Entry{1, i, EntryType::Normal, encode_command(c)}; }

std::unique_ptr<ClusterStateMachine> open_sm(const std::string& path) {
  auto sm = ClusterStateMachine::open(path);
  REQUIRE(sm.ok());
  return std::move(sm).value();
}

// A state machine with a three-node topology (A, B, C) as of index 3.
struct ThreeNodes {
  testing::TempDir dir;
  std::unique_ptr<ClusterStateMachine> sm = open_sm(dir.sub("state"));
  Index next = 1;

  ThreeNodes() {
    BootstrapCommand boot;
    boot.cluster_id = "topo";
    boot.self = NodeInfo{"A", 1, "http://a", "127.0.0.1:1", NodeRole::Member, kCommandVersion};
    REQUIRE(apply(boot).result.status.ok());
    for (NodeId id : {2, 3}) {
      NodeInfo n{id == 2 ? "B" : "C", 0, "http://n" + std::to_string(id), "127.0.0.1:9", NodeRole::Member, kCommandVersion};
      REQUIRE_FALSE(sm->apply(config_entry(next++, ConfigChangeType::AddLearner, id, encode_node_context(n))).fatal);
    }
  }
  ClusterStateMachine::Outcome apply(const ClusterCommand& c) { return sm->apply(command_entry(next++, c)); }
};

AddDatabaseCommand add_database(const std::string& name, std::uint32_t factor) {
  AddDatabaseCommand c;
  c.record.name = name;
  c.record.topology.replication_factor = factor;
  c.record.cluster_transaction_id = "txid-" + name;
  return c;
}

CompareExchangeCommand cmpxchg_put(const std::string& db, const std::string& key, std::uint64_t index,
                                   const std::string& value) {
  CompareExchangeCommand c;
  c.database = db;
  c.op.kind = CompareExchangeOp::Kind::Put;
  c.op.key = key;
  c.op.expected_index = index;
  c.op.value_json = "{\"Object\":\"" + value + "\"}";
  return c;
}

// The command survives encode -> decode unchanged.
template <typename C>
void check_round_trip(const C& c) {
  const std::string payload = encode_command(c);
  DecodedCommand d = decode_command(payload);
  REQUIRE_MESSAGE(d.command, d.status.to_string());
  CHECK(d.command->type() == C::kType);
  CHECK(json::parse(encode_command(*d.command)) == json::parse(payload));
}

}  // namespace

TEST_CASE("ClusterStateMachine: bootstrap, add, promote, remove and tags") {
  testing::TempDir dir;
  auto sm = open_sm(dir.sub("state"));
  BootstrapCommand boot;
  boot.cluster_id = "topo";
  boot.self = NodeInfo{"A", 1, "http://a", "127.0.0.1:1", NodeRole::Member};
  REQUIRE(sm->apply(command_entry(1, boot)).result.status.ok());
  auto t = sm->topology();
  CHECK(t.cluster_id == "topo");
  CHECK(t.nodes.size() == 1);
  CHECK(t.next_free_tag() == "B");

  NodeInfo b{"B", 0, "http://b", "127.0.0.1:2", NodeRole::Promotable};
  REQUIRE_FALSE(sm->apply(config_entry(2, ConfigChangeType::AddLearner, 2, encode_node_context(b))).fatal);
  t = sm->topology();
  REQUIRE(t.nodes.count("B"));
  CHECK(t.nodes["B"].id == 2);
  CHECK(t.nodes["B"].role == NodeRole::Promotable);
  CHECK(t.etag == 2);

  REQUIRE_FALSE(sm->apply(config_entry(3, ConfigChangeType::PromoteVoter, 2)).fatal);
  CHECK(sm->topology().nodes["B"].role == NodeRole::Member);
  REQUIRE(sm->apply(command_entry(4, PutValueCommand::make("k", "v"))).result.status.ok());
  CHECK(sm->value("k") == std::optional<std::string>("v"));
  REQUIRE_FALSE(sm->apply(config_entry(5, ConfigChangeType::RemoveNode, 2)).fatal);
  t = sm->topology();
  CHECK(t.nodes.size() == 1);
  CHECK(t.next_free_tag() == "C");  // tags are not reused right away
  CHECK(sm->applied() == 5);

  SUBCASE("a command this build does not know stops the apply loop, never skipped") {
    auto out = sm->apply(Entry{1, 6, EntryType::Normal, "{\"Type\":\"FromTheFuture\",\"Version\":9}"});
    CHECK(out.fatal);
    CHECK(out.applied.type == "FromTheFuture");
    CHECK(out.result.status.message().find("FromTheFuture") != std::string::npos);
    CHECK(sm->applied() == 5);  // not counted as applied
    CHECK(sm->apply(Entry{1, 6, EntryType::Normal, "not json"}).fatal);
    CHECK(sm->apply(Entry{1, 6, EntryType::Normal, "{\"Type\":\"PutValue\",\"Version\":99,\"Key\":\"k\"}"}).fatal);
    CHECK(sm->apply(Entry{1, 6, EntryType::Normal, "{\"Type\":\"PutValue\",\"Version\":1}"}).fatal);  // malformed
  }
  SUBCASE("a snapshot streamed to another node") {
    testing::TempDir other_dir;
    auto other = open_sm(other_dir.sub("state"));
    auto reader = sm->read_snapshot();
    REQUIRE(reader.ok());
    auto staged = other->stage_snapshot();
    REQUIRE(staged.ok());
    corvus::rachis::cluster::test::stream_snapshot(**reader, **staged);
    REQUIRE(other->install_snapshot(std::move(staged).value()).ok());
    auto t2 = other->topology();
    CHECK(t2.cluster_id == "topo");
    CHECK(t2.nodes.size() == 1);
    CHECK(t2.last_node_tag == "B");
    CHECK(t2.last_node_id == 2);
    CHECK(other->applied() == 5);
    CHECK(other->value("k") == std::optional<std::string>("v"));
  }
}

TEST_CASE("ClusterStateMachine: a restart resumes after the last applied entry, without replay") {
  testing::TempDir dir;
  {
    auto sm = open_sm(dir.sub("state"));
    BootstrapCommand boot;
    boot.cluster_id = "topo";
    boot.self = NodeInfo{"A", 1, "http://a", "127.0.0.1:1", NodeRole::Member};
    REQUIRE(sm->apply(command_entry(1, boot)).result.status.ok());
    REQUIRE(sm->apply(command_entry(2, add_database("Orders", 1))).result.status.ok());
    REQUIRE(sm->apply(command_entry(3, cmpxchg_put("orders", "k", 0, "v1"))).result.value.as_object().at("Successful").as_bool());
  }
  auto sm = open_sm(dir.sub("state"));
  CHECK(sm->applied() == 3);
  CHECK(sm->topology().nodes.count("A"));
  REQUIRE(sm->state().record("ORDERS"));
  auto v = sm->state().compare_exchange("Orders", "K");
  REQUIRE(v.ok());
  REQUIRE(*v);
  CHECK((*v)->index == 3);
  // The log hands the same entries out again: they are already in the state.
  auto again = sm->apply(command_entry(3, cmpxchg_put("orders", "k", 0, "v1")));
  CHECK(again.result.value.is_null());
  CHECK(sm->applied() == 3);
  CHECK((*sm->state().compare_exchange("orders", "k"))->index == 3);
}

TEST_CASE("AddDatabase: the fewest-loaded nodes are chosen, the same on every node") {
  ThreeNodes c;
  auto first = c.apply(add_database("one", 2));
  REQUIRE(first.result.status.ok());
  check_round_trip(add_database("one", 2));
  auto t1 = DatabaseTopology::from_json(first.result.value.as_object().at("Topology").as_object());
  CHECK(t1.members == std::vector<std::string>{"A", "B"});
  CHECK(t1.stamp == first.applied.index);
  CHECK(first.applied.databases == std::vector<std::string>{"one"});
  auto second = c.apply(add_database("two", 2));
  auto t2 = DatabaseTopology::from_json(second.result.value.as_object().at("Topology").as_object());
  CHECK(t2.members == std::vector<std::string>{"C", "A"});  // C hosts none, A and B one each

  SUBCASE("a second create of the same name (any case) is refused and changes nothing") {
    auto dup = c.apply(add_database("ONE", 1));
    CHECK(dup.result.status.is_already_exists());
    CHECK(c.sm->state().record("one")->topology.members.size() == 2);
  }
  SUBCASE("more replicas than nodes is refused") {
    CHECK(c.apply(add_database("big", 4)).result.status.is_invalid_argument());
    CHECK_FALSE(c.sm->state().record("big"));
  }
  SUBCASE("explicit members are kept; unknown nodes are refused") {
    auto explicit_db = add_database("pinned", 1);
    explicit_db.record.topology.members = {"C"};
    REQUIRE(c.apply(explicit_db).result.status.ok());
    CHECK(c.sm->state().record("pinned")->topology.members == std::vector<std::string>{"C"});
    auto unknown = add_database("nowhere", 1);
    unknown.record.topology.members = {"Z"};
    CHECK(c.apply(unknown).result.status.is_invalid_argument());
  }
}

TEST_CASE("DeleteDatabase: from one node, from all, confirmations, and the database's cluster data") {
  ThreeNodes c;
  REQUIRE(c.apply(add_database("db", 3)).result.status.ok());
  REQUIRE(c.apply(cmpxchg_put("db", "k", 0, "v")).result.status.ok());

  DeleteDatabaseCommand from_b;
  from_b.names = {"db"};
  from_b.from_nodes = {"B"};
  check_round_trip(from_b);
  auto out = c.apply(from_b);
  REQUIRE(out.result.status.ok());
  auto r = c.sm->state().record("db");
  REQUIRE(r);
  CHECK_FALSE(r->topology.contains("B"));
  CHECK(r->deletion_in_progress.at("B"));
  CHECK(r->active());

  ConfirmDatabaseDeletionCommand confirm;
  confirm.name = "db";
  confirm.node_tag = "B";
  check_round_trip(confirm);
  REQUIRE(c.apply(confirm).result.status.ok());
  CHECK(c.sm->state().record("db")->deletion_in_progress.empty());

  DeleteDatabaseCommand all;
  all.names = {"db"};
  all.hard_delete = false;
  REQUIRE(c.apply(all).result.status.ok());
  r = c.sm->state().record("db");
  REQUIRE(r);  // kept until A and C confirm
  CHECK_FALSE(r->active());
  CHECK_FALSE(r->deletion_in_progress.at("A"));  // soft delete
  CHECK_FALSE(*c.sm->state().compare_exchange("db", "k"));  // cluster data goes at once
  CHECK(c.apply(add_database("db", 1)).result.status.is_already_exists());  // still being deleted
  // Deleting it again (a racing delete): nothing to do, not an error.
  auto again = c.apply(all);
  REQUIRE(again.result.status.ok());
  CHECK(again.result.value.at("PendingDeletes").as_array().empty());
  CHECK(c.sm->state().record("db")->deletion_in_progress.size() == 2);
  for (const char* tag : {"A", "C"}) {
    confirm.node_tag = tag;
    REQUIRE(c.apply(confirm).result.status.ok());
  }
  CHECK_FALSE(c.sm->state().record("db"));
  CHECK(c.apply(add_database("db", 1)).result.status.ok());
}

TEST_CASE("SetDatabasesLock: PreventDeletesError refuses a delete, PreventDeletesIgnore skips the database") {
  ThreeNodes c;
  REQUIRE(c.apply(add_database("db", 1)).result.status.ok());
  REQUIRE(c.apply(add_database("other", 1)).result.status.ok());
  CHECK(c.sm->state().record("db")->lock_mode == "Unlock");

  SetDatabasesLockCommand lock;
  lock.names = {"db"};
  lock.mode = "PreventDeletesError";
  check_round_trip(lock);
  REQUIRE(c.apply(lock).result.status.ok());
  CHECK(c.sm->state().record("db")->to_json().at("LockMode") == "PreventDeletesError");

  DeleteDatabaseCommand both;
  both.names = {"other", "db"};
  CHECK(c.apply(both).result.status.is_invalid_argument());
  CHECK(c.sm->state().record("other")->active());  // nothing changed

  lock.mode = "PreventDeletesIgnore";
  REQUIRE(c.apply(lock).result.status.ok());
  auto out = c.apply(both);
  REQUIRE(out.result.status.ok());
  CHECK(out.result.value.at("Skipped") == boost::json::array{"db"});
  CHECK(c.sm->state().record("db")->active());
  CHECK_FALSE(c.sm->state().record("other")->active());

  SetDatabasesLockCommand missing;
  missing.names = {"nope"};
  missing.mode = "Unlock";
  CHECK(c.apply(missing).result.status.is_not_found());
  missing.mode = "Sometimes";
  CHECK_FALSE(SetDatabasesLockCommand::decode(missing.fields()).ok());
}

TEST_CASE("A node removed from the cluster leaves every database group") {
  ThreeNodes c;
  REQUIRE(c.apply(add_database("db", 3)).result.status.ok());
  auto out = c.sm->apply(config_entry(c.next++, ConfigChangeType::RemoveNode, 2));
  REQUIRE_FALSE(out.fatal);
  CHECK(out.applied.databases == std::vector<std::string>{"db"});
  CHECK_FALSE(c.sm->state().record("db")->topology.contains("B"));
}

TEST_CASE("AddDatabaseNode and UpdateDatabaseTopology") {
  ThreeNodes c;
  auto db = add_database("db", 1);
  db.record.topology.members = {"A"};
  REQUIRE(c.apply(db).result.status.ok());
  AddDatabaseNodeCommand add;
  add.name = "db";
  add.node_tag = "B";
  check_round_trip(add);
  REQUIRE(c.apply(add).result.status.ok());
  auto r = c.sm->state().record("db");
  CHECK(r->topology.promotables == std::vector<std::string>{"B"});
  CHECK(c.apply(add).result.status.is_already_exists());

  UpdateDatabaseTopologyCommand update;
  update.name = "db";
  update.expected_stamp = r->topology.stamp;
  update.topology.members = {"A", "B"};
  check_round_trip(update);
  REQUIRE(c.apply(update).result.status.ok());
  CHECK(c.sm->state().record("db")->topology.members == std::vector<std::string>{"A", "B"});
  SUBCASE("a decision on a stale view is refused") {
    update.topology.members = {"A"};
    update.topology.rehabs = {"B"};
    CHECK(c.apply(update).result.status.is_concurrency_conflict());
  }
  SUBCASE("it may only move nodes between roles") {
    update.expected_stamp = c.sm->state().record("db")->topology.stamp;
    update.topology.members = {"A", "C"};
    CHECK(c.apply(update).result.status.is_invalid_argument());
  }
}

TEST_CASE("CompareExchange: create-only, index checks, delete, case-insensitive keys, prefix listing") {
  ThreeNodes c;
  REQUIRE(c.apply(add_database("db", 1)).result.status.ok());
  check_round_trip(cmpxchg_put("db", "users/ayende", 0, "x"));

  auto created = c.apply(cmpxchg_put("db", "Users/Ayende", 0, "first"));
  const auto& o = created.result.value.as_object();
  CHECK(o.at("Successful").as_bool());
  const std::uint64_t index = o.at("Index").to_number<std::uint64_t>();
  CHECK(index == created.applied.index);

  auto again = c.apply(cmpxchg_put("db", "users/ayende", 0, "second")).result.value.as_object();
  CHECK_FALSE(again.at("Successful").as_bool());
  CHECK(again.at("Index").to_number<std::uint64_t>() == index);  // the current index, never 0
  CHECK(again.at("Value").as_object().at("Object").as_string() == "first");

  auto wrong = c.apply(cmpxchg_put("db", "users/ayende", index + 100, "third")).result.value.as_object();
  CHECK_FALSE(wrong.at("Successful").as_bool());
  auto updated = c.apply(cmpxchg_put("db", "users/ayende", index, "fourth"));
  CHECK(updated.result.value.as_object().at("Successful").as_bool());
  auto v = *c.sm->state().compare_exchange("db", "USERS/AYENDE");
  REQUIRE(v);
  CHECK(v->key == "users/ayende");  // as the last writer spelled it
  CHECK(v->index == updated.applied.index);

  CompareExchangeCommand del;
  del.database = "db";
  del.op.kind = CompareExchangeOp::Kind::Delete;
  del.op.key = "users/ayende";
  del.op.expected_index = index;  // stale
  CHECK_FALSE(c.apply(del).result.value.as_object().at("Successful").as_bool());
  del.op.expected_index = v->index;
  check_round_trip(del);
  CHECK(c.apply(del).result.value.as_object().at("Successful").as_bool());
  CHECK_FALSE(*c.sm->state().compare_exchange("db", "users/ayende"));

  for (const char* k : {"p/1", "p/2", "p/3", "q/1"}) REQUIRE(c.apply(cmpxchg_put("db", k, 0, k)).result.status.ok());
  auto page = c.sm->state().compare_exchange_prefix("db", "P/", 1, 5);
  REQUIRE(page.ok());
  REQUIRE(page->size() == 2);
  CHECK((*page)[0].key == "p/2");
  CHECK(c.apply(cmpxchg_put("nodb", "k", 0, "v")).result.status.is_not_found());
}

TEST_CASE("IncrementIdentities hands out disjoint ranges") {
  ThreeNodes c;
  REQUIRE(c.apply(add_database("db", 1)).result.status.ok());
  IncrementIdentitiesCommand inc;
  inc.database = "db";
  inc.counts = {{"users", 2}, {"orders", 1}};
  check_round_trip(inc);
  auto first = c.apply(inc).result.value.as_object();
  CHECK(first.at("users").to_number<std::uint64_t>() == 2);
  CHECK(first.at("orders").to_number<std::uint64_t>() == 1);
  auto second = c.apply(inc).result.value.as_object();
  CHECK(second.at("users").to_number<std::uint64_t>() == 4);
}

TEST_CASE("SeedIdentity raises an identity, lowers it only when forced; identities() lists them") {
  ThreeNodes c;
  REQUIRE(c.apply(add_database("db", 1)).result.status.ok());
  auto seed = [&](std::uint64_t value, bool force) {
    SeedIdentityCommand s;
    s.database = "db";
    s.prefix = "users";
    s.value = value;
    s.force = force;
    check_round_trip(s);
    auto r = c.apply(s).result;
    REQUIRE(r.status.ok());
    return r.value.as_object().at("users").to_number<std::uint64_t>();
  };
  CHECK(seed(10, false) == 10);
  CHECK(seed(4, false) == 10);
  IncrementIdentitiesCommand inc;
  inc.database = "db";
  inc.counts = {{"users", 1}, {"orders", 1}};
  CHECK(c.apply(inc).result.value.as_object().at("users").to_number<std::uint64_t>() == 11);
  CHECK(seed(2, true) == 2);
  auto all = c.sm->state().identities("db");
  REQUIRE(all.ok());
  CHECK(all.value() == std::map<std::string, std::uint64_t>{{"orders", 1}, {"users", 2}});
  SeedIdentityCommand missing;
  missing.database = "nodb";
  missing.prefix = "users";
  CHECK(c.apply(missing).result.status.is_not_found());
}

TEST_CASE("ClusterTransaction: atomic guards, all or nothing, the document part stored in Raft order") {
  ThreeNodes c;
  REQUIRE(c.apply(add_database("db", 3)).result.status.ok());
  auto tx = [](std::optional<std::string> original_cv, const std::string& email_key, std::uint64_t email_index) {
    ClusterTransactionCommand t;
    t.database = "db";
    t.last_modified_us = 1234;
    ClusterTransactionItem put;
    put.kind = ClusterTransactionItem::Kind::PutDocument;
    put.id = "users/1";
    put.document = json::object{{"Name", "a"}};
    put.original_change_vector = std::move(original_cv);
    ClusterTransactionItem email;
    email.kind = ClusterTransactionItem::Kind::CompareExchange;
    email.op.key = email_key;
    email.op.expected_index = email_index;
    email.op.value_json = "{\"Object\":\"users/1\"}";
    t.items = {put, email};
    return t;
  };
  check_round_trip(tx(std::nullopt, "emails/a", 0));
  auto first = c.apply(tx(std::nullopt, "emails/a", 0));
  REQUIRE_MESSAGE(first.result.status.ok(), first.result.status.to_string());
  const Index i1 = first.applied.index;
  const auto& results = first.result.value.as_object().at("Results").as_array();
  const std::string cv(results[0].as_object().at("@change-vector").as_string());
  CHECK(cv == cluster_transaction_change_vector(i1, "txid-db"));
  CHECK(cluster_transaction_index("A:5-abc, " + cv, "txid-db") == i1);
  CHECK(results[1].as_object().at("Index").to_number<std::uint64_t>() == i1);
  CHECK((*c.sm->state().compare_exchange("db", "rvn-atomic/users/1"))->index == i1);
  auto stored = c.sm->state().cluster_transactions("db", 0, 10);
  REQUIRE(stored.ok());
  REQUIRE(stored->size() == 1);
  CHECK((*stored)[0].index == i1);

  SUBCASE("a session that loaded the same version loses, and nothing of its transaction is applied") {
    auto winner = c.apply(tx(cv, "emails/b", 0));
    REQUIRE(winner.result.status.ok());
    auto loser = c.apply(tx(cv, "emails/c", 0));  // the guard moved on
    CHECK(loser.result.status.is_concurrency_conflict());
    CHECK(loser.result.status.message().find("rvn-atomic/users/1") != std::string::npos);
    CHECK_FALSE(*c.sm->state().compare_exchange("db", "emails/c"));
    CHECK(c.sm->state().cluster_transactions("db", 0, 10)->size() == 2);
  }
  SUBCASE("a new document whose guard exists is a conflict (someone created it first)") {
    CHECK(c.apply(tx(std::nullopt, "emails/d", 0)).result.status.is_concurrency_conflict());
  }
  SUBCASE("a failing compare-exchange fails the documents too") {
    auto stale = c.apply(tx(cv, "emails/a", 0));  // emails/a exists
    CHECK(stale.result.status.is_concurrency_conflict());
    CHECK((*c.sm->state().compare_exchange("db", "rvn-atomic/users/1"))->index == i1);
  }
  SUBCASE("atomic guards can be disabled") {
    auto t = tx(std::nullopt, "emails/e", 0);
    t.disable_atomic_document_writes = true;
    CHECK(c.apply(t).result.status.ok());
  }
}

namespace {

ModifyConflictSolverCommand modify_solver(const std::string& name, const char* solver) {
  ModifyConflictSolverCommand c;
  c.name = name;
  auto parsed = ConflictSolverConfig::from_json(json::parse(solver));
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().to_string());
  c.solver = std::make_shared<const ConflictSolverConfig>(std::move(parsed).value());
  return c;
}

}  // namespace

TEST_CASE("ModifyConflictSolver: sets the record's ConflictSolverConfig, shown as RavenDB does, survives a restart") {
  ThreeNodes c;
  REQUIRE(c.apply(add_database("db", 2)).result.status.ok());
  const auto before = c.sm->state().record("db");
  CHECK(before->conflict_solver == nullptr);
  CHECK_FALSE(before->to_json().contains("ConflictSolverConfig"));
  // No configuration: RavenDB's default, resolve to latest.
  CHECK(conflict_policy_of(before->conflict_solver.get()) == storage::ConflictPolicy::ResolveToLatest);

  auto keep = modify_solver("DB", R"({"ResolveToLatest":false,"ResolveByCollection":{}})");
  CHECK(keep.version() == 4);
  CHECK(keep.version() <= kCommandVersion);
  check_round_trip(keep);
  auto out = c.apply(keep);
  REQUIRE(out.result.status.ok());
  CHECK(out.applied.databases == std::vector<std::string>{"db"});
  CHECK(out.result.value == json::parse(R"({"ResolveToLatest":false,"ResolveByCollection":{}})"));
  auto record = c.sm->state().record("db");
  REQUIRE(record->conflict_solver);
  CHECK(record->conflict_solver->policy() == storage::ConflictPolicy::KeepConflict);
  CHECK(record->to_json().at("ConflictSolverConfig") ==
        json::parse(R"({"ResolveToLatest":false,"ResolveByCollection":{}})"));
  CHECK_FALSE(record->settings.contains("ConflictSolverConfig"));

  // A later solver replaces it; the rest of the record stays.
  auto scripted = modify_solver(
      "db", R"({"ResolveToLatest":true,"ResolveByCollection":{"Users":{"Script":"return docs[0];","LastModifiedTime":"2026-12-06T16:00:00.000Z"}}})");
  check_round_trip(scripted);
  REQUIRE(c.apply(scripted).result.status.ok());
  record = c.sm->state().record("db");
  CHECK(record->topology.members.size() == 2);
  CHECK(record->cluster_transaction_id == "txid-db");
  CHECK(record->conflict_solver->resolve_to_latest);
  CHECK(record->to_json().at("ConflictSolverConfig").at("ResolveByCollection").at("Users").at("LastModifiedTime") ==
        "2026-12-06T16:00:00.0000000Z");

  // Restart: the record (and its solver) is read back from the state.
  const Index applied = c.sm->applied();
  c.sm.reset();
  c.sm = open_sm(c.dir.sub("state"));
  CHECK(c.sm->applied() == applied);
  auto again = c.sm->state().record("db");
  REQUIRE(again->conflict_solver);
  CHECK(again->conflict_solver->resolve_by_collection.count("users") == 1);
  CHECK(again->conflict_solver->resolve_by_collection.at("users").second.script == "return docs[0];");
}

TEST_CASE("ModifyConflictSolver: an unknown database is refused and nothing changes") {
  ThreeNodes c;
  REQUIRE(c.apply(add_database("db", 1)).result.status.ok());
  CHECK(c.apply(modify_solver("nope", R"({"ResolveToLatest":false})")).result.status.is_not_found());
  CHECK_FALSE(c.sm->state().record("nope"));
  CHECK(c.sm->state().record("db")->conflict_solver == nullptr);
}

TEST_CASE("ModifyConflictSolver: a malformed entry stops the apply loop instead of being skipped") {
  ThreeNodes c;
  REQUIRE(c.apply(add_database("db", 1)).result.status.ok());
  const Index before = c.sm->applied();
  for (const char* payload :
       {R"({"Type":"ModifyConflictSolver","Version":4,"DatabaseName":"db","Solver":{"ResolveToLatest":"no"}})",
        R"({"Type":"ModifyConflictSolver","Version":4,"DatabaseName":"db"})",
        R"({"Type":"ModifyConflictSolver","Version":4,"Solver":{}})"}) {
    CAPTURE(payload);
    auto out = c.sm->apply(Entry{1, c.next, EntryType::Normal, payload});
    CHECK(out.fatal);
    CHECK(c.sm->applied() == before);
  }
  CHECK(c.sm->state().record("db")->conflict_solver == nullptr);
}
