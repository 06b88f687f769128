// The pull replication hub commands (PutPullReplicationHub,
// DeletePullReplicationHub, PutReplicationHubAccess,
// DeleteReplicationHubAccess) applied by a real ClusterStateMachine, and the
// definitions' parsing: a hub's task id is its creating index, names are
// unique case-insensitively, an access needs its hub (and paths when the hub
// filters), deleting a hub takes its accesses, and all of it survives a
// restart in the record.
#include "rachis/cluster/commands/pull_replication_commands.h"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/unit/rachis/one_database_state.h"

using namespace corvus;
using namespace corvus::rachis;
using namespace corvus::rachis::cluster;
using namespace corvus::rachis::core;
namespace json = boost::json;

namespace {

struct OneDatabase : test::OneDatabaseState {
  OneDatabase() : OneDatabaseState("hubs") {}
};

PutPullReplicationHubCommand put_hub(const std::string& name, std::uint64_t task_id = 0, bool filtering = false,
                                     std::uint8_t mode = kHubToSink) {
  PutPullReplicationHubCommand c;
  c.database = "db";
  c.definition.name = name;
  c.definition.task_id = task_id;
  c.definition.with_filtering = filtering;
  c.definition.mode = mode;
  return c;
}

PutReplicationHubAccessCommand put_access(const std::string& hub, const std::string& thumbprint,
                                          std::vector<std::string> h2s = {}, std::vector<std::string> s2h = {}) {
  PutReplicationHubAccessCommand c;
  c.database = "db";
  c.access.hub_name = hub;
  c.access.name = "edge-" + thumbprint;
  c.access.thumbprint = thumbprint;
  c.access.certificate_base64 = "MIIB";
  c.access.subject = "CN=edge";
  c.access.not_before_unix = 1;
  c.access.not_after_unix = 2;
  c.access.allowed_hub_to_sink_paths = std::move(h2s);
  c.access.allowed_sink_to_hub_paths = std::move(s2h);
  return c;
}

}  // namespace

TEST_CASE("pull replication mode: RavenDB's spellings and nothing else") {
  CHECK(parse_pull_replication_mode("HubToSink") == kHubToSink);
  CHECK(parse_pull_replication_mode("sinktohub") == kSinkToHub);
  CHECK(parse_pull_replication_mode("HubToSink, SinkToHub") == (kHubToSink | kSinkToHub));
  CHECK(parse_pull_replication_mode("HubToSink,SinkToHub") == (kHubToSink | kSinkToHub));
  CHECK(parse_pull_replication_mode("None") == 0);
  CHECK_FALSE(parse_pull_replication_mode("Both"));
  CHECK_FALSE(parse_pull_replication_mode(""));
  CHECK_FALSE(parse_pull_replication_mode("HubToSink,"));
  CHECK(pull_replication_mode_name(kHubToSink | kSinkToHub) == "HubToSink, SinkToHub");
}

TEST_CASE("allowed paths: exact ids and prefixes ending in '*', case-insensitive") {
  const std::vector<std::string> paths{"users/*", "orders/1"};
  CHECK(path_allowed(paths, "Users/7"));
  CHECK(path_allowed(paths, "orders/1"));
  CHECK_FALSE(path_allowed(paths, "orders/12"));
  CHECK_FALSE(path_allowed(paths, "user"));
  CHECK_FALSE(path_allowed({}, "users/1"));
  CHECK(validate_allowed_paths(paths, "P").ok());
  CHECK_FALSE(validate_allowed_paths({"us*ers/"}, "P").ok());
  CHECK_FALSE(validate_allowed_paths({" "}, "P").ok());
}

TEST_CASE("hub definition JSON: what the official clients send, and refusals that name the field") {
  auto d = HubDefinition::from_json(json::parse(
      R"({"Name":"edges","Mode":"HubToSink,SinkToHub","WithFiltering":true,"TaskId":0,"Disabled":false,
          "DelayReplicationFor":null,"MentorNode":null,"PreventDeletionsMode":"None","Certificates":{}})"));
  REQUIRE(d.ok());
  CHECK(d->name == "edges");
  CHECK(d->mode == (kHubToSink | kSinkToHub));
  CHECK(d->with_filtering);
  auto again = HubDefinition::from_json(d->to_json());
  REQUIRE(again.ok());
  CHECK(json::value(again->to_json()) == json::value(d->to_json()));

  CHECK(HubDefinition::from_json(json::parse(R"({"Name":"x"})"))->mode == kHubToSink);
  CHECK(HubDefinition::from_json(json::parse(R"({"Mode":"HubToSink"})")).status().message().find("Name") !=
        std::string::npos);
  CHECK(HubDefinition::from_json(json::parse(R"({"Name":"x","Mode":"Both"})")).status().message().find("Mode") !=
        std::string::npos);
  CHECK_FALSE(HubDefinition::from_json(json::parse(R"({"Name":"x","Mode":"None"})")).ok());
  CHECK_FALSE(HubDefinition::from_json(json::parse(R"({"Name":"x","WithFiltering":"yes"})")).ok());
  CHECK_FALSE(HubDefinition::from_json(json::parse(R"({"Name":"x","Certificates":{"AB":"MII"}})")).ok());
  CHECK_FALSE(HubDefinition::from_json(json::parse(R"([1])")).ok());
}

