// The data subscription commands (PutSubscription, AcknowledgeSubscriptionBatch,
// DeleteSubscription) applied by a real ClusterStateMachine: names are
// case-insensitive and unique, updates find by name or id and keep the
// position unless told, an acknowledgement for a deleted or recreated
// subscription is refused, and the records survive a restart, travel in a
// snapshot and go with their database. The versions an acknowledgement says
// it delivered are kept per document (the newest replaces), survive a
// restart and a snapshot, and go with the subscription, a new start point
// and the database.
#include "rachis/cluster/commands/subscription_commands.h"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/unit/rachis/one_database_state.h"
#include "tests/unit/rachis/state_snapshot_copy.h"

using namespace corvus;
using namespace corvus::rachis;
using namespace corvus::rachis::cluster;
using namespace corvus::rachis::core;
using corvus::rachis::cluster::test::copy_snapshot;
namespace json = boost::json;

namespace {

struct OneDatabase : test::OneDatabaseState {
  OneDatabase() : OneDatabaseState("subscriptions") {}
  SubscriptionRecord get(const std::string& name) {
    auto r = sm->state().subscription("db", name);
    REQUIRE(r.ok());
    REQUIRE(r.value());
    return *r.value();
  }
};

PutSubscriptionCommand create(const std::string& name, const std::string& query, std::optional<std::uint64_t> start = 0) {
  PutSubscriptionCommand c;
  c.database = "db";
  c.name = name;
  c.query = query;
  c.start_etag = start;
  return c;
}

AcknowledgeSubscriptionBatchCommand ack(const std::string& name, std::uint64_t id, std::uint64_t etag) {
  AcknowledgeSubscriptionBatchCommand c;
  c.database = "db";
  c.name = name;
  c.id = id;
  c.last_etag = etag;
  c.change_vector = "A:" + std::to_string(etag) + "-x";
  c.ack_time = "2026-12-07T00:00:00.0000000Z";
  return c;
}

}  // namespace

TEST_CASE("PutSubscription: create with a name or the index as name; names are unique, case-insensitively") {
  OneDatabase c;
  auto named = c.apply(create("Orders-Sub", "from Orders", 7));
  REQUIRE(named.result.status.ok());
  CHECK(named.result.value.at("Name") == "Orders-Sub");
  const std::uint64_t id = named.result.value.at("SubscriptionId").to_number<std::uint64_t>();
  CHECK(id == c.next - 1);  // the creating entry's index
  auto r = c.get("orders-sub");
  CHECK(r.name == "Orders-Sub");
  CHECK(r.query == "from Orders");
  CHECK(r.last_etag == 7);

  auto again = c.apply(create("ORDERS-SUB", "from Users"));
  CHECK(again.result.status.is_invalid_argument());
  CHECK(c.get("orders-sub").query == "from Orders");

  auto unnamed = c.apply(create("", "from Users"));
  REQUIRE(unnamed.result.status.ok());
  const std::string generated(unnamed.result.value.at("Name").as_string());
  CHECK(generated == std::to_string(c.next - 1));

  PutSubscriptionCommand no_db = create("x", "from Users");
  no_db.database = "nope";
  CHECK(c.apply(no_db).result.status.is_not_found());

  auto all = c.sm->state().subscriptions("db");
  REQUIRE(all.ok());
  CHECK(all.value().size() == 2);
}

TEST_CASE("PutSubscription: the start point's change vector is kept when acknowledgements move the position") {
  OneDatabase c;
  PutSubscriptionCommand from_now = create("s", "from Users", 10);
  from_now.start_change_vector = "A:10-x";
  auto created = c.apply(from_now);
  REQUIRE(created.result.status.ok());
  const std::uint64_t id = created.result.value.at("SubscriptionId").to_number<std::uint64_t>();
  CHECK(c.get("s").start_change_vector == "A:10-x");
  REQUIRE(c.apply(ack("s", id, 40)).result.status.ok());
  CHECK(c.get("s").change_vector == "A:40-x");
  CHECK(c.get("s").start_change_vector == "A:10-x");
  // An update that gives a new start point replaces it; one that does not keeps it.
  PutSubscriptionCommand keep = create("s", "from Users where Age > 3", std::nullopt);
  keep.update = true;
  REQUIRE(c.apply(keep).result.status.ok());
  CHECK(c.get("s").start_change_vector == "A:10-x");
  PutSubscriptionCommand restart = create("s", "from Users", 0);
  restart.update = true;
  REQUIRE(c.apply(restart).result.status.ok());
  CHECK(c.get("s").start_change_vector.empty());
  // It survives the record's JSON.
  SubscriptionRecord r = c.get("s");
  r.start_change_vector = "B:3-y";
  auto back = SubscriptionRecord::from_json(r.to_json());
  REQUIRE(back.ok());
  CHECK(back.value().start_change_vector == "B:3-y");
}

