#pragma once
// A real ClusterStateMachine in a temporary directory, bootstrapped as a
// one-node cluster holding database "db", that applies every command through
// its log encoding (as a follower would): the fixture of the command tests
// that need a database record. open() reopens it (a restart).

#include <memory>
#include <string>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "rachis/cluster/cluster_state_machine.h"
#include "rachis/cluster/commands/database_commands.h"
#include "rachis/cluster/commands/node_commands.h"
#include "tests/support/temp_dir.h"

namespace corvus::rachis::cluster::test {

struct OneDatabaseState {
  testing::TempDir dir;
  std::unique_ptr<ClusterStateMachine> sm;
  core::Index next = 1;

  explicit OneDatabaseState(const std::string& cluster_id) {
    open();
    BootstrapCommand boot;
    boot.cluster_id = cluster_id;
    boot.self = NodeInfo{"A", 1, "http://a", "127.0.0.1:1", NodeRole::Member, kCommandVersion};
    REQUIRE(apply(boot).result.status.ok());
    AddDatabaseCommand add;
    add.record.name = "db";
    add.record.topology.replication_factor = 1;
    add.record.cluster_transaction_id = "txid";
    REQUIRE(apply(add).result.status.ok());
  }
  void open() {
    sm.reset();
    auto opened = ClusterStateMachine::open(dir.sub("state"));
    REQUIRE(opened.ok());
    sm = std::move(opened).value();
  }
  ClusterStateMachine::Outcome apply(const ClusterCommand& c) {
    // Every command goes through its encoding, as it does in the log.
    DecodedCommand decoded = decode_command(encode_command(c));
    REQUIRE_MESSAGE(decoded.command, decoded.status.to_string());
    CHECK(boost::json::parse(encode_command(*decoded.command)) == boost::json::parse(encode_command(c)));
    return sm->apply(core::Entry{1, next++, core::EntryType::Normal, encode_command(c)});
  }
  std::shared_ptr<const DatabaseRecord> record() { return sm->state().record("db"); }
};

}  // namespace corvus::rachis::cluster::test