TEST_CASE("PutPullReplicationHub: task id from the index, unique names, updates by task id, survives a restart") {
  OneDatabase db;
  auto created = db.apply(put_hub("edges"));
  REQUIRE(created.result.status.ok());
  const std::uint64_t task_id = created.result.value.as_object().at("TaskId").as_uint64();
  CHECK(task_id == db.next - 1);
  CHECK(created.applied.databases == std::vector<std::string>{"db"});

  // Same name, any case: refused, nothing changes.
  auto dup = db.apply(put_hub("EDGES"));
  CHECK(dup.result.status.code() == StatusCode::InvalidArgument);
  CHECK(db.record()->hub_pull_replications.size() == 1);

  // An update by task id changes the mode; an unknown task id is NotFound.
  auto updated = db.apply(put_hub("edges", task_id, false, kHubToSink | kSinkToHub));
  REQUIRE(updated.result.status.ok());
  CHECK(db.record()->hub("Edges")->mode == (kHubToSink | kSinkToHub));
  CHECK(db.apply(put_hub("other", 999)).result.status.code() == StatusCode::NotFound);

  auto missing_db = put_hub("x");
  missing_db.database = "nope";
  CHECK(db.apply(missing_db).result.status.code() == StatusCode::NotFound);

  db.open();
  const auto r = db.record();
  REQUIRE(r->hub_pull_replications.size() == 1);
  CHECK(r->hub_pull_replications[0].task_id == task_id);
  CHECK(r->hub_pull_replications[0].mode == (kHubToSink | kSinkToHub));
  CHECK(r->to_json().at("HubPullReplications").as_array().size() == 1);
  CHECK_FALSE(r->settings.contains("HubPullReplications"));
}

TEST_CASE("PutReplicationHubAccess: needs its hub, paths when the hub filters; replaces by thumbprint; unregister") {
  OneDatabase db;
  REQUIRE(db.apply(put_hub("edges")).result.status.ok());
  REQUIRE(db.apply(put_hub("filtered", 0, true)).result.status.ok());

  CHECK(db.apply(put_access("nope", "AA")).result.status.code() == StatusCode::NotFound);
  CHECK(db.apply(put_access("filtered", "AA")).result.status.code() == StatusCode::InvalidArgument);
  CHECK(db.record()->hub_accesses.empty());

  REQUIRE(db.apply(put_access("edges", "AA")).result.status.ok());
  REQUIRE(db.apply(put_access("filtered", "AA", {"users/*"})).result.status.ok());
  REQUIRE(db.apply(put_access("Edges", "AA", {"orders/*"})).result.status.ok());  // replaces
  auto r = db.record();
  REQUIRE(r->hub_accesses.size() == 2);
  CHECK(r->hub_accesses[0].hub_name == "edges");
  CHECK(r->hub_accesses[0].allowed_hub_to_sink_paths == std::vector<std::string>{"orders/*"});

  DeleteReplicationHubAccessCommand unregister;
  unregister.database = "db";
  unregister.hub_name = "edges";
  unregister.thumbprint = "aa";
  REQUIRE(db.apply(unregister).result.status.ok());
  REQUIRE(db.apply(unregister).result.status.ok());  // nothing left: still fine
  CHECK(db.record()->hub_accesses.size() == 1);

  db.open();
  REQUIRE(db.record()->hub_accesses.size() == 1);
  CHECK(db.record()->hub_accesses[0].hub_name == "filtered");
  CHECK(db.record()->hub_accesses[0].subject == "CN=edge");
}