TEST_CASE("PutSubscription update and AcknowledgeSubscriptionBatch: positions move only when told; stale acknowledgements are refused") {
  OneDatabase c;
  auto created = c.apply(create("s", "from Users"));
  const std::uint64_t id = created.result.value.at("SubscriptionId").to_number<std::uint64_t>();
  REQUIRE(c.apply(ack("S", id, 40)).result.status.ok());
  CHECK(c.get("s").last_etag == 40);
  CHECK(c.get("s").change_vector == "A:40-x");
  CHECK(c.get("s").last_ack_time == "2026-12-07T00:00:00.0000000Z");

  // Update by id (no name): new query, position kept.
  PutSubscriptionCommand by_id;
  by_id.database = "db";
  by_id.update = true;
  by_id.id = id;
  by_id.query = "from Users where Age > 3";
  REQUIRE(c.apply(by_id).result.status.ok());
  CHECK(c.get("s").query == "from Users where Age > 3");
  CHECK(c.get("s").last_etag == 40);
  CHECK(c.get("s").id == id);

  // Update by name with a start point: the position moves; disabled.
  PutSubscriptionCommand restart;
  restart.database = "db";
  restart.update = true;
  restart.name = "s";
  restart.start_etag = 0;
  restart.disabled = true;
  REQUIRE(c.apply(restart).result.status.ok());
  CHECK(c.get("s").last_etag == 0);
  CHECK(c.get("s").disabled);

  PutSubscriptionCommand missing;
  missing.database = "db";
  missing.update = true;
  missing.name = "nope";
  CHECK(c.apply(missing).result.status.is_not_found());

  // Deleted and recreated under the same name: the old workers' acknowledgements are refused.
  DeleteSubscriptionCommand del;
  del.database = "db";
  del.name = "S";
  REQUIRE(c.apply(del).result.status.ok());
  CHECK(c.apply(ack("s", id, 50)).result.status.is_not_found());
  CHECK(c.apply(del).result.status.is_not_found());
  auto recreated = c.apply(create("s", "from Users"));
  REQUIRE(recreated.result.status.ok());
  CHECK(c.apply(ack("s", id, 50)).result.status.is_not_found());
  CHECK(c.get("s").last_etag == 0);
}

TEST_CASE("Subscriptions survive a restart, travel in a snapshot and go with their database") {
  OneDatabase c;
  auto created = c.apply(create("s", "from Users"));
  const std::uint64_t id = created.result.value.at("SubscriptionId").to_number<std::uint64_t>();
  REQUIRE(c.apply(ack("s", id, 12)).result.status.ok());
  c.open();
  CHECK(c.get("s").last_etag == 12);

  // A snapshot of the state carries the subscription to a new node.
  auto receiver = ClusterState::open(c.dir.sub("receiver"));
  REQUIRE(receiver.ok());
  copy_snapshot(c.sm->state(), *receiver.value());
  auto copied = receiver.value()->subscription("db", "S");
  REQUIRE(copied.ok());
  REQUIRE(copied.value());
  CHECK(copied.value()->last_etag == 12);
  CHECK(copied.value()->id == id);

  // Deleting the database's cluster data removes its subscriptions.
  ClusterState::Batch batch(*receiver.value());
  REQUIRE(batch.delete_database_data("db").ok());
  REQUIRE(receiver.value()->commit(batch, receiver.value()->applied() + 1).ok());
  auto gone = receiver.value()->subscriptions("db");
  REQUIRE(gone.ok());
  CHECK(gone.value().empty());
}

namespace {

std::optional<std::string> delivered_of(const ClusterState& state, std::uint64_t id, const std::string& doc) {
  auto cv = state.delivered_change_vector("db", id, doc);
  REQUIRE(cv.ok());
  return cv.value();
}

std::uint64_t delivered_count(const ClusterState& state, std::uint64_t id) {
  auto n = state.delivered_count("db", id);
  REQUIRE(n.ok());
  return n.value();
}

}  // namespace

