// The external replication commands (PutExternalReplication,
// DeleteExternalReplication, ToggleExternalReplication,
// RemoveRavenConnectionString) applied by a real ClusterStateMachine, the
// definition's parsing (TimeSpan delays included) and the choice of the
// member that runs a task.
#include "rachis/cluster/commands/external_replication_commands.h"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "rachis/cluster/commands/pull_replication_commands.h"
#include "tests/unit/rachis/one_database_state.h"

using namespace corvus;
using namespace corvus::rachis;
using namespace corvus::rachis::cluster;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct OneDatabase : test::OneDatabaseState {
  OneDatabase() : OneDatabaseState("external") {}
  void put_connection_string(const std::string& name) {
    PutRavenConnectionStringCommand c;
    c.database = "db";
    c.connection_string.name = name;
    c.connection_string.database = "copy";
    c.connection_string.urls = {"http://127.0.0.1:1"};
    REQUIRE(apply(c).result.status.ok());
  }
};

PutExternalReplicationCommand put_task(const std::string& name, const std::string& cs, std::uint64_t task_id = 0) {
  PutExternalReplicationCommand c;
  c.database = "db";
  c.definition.name = name;
  c.definition.connection_string_name = cs;
  c.definition.task_id = task_id;
  return c;
}

}  // namespace

TEST_CASE("TimeSpan: .NET's spellings, nothing negative or malformed") {
  CHECK(parse_time_span("00:00:00") == 0ms);
  CHECK(parse_time_span("00:00:02") == 2s);
  CHECK(parse_time_span("01:02:03") == 1h + 2min + 3s);
  CHECK(parse_time_span("1.00:00:01") == 24h + 1s);
  CHECK(parse_time_span("00:00:01.5") == 1500ms);
  CHECK(parse_time_span("00:00:00.1234567") == 123ms);
  CHECK(parse_time_span("3") == 72h);
  CHECK(parse_time_span("00:05") == 5min);
  for (const char* bad : {"", "-00:00:01", "abc", "00:60:00", "24:00:00", "00:00:00.12345678", "1:2:x", "1.2.3:00"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_time_span(bad).has_value());
  }
}

TEST_CASE("ExternalReplicationDefinition: parsing, defaults, round trip") {
  auto d = ExternalReplicationDefinition::from_json(json::parse(
      R"({"Name":"push","ConnectionStringName":"cs","MentorNode":"B","DelayReplicationFor":"00:00:30","Disabled":true,"TaskId":7})"));
  REQUIRE(d.ok());
  CHECK(d->delay == 30s);
  CHECK(d->task_id == 7);
  CHECK(d->disabled);
  auto again = ExternalReplicationDefinition::from_json(d->to_json());
  REQUIRE(again.ok());
  CHECK(json::value(again->to_json()) == json::value(d->to_json()));
  CHECK(again->delay == 30s);

  auto unnamed = ExternalReplicationDefinition::from_json(json::parse(R"({"ConnectionStringName":"cs"})"));
  REQUIRE(unnamed.ok());
  CHECK(unnamed->name == "External replication to cs");
  CHECK(unnamed->delay == 0ms);

  auto message = [](const char* body) {
    return ExternalReplicationDefinition::from_json(json::parse(body)).status().message();
  };
  CHECK(message(R"({"Name":"x"})").find("ConnectionStringName") != std::string::npos);
  CHECK(message(R"({"ConnectionStringName":"cs","DelayReplicationFor":"soon"})").find("DelayReplicationFor") !=
        std::string::npos);
  CHECK(message(R"({"ConnectionStringName":"cs","Disabled":"yes"})").find("Disabled") != std::string::npos);
  CHECK(message(R"({"ConnectionStringName":"cs","TaskId":-1})").find("TaskId") != std::string::npos);
  CHECK_FALSE(ExternalReplicationDefinition::from_json(json::parse("[1]")).ok());
}

