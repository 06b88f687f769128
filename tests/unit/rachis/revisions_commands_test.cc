#include "rachis/cluster/commands/revisions_commands.h"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "rachis/cluster/cluster_state_machine.h"
#include "rachis/cluster/commands/database_commands.h"
#include "rachis/cluster/commands/node_commands.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::rachis;
using namespace corvus::rachis::cluster;
using namespace corvus::rachis::core;
namespace json = boost::json;

namespace {

// A one-node state machine with database "db" (index 2).
struct OneDatabase {
  testing::TempDir dir;
  std::unique_ptr<ClusterStateMachine> sm;
  Index next = 1;

  OneDatabase() {
    auto opened = ClusterStateMachine::open(dir.sub("state"));
    REQUIRE(opened.ok());
    sm = std::move(opened).value();
    BootstrapCommand boot;
    boot.cluster_id = "revisions";
    boot.self = NodeInfo{"A", 1, "http://a", "127.0.0.1:1", NodeRole::Member, kCommandVersion};
    REQUIRE(apply(boot).result.status.ok());
    AddDatabaseCommand add;
    add.record.name = "db";
    add.record.topology.replication_factor = 1;
    add.record.cluster_transaction_id = "txid";
    REQUIRE(apply(add).result.status.ok());
  }
  ClusterStateMachine::Outcome apply(const ClusterCommand& c) {
    return sm->apply(Entry{1, next++, EntryType::Normal, encode_command(c)});
  }
};

EditRevisionsConfigurationCommand edit(const std::string& name, const char* configuration) {
  EditRevisionsConfigurationCommand c;
  c.name = name;
  auto parsed = storage::RevisionsConfiguration::from_json(json::parse(configuration));
  REQUIRE(parsed.ok());
  c.configuration = std::make_shared<const storage::RevisionsConfiguration>(std::move(parsed).value());
  return c;
}

}  // namespace

TEST_CASE("EditRevisionsConfiguration: sets the record's Revisions, shown as RavenDB does, and survives a restart") {
  OneDatabase c;
  CHECK(c.sm->state().record("db")->revisions == nullptr);
  CHECK_FALSE(c.sm->state().record("db")->to_json().contains("Revisions"));

  auto cmd = edit("DB", R"({"Default":{"MinimumRevisionsToKeep":5},"Collections":{"Users":{"PurgeOnDelete":true}}})");
  CHECK(cmd.version() == 3);
  CHECK(cmd.version() <= kCommandVersion);
  // Encoded and decoded unchanged.
  DecodedCommand decoded = decode_command(encode_command(cmd));
  REQUIRE_MESSAGE(decoded.command, decoded.status.to_string());
  CHECK(json::parse(encode_command(*decoded.command)) == json::parse(encode_command(cmd)));

  auto out = c.apply(cmd);
  REQUIRE(out.result.status.ok());
  CHECK(out.applied.databases == std::vector<std::string>{"db"});
  auto record = c.sm->state().record("db");
  REQUIRE(record->revisions);
  CHECK(*record->revisions->default_config->minimum_revisions_to_keep == 5);
  REQUIRE(record->revisions->for_collection("users"));
  CHECK(record->revisions->for_collection("users")->purge_on_delete);
  const json::object shown = record->to_json();
  CHECK(shown.at("Revisions").at("Default").at("MinimumRevisionsToKeep") == 5);
  CHECK(shown.at("Revisions").at("Collections").as_object().contains("Users"));
  CHECK_FALSE(record->settings.contains("Revisions"));

  // A later configuration replaces it; the rest of the record stays.
  REQUIRE(c.apply(edit("db", R"({"Default":{"Disabled":true}})")).result.status.ok());
  record = c.sm->state().record("db");
  CHECK(record->revisions->for_collection("Users") == nullptr);
  CHECK(record->topology.members == std::vector<std::string>{"A"});
  CHECK(record->cluster_transaction_id == "txid");

  // Restart: the record (and its Revisions) is read back from the state.
  const Index applied = c.sm->applied();
  c.sm.reset();
  auto reopened = ClusterStateMachine::open(c.dir.sub("state"));
  REQUIRE(reopened.ok());
  CHECK((*reopened)->applied() == applied);
  auto again = (*reopened)->state().record("db");
  REQUIRE(again->revisions);
  CHECK(again->revisions->default_config->disabled);
}

TEST_CASE("EditRevisionsConfiguration: an unknown database is refused and nothing changes") {
  OneDatabase c;
  auto out = c.apply(edit("nope", R"({"Default":{}})"));
  CHECK(out.result.status.is_not_found());
  CHECK_FALSE(c.sm->state().record("nope"));
  CHECK(c.sm->state().record("db")->revisions == nullptr);
}

TEST_CASE("EditRevisionsConfiguration: a malformed entry stops the apply loop instead of being skipped") {
  OneDatabase c;
  const Index before = c.sm->applied();
  auto out = c.sm->apply(Entry{1, c.next, EntryType::Normal,
                               R"({"Type":"EditRevisionsConfiguration","Version":3,"DatabaseName":"db",)"
                               R"("Configuration":{"Default":{"MinimumRevisionsToKeep":-1}}})"});
  CHECK(out.fatal);
  CHECK(c.sm->applied() == before);
  CHECK(c.sm->state().record("db")->revisions == nullptr);
}

TEST_CASE("DatabaseRecord: Revisions given at creation is typed; an unreadable one stays verbatim, not in force") {
  DatabaseRecord r;
  REQUIRE(DatabaseRecord::from_json(
      json::parse(R"({"DatabaseName":"x","Revisions":{"Default":{"MinimumRevisionAgeToKeep":"7.00:00:00"}}})").as_object(),
      &r));
  REQUIRE(r.revisions);
  CHECK(r.to_json().at("Revisions").at("Default").at("MinimumRevisionAgeToKeep") == "7.00:00:00");

  DatabaseRecord odd;
  REQUIRE(DatabaseRecord::from_json(json::parse(R"({"DatabaseName":"y","Revisions":{"Default":7}})").as_object(), &odd));
  CHECK(odd.revisions == nullptr);
  CHECK(odd.to_json().at("Revisions").at("Default") == 7);
}