TEST_CASE("AcknowledgeSubscriptionBatch: the delivered versions are kept per document, travel in a snapshot and go with the subscription") {
  OneDatabase c;
  auto created = c.apply(create("s", "from Users"));
  const std::uint64_t id = created.result.value.at("SubscriptionId").to_number<std::uint64_t>();
  auto other = c.apply(create("t", "from Users"));
  const std::uint64_t other_id = other.result.value.at("SubscriptionId").to_number<std::uint64_t>();

  // Without pairs the command is the version-6 one (a cluster with an older
  // node still acknowledges); with them it needs 11.
  AcknowledgeSubscriptionBatchCommand plain = ack("s", id, 5);
  CHECK(plain.version() == 6);
  CHECK_FALSE(plain.fields().contains("Delivered"));
  AcknowledgeSubscriptionBatchCommand first = ack("s", id, 10);
  first.delivered = {{"Users/1", "A:3-x"}, {"users/2", "A:4-x, B:1-y"}};
  CHECK(first.version() == 11);
  CHECK(first.version() == kAcknowledgeDeliveredVersion);
  CHECK(kAcknowledgeDeliveredVersion <= kCommandVersion);
  REQUIRE(c.apply(first).result.status.ok());
  CHECK(delivered_of(c.sm->state(), id, "users/1") == "A:3-x");
  CHECK(delivered_of(c.sm->state(), id, "USERS/2") == "A:4-x, B:1-y");  // ids are case-insensitive
  CHECK_FALSE(delivered_of(c.sm->state(), id, "users/3"));
  CHECK_FALSE(delivered_of(c.sm->state(), other_id, "users/1"));  // per subscription

  // A later delivery of the same document replaces its version; an
  // acknowledgement without pairs keeps what was recorded.
  AcknowledgeSubscriptionBatchCommand second = ack("s", id, 20);
  second.delivered = {{"users/1", "A:9-x"}, {"users/3", "A:10-x"}};
  REQUIRE(c.apply(second).result.status.ok());
  REQUIRE(c.apply(ack("s", id, 21)).result.status.ok());
  CHECK(delivered_of(c.sm->state(), id, "users/1") == "A:9-x");
  CHECK(delivered_count(c.sm->state(), id) == 3);

  // Refused acknowledgements record nothing.
  AcknowledgeSubscriptionBatchCommand stale = ack("s", id + 1000, 30);
  stale.delivered = {{"users/4", "A:11-x"}};
  CHECK(c.apply(stale).result.status.is_not_found());
  CHECK_FALSE(delivered_of(c.sm->state(), id, "users/4"));

  // They survive a restart and travel in a snapshot.
  c.open();
  CHECK(delivered_of(c.sm->state(), id, "users/3") == "A:10-x");
  auto receiver = ClusterState::open(c.dir.sub("receiver"));
  REQUIRE(receiver.ok());
  copy_snapshot(c.sm->state(), *receiver.value());
  CHECK(delivered_of(*receiver.value(), id, "users/1") == "A:9-x");
  CHECK(delivered_count(*receiver.value(), id) == 3);

  // An update that keeps the start point keeps them; one that moves it forgets them.
  PutSubscriptionCommand keep = create("s", "from Users where Age > 3", std::nullopt);
  keep.update = true;
  REQUIRE(c.apply(keep).result.status.ok());
  CHECK(delivered_count(c.sm->state(), id) == 3);
  PutSubscriptionCommand restart = create("s", "from Users", 0);
  restart.update = true;
  REQUIRE(c.apply(restart).result.status.ok());
  CHECK(delivered_count(c.sm->state(), id) == 0);

  // Deleting the subscription removes them, and only its own.
  REQUIRE(c.apply(second).result.status.ok());
  AcknowledgeSubscriptionBatchCommand theirs = ack("t", other_id, 3);
  theirs.delivered = {{"users/1", "A:1-x"}};
  REQUIRE(c.apply(theirs).result.status.ok());
  DeleteSubscriptionCommand del;
  del.database = "db";
  del.name = "s";
  REQUIRE(c.apply(del).result.status.ok());
  CHECK(delivered_count(c.sm->state(), id) == 0);
  CHECK(delivered_of(c.sm->state(), other_id, "users/1") == "A:1-x");

  // Removing the database's cluster data removes them too.
  ClusterState::Batch batch(*receiver.value());
  REQUIRE(batch.delete_database_data("db").ok());
  REQUIRE(receiver.value()->commit(batch, receiver.value()->applied() + 1).ok());
  CHECK(delivered_count(*receiver.value(), id) == 0);
}

TEST_CASE("AcknowledgeSubscriptionBatch: a malformed Delivered is refused at decoding") {
  AcknowledgeSubscriptionBatchCommand good = ack("s", 3, 10);
  good.delivered = {{"users/1", "A:3-x"}};
  json::object o = good.fields();
  REQUIRE(AcknowledgeSubscriptionBatchCommand::decode(o).ok());
  for (const char* bad : {R"("users/1")", R"([["users/1"]])", R"([["users/1", 3]])", R"([["", "A:1-x"]])",
                          R"([["users/1", "A:1-x", "more"]])", R"([{"Id": "users/1"}])"}) {
    CAPTURE(bad);
    o["Delivered"] = json::parse(bad);
    CHECK(AcknowledgeSubscriptionBatchCommand::decode(o).status().is_invalid_argument());
  }
}