TEST_CASE("DeletePullReplicationHub: removes the hub and its accesses; unknown task id is NotFound") {
  OneDatabase db;
  auto created = db.apply(put_hub("edges"));
  REQUIRE(created.result.status.ok());
  REQUIRE(db.apply(put_hub("kept")).result.status.ok());
  REQUIRE(db.apply(put_access("edges", "AA")).result.status.ok());
  REQUIRE(db.apply(put_access("kept", "BB")).result.status.ok());

  DeletePullReplicationHubCommand del;
  del.database = "db";
  del.task_id = 12345;
  CHECK(db.apply(del).result.status.code() == StatusCode::NotFound);
  del.task_id = created.result.value.as_object().at("TaskId").as_uint64();
  REQUIRE(db.apply(del).result.status.ok());
  const auto r = db.record();
  REQUIRE(r->hub_pull_replications.size() == 1);
  CHECK(r->hub_pull_replications[0].name == "kept");
  REQUIRE(r->hub_accesses.size() == 1);
  CHECK(r->hub_accesses[0].thumbprint == "BB");
}

TEST_CASE("sink side: connection strings by name; a sink needs its connection string; task ids; delete") {
  OneDatabase db;
  PutPullReplicationSinkCommand sink;
  sink.database = "db";
  auto parsed = SinkDefinition::from_json(json::parse(
      R"({"HubName":"edges","ConnectionStringName":"to-hub","Mode":"HubToSink,SinkToHub",
          "CertificateWithPrivateKey":"MIIK","AllowedSinkToHubPaths":["edge/*"]})"));
  REQUIRE(parsed.ok());
  sink.definition = parsed.value();
  CHECK(db.apply(sink).result.status.code() == StatusCode::InvalidArgument);  // no connection string yet

  auto cs = RavenConnectionString::from_json(json::parse(
      R"({"Name":"to-hub","Database":"hub","TopologyDiscoveryUrls":["https://127.0.0.1:8080/"],"Type":"Raven"})"));
  REQUIRE(cs.ok());
  CHECK(cs->urls == std::vector<std::string>{"https://127.0.0.1:8080"});
  CHECK_FALSE(RavenConnectionString::from_json(json::parse(R"({"Name":"x","Database":"d","TopologyDiscoveryUrls":["ftp://a:1"]})")).ok());
  CHECK_FALSE(RavenConnectionString::from_json(json::parse(R"({"Name":"x","Database":"d","TopologyDiscoveryUrls":[]})")).ok());
  CHECK_FALSE(RavenConnectionString::from_json(json::parse(R"({"Name":"x","Database":"d","Type":"Sql","TopologyDiscoveryUrls":["http://a:1"]})")).ok());
  PutRavenConnectionStringCommand put_cs;
  put_cs.database = "db";
  put_cs.connection_string = cs.value();
  REQUIRE(db.apply(put_cs).result.status.ok());

  auto created = db.apply(sink);
  REQUIRE(created.result.status.ok());
  const auto task_id = created.result.value.as_object().at("TaskId").as_uint64();
  CHECK(db.apply(sink).result.status.code() == StatusCode::InvalidArgument);  // same (default) name
  db.open();
  auto r = db.record();
  REQUIRE(r->sink_pull_replications.size() == 1);
  CHECK(r->sink_pull_replications[0].task_id == task_id);
  CHECK(r->sink_pull_replications[0].mode == (kHubToSink | kSinkToHub));
  CHECK(r->sink_pull_replications[0].certificate_with_private_key == "MIIK");
  CHECK(r->raven_connection_strings.at("to-hub").database == "hub");
  CHECK_FALSE(r->sink_pull_replications[0].to_json(false).contains("CertificateWithPrivateKey"));

  DeletePullReplicationSinkCommand del;
  del.database = "db";
  del.task_id = task_id + 1000;
  CHECK(db.apply(del).result.status.code() == StatusCode::NotFound);
  del.task_id = task_id;
  REQUIRE(db.apply(del).result.status.ok());
  CHECK(db.record()->sink_pull_replications.empty());
}

TEST_CASE("RegisterHubSink: the record lists every sink that ever pulled, once each; survives a restart") {
  OneDatabase db;
  RegisterHubSinkCommand c;
  c.database = "db";
  c.sink_database_id = "edge-db-id";
  REQUIRE(db.apply(c).result.status.ok());
  REQUIRE(db.apply(c).result.status.ok());  // idempotent
  c.sink_database_id = "other-id";
  REQUIRE(db.apply(c).result.status.ok());
  CHECK(db.record()->hub_sink_database_ids == std::set<std::string>{"edge-db-id", "other-id"});
  c.database = "nope";
  CHECK(db.apply(c).result.status.code() == StatusCode::NotFound);
  db.open();
  const auto r = db.record();
  CHECK(r->hub_sink_database_ids.size() == 2);
  CHECK(r->to_json().at("HubSinkDatabaseIds").as_array().size() == 2);
  CHECK_FALSE(r->settings.contains("HubSinkDatabaseIds"));
}