TEST_CASE("the member that runs a task: the mentor while a member, else a choice that moves only when it leaves") {
  ExternalReplicationDefinition d;
  d.task_id = 42;
  CHECK(external_replication_responsible_node({}, d).empty());
  const std::vector<std::string> all{"A", "B", "C"};
  const std::string chosen = external_replication_responsible_node(all, d);
  REQUIRE_FALSE(chosen.empty());
  // The same on every node whatever the order of the members.
  CHECK(external_replication_responsible_node({"C", "A", "B"}, d) == chosen);
  // Another member leaving does not move it; the chosen one leaving does.
  std::vector<std::string> others;
  for (const auto& t : all) {
    if (t != chosen) others.push_back(t);
  }
  std::vector<std::string> chosen_and_one{chosen, others.front()};
  CHECK(external_replication_responsible_node(chosen_and_one, d) == chosen);
  const std::string next = external_replication_responsible_node(others, d);
  CHECK(next != chosen);
  CHECK_FALSE(next.empty());
  d.mentor_node = others.back();
  CHECK(external_replication_responsible_node(all, d) == others.back());
  d.mentor_node = "Z";  // not a member: the usual choice
  CHECK(external_replication_responsible_node(all, d) == chosen);
  d.pin_to_mentor_node = true;  // pinned to a mentor that is not a member: nobody
  CHECK(external_replication_responsible_node(all, d).empty());
  d.mentor_node = others.front();
  CHECK(external_replication_responsible_node(all, d) == others.front());
}

TEST_CASE("PutExternalReplication: needs its connection string, task id from the index, unique names, toggle, delete") {
  OneDatabase db;
  auto missing = db.apply(put_task("push", "cs"));
  CHECK(missing.result.status.code() == StatusCode::InvalidArgument);
  CHECK(missing.result.status.message().find("connection string named 'cs'") != std::string::npos);
  CHECK(db.record()->external_replications.empty());

  db.put_connection_string("cs");
  auto created = db.apply(put_task("push", "cs"));
  REQUIRE(created.result.status.ok());
  const std::uint64_t task_id = created.result.value.as_object().at("TaskId").as_uint64();
  CHECK(task_id == db.next - 1);
  CHECK(created.applied.databases == std::vector<std::string>{"db"});
  CHECK(db.apply(put_task("PUSH", "cs")).result.status.code() == StatusCode::InvalidArgument);
  CHECK(db.apply(put_task("other", "cs", 999)).result.status.code() == StatusCode::NotFound);
  CHECK(db.record()->external_replications.size() == 1);

  ToggleExternalReplicationCommand toggle;
  toggle.database = "db";
  toggle.task_id = task_id;
  toggle.disabled = true;
  REQUIRE(db.apply(toggle).result.status.ok());
  CHECK(db.record()->external_replications[0].disabled);
  toggle.task_id = 999;
  CHECK(db.apply(toggle).result.status.code() == StatusCode::NotFound);

  // Survives a restart, in the record's RavenDB shape.
  db.open();
  auto r = db.record();
  REQUIRE(r->external_replications.size() == 1);
  CHECK(r->external_replications[0].task_id == task_id);
  CHECK(r->external_replications[0].disabled);
  CHECK(r->to_json().at("ExternalReplications").as_array().size() == 1);
  CHECK_FALSE(r->settings.contains("ExternalReplications"));

  // The connection string cannot go while the task uses it.
  RemoveRavenConnectionStringCommand remove;
  remove.database = "db";
  remove.name = "cs";
  auto refused = db.apply(remove);
  CHECK(refused.result.status.code() == StatusCode::InvalidArgument);
  CHECK(refused.result.status.message().find("external replication 'push'") != std::string::npos);
  CHECK(db.record()->raven_connection_strings.count("cs") == 1);

  DeleteExternalReplicationCommand del;
  del.database = "db";
  del.task_id = task_id;
  REQUIRE(db.apply(del).result.status.ok());
  CHECK(db.record()->external_replications.empty());
  CHECK(db.apply(del).result.status.code() == StatusCode::NotFound);
  REQUIRE(db.apply(remove).result.status.ok());
  CHECK(db.record()->raven_connection_strings.empty());
  CHECK(db.apply(remove).result.status.code() == StatusCode::NotFound);
}

TEST_CASE("RemoveRavenConnectionString: refused while a pull replication sink uses it") {
  OneDatabase db;
  db.put_connection_string("cs");
  PutPullReplicationSinkCommand sink;
  sink.database = "db";
  sink.definition.name = "edge";
  sink.definition.hub_name = "hub";
  sink.definition.connection_string_name = "cs";
  REQUIRE(db.apply(sink).result.status.ok());
  RemoveRavenConnectionStringCommand remove;
  remove.database = "db";
  remove.name = "cs";
  auto refused = db.apply(remove);
  CHECK(refused.result.status.code() == StatusCode::InvalidArgument);
  CHECK(refused.result.status.message().find("pull replication sink 'edge'") != std::string::npos);
}
