// PutCertificate / DeleteCertificate: the cluster's client certificates, kept
// by thumbprint in the state's certificates family (and in memory), found by
// thumbprint in any case or by public key hash, surviving a restart and a
// snapshot transfer; malformed entries stop the apply loop.

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "rachis/cluster/cluster_state_machine.h"
#include "rachis/cluster/commands/certificate_commands.h"
#include "rachis/cluster/commands/node_commands.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/rachis/state_snapshot_copy.h"

using namespace corvus;
using namespace corvus::rachis;
using namespace corvus::rachis::cluster;
using namespace corvus::rachis::core;
using corvus::rachis::cluster::test::copy_snapshot;
namespace json = boost::json;

namespace {

std::unique_ptr<ClusterStateMachine> open_sm(const std::string& path) {
  auto sm = ClusterStateMachine::open(path);
  REQUIRE(sm.ok());
  return std::move(sm).value();
}

struct OneNode {
  testing::TempDir dir;
  std::unique_ptr<ClusterStateMachine> sm = open_sm(dir.sub("state"));
  Index next = 1;

  OneNode() {
    BootstrapCommand boot;
    boot.cluster_id = "topo";
    boot.self = NodeInfo{"A", 1, "http://a", "127.0.0.1:1", NodeRole::Member, kCommandVersion};
    REQUIRE(apply(boot).result.status.ok());
  }
  ClusterStateMachine::Outcome apply(const ClusterCommand& c) {
    return sm->apply(Entry{1, next++, EntryType::Normal, encode_command(c)});
  }
};

CertificateRecord record(const std::string& thumbprint, SecurityClearance clearance,
                         std::map<std::string, DatabaseAccess> permissions = {}) {
  CertificateRecord r;
  r.thumbprint = thumbprint;
  r.name = "cert-" + thumbprint;
  r.clearance = clearance;
  r.permissions = std::move(permissions);
  r.certificate = "MIIBbase64";
  r.public_key_hash = "hash-" + thumbprint;
  r.subject = "CN=" + thumbprint;
  r.not_before_unix = 1'700'000'000;
  r.not_after_unix = 1'900'000'000;
  return r;
}

PutCertificateCommand put(CertificateRecord r) {
  PutCertificateCommand c;
  c.record = std::move(r);
  return c;
}

DeleteCertificateCommand del(const std::string& thumbprint) {
  DeleteCertificateCommand c;
  c.thumbprint = thumbprint;
  return c;
}

}  // namespace

TEST_CASE("PutCertificate: stored by thumbprint, found in any case and by key hash, replaced by an edit, survives a restart") {
  OneNode n;
  auto cmd = put(record("AB12", SecurityClearance::ValidUser, {{"Orders", DatabaseAccess::ReadWrite}}));
  CHECK(cmd.version() == 5);
  CHECK(cmd.version() <= kCommandVersion);
  // The command survives encode -> decode unchanged.
  DecodedCommand d = decode_command(encode_command(cmd));
  REQUIRE_MESSAGE(d.command, d.status.to_string());
  CHECK(json::parse(encode_command(*d.command)) == json::parse(encode_command(cmd)));

  auto out = n.apply(cmd);
  REQUIRE(out.result.status.ok());
  CHECK(out.result.value.at("Thumbprint") == "AB12");
  auto stored = n.sm->state().certificate("ab12");
  REQUIRE(stored);
  CHECK(stored->name == "cert-AB12");
  CHECK(stored->access_to("orders") == DatabaseAccess::ReadWrite);
  CHECK_FALSE(stored->access_to("Other"));
  CHECK(n.sm->state().certificate_by_key_hash("hash-AB12") == stored);
  CHECK_FALSE(n.sm->state().certificate_by_key_hash("hash-nope"));
  CHECK_FALSE(n.sm->state().certificate_by_key_hash(""));

  // An edit is a put with the same thumbprint.
  REQUIRE(n.apply(put(record("AB12", SecurityClearance::Operator))).result.status.ok());
  REQUIRE(n.apply(put(record("CD34", SecurityClearance::ClusterAdmin))).result.status.ok());
  CHECK(n.sm->state().certificates().size() == 2);
  CHECK(n.sm->state().certificate("AB12")->clearance == SecurityClearance::Operator);
  CHECK(n.sm->state().certificate("AB12")->permissions.empty());

  const Index applied = n.sm->applied();
  n.sm.reset();
  n.sm = open_sm(n.dir.sub("state"));
  CHECK(n.sm->applied() == applied);
  REQUIRE(n.sm->state().certificates().size() == 2);
  auto again = n.sm->state().certificate("CD34");
  REQUIRE(again);
  CHECK(again->to_json() == record("CD34", SecurityClearance::ClusterAdmin).to_json());
}

TEST_CASE("DeleteCertificate: removes the record; an unknown thumbprint is refused and changes nothing") {
  OneNode n;
  REQUIRE(n.apply(put(record("AB12", SecurityClearance::ValidUser))).result.status.ok());
  REQUIRE(n.apply(put(record("CD34", SecurityClearance::ValidUser))).result.status.ok());
  auto refused = n.apply(del("EF56"));
  CHECK_FALSE(refused.fatal);
  CHECK(refused.result.status.is_not_found());
  CHECK(n.sm->state().certificates().size() == 2);
  REQUIRE(n.apply(del("ab12")).result.status.ok());
  CHECK_FALSE(n.sm->state().certificate("AB12"));
  CHECK_FALSE(n.sm->state().certificate_by_key_hash("hash-AB12"));
  CHECK(n.sm->state().certificate("CD34"));
  n.sm.reset();
  n.sm = open_sm(n.dir.sub("state"));
  CHECK_FALSE(n.sm->state().certificate("AB12"));
  CHECK(n.sm->state().certificates().size() == 1);
}

TEST_CASE("PutCertificate: an invalid record or a malformed entry stops the apply loop") {
  OneNode n;
  const Index before = n.sm->applied();
  // A record that does not validate (permissions on a ClusterAdmin) never
  // decodes: the proposer validates first, so meeting one in the log means
  // divergence, and the loop stops rather than skip it.
  auto bad = put(record("AB12", SecurityClearance::ClusterAdmin, {{"Orders", DatabaseAccess::Read}}));
  CHECK(n.apply(bad).fatal);
  CHECK(n.sm->applied() == before);
  CHECK_FALSE(n.sm->state().certificate("AB12"));

  for (const char* payload : {
           R"({"Type":"PutCertificate","Version":5})",
           R"({"Type":"PutCertificate","Version":5,"Certificate":{"Thumbprint":"A","Name":"n","Certificate":"c","SecurityClearance":"God"}})",
           R"({"Type":"PutCertificate","Version":5,"Certificate":{"Thumbprint":"A","Name":"n","Certificate":"c","SecurityClearance":"ValidUser","Permissions":{"db":"Write"}}})",
           R"({"Type":"PutCertificate","Version":5,"Certificate":{"Name":"n","Certificate":"c","SecurityClearance":"ValidUser"}})",
           R"({"Type":"DeleteCertificate","Version":5})",
           R"({"Type":"DeleteCertificate","Version":99,"Thumbprint":"A"})",  // newer than this build
       }) {
    CAPTURE(payload);
    auto r = n.sm->apply(Entry{1, n.next, EntryType::Normal, payload});
    CHECK(r.fatal);
    CHECK(n.sm->applied() == before);
  }
  CHECK(n.sm->state().certificates().empty());
}

TEST_CASE("Certificates travel in a snapshot and replace the receiver's") {
  testing::TempDir dir;
  auto source = ClusterState::open(dir.sub("source"));
  auto receiver = ClusterState::open(dir.sub("receiver"));
  REQUIRE(source.ok());
  REQUIRE(receiver.ok());
  {
    ClusterState::Batch b(**source);
    b.put_certificate(record("AB12", SecurityClearance::ValidUser, {{"Orders", DatabaseAccess::Admin}}));
    b.put_certificate(record("CD34", SecurityClearance::Operator));
    REQUIRE((*source)->commit(b, 5).ok());
  }
  {
    ClusterState::Batch b(**receiver);
    b.put_certificate(record("STALE", SecurityClearance::ClusterAdmin));
    REQUIRE((*receiver)->commit(b, 2).ok());
  }
  copy_snapshot(**source, **receiver);
  CHECK((*receiver)->applied() == 5);
  CHECK_FALSE((*receiver)->certificate("STALE"));
  REQUIRE((*receiver)->certificates().size() == 2);
  CHECK((*receiver)->certificate("AB12")->access_to("ORDERS") == DatabaseAccess::Admin);
  CHECK((*receiver)->certificate_by_key_hash("hash-CD34")->clearance == SecurityClearance::Operator);
}

TEST_CASE("CertificateRecord: clearances and access levels parse RavenDB's spellings only") {
  CHECK(parse_clearance("clusteradmin") == SecurityClearance::ClusterAdmin);
  CHECK(parse_clearance("Operator") == SecurityClearance::Operator);
  CHECK(parse_clearance("ValidUser") == SecurityClearance::ValidUser);
  CHECK_FALSE(parse_clearance("UnauthenticatedClients"));
  CHECK_FALSE(parse_clearance(""));
  CHECK(parse_database_access("readwrite") == DatabaseAccess::ReadWrite);
  CHECK(parse_database_access("Admin") == DatabaseAccess::Admin);
  CHECK_FALSE(parse_database_access("Write"));
  auto r = record("AB12", SecurityClearance::Operator, {{"db", DatabaseAccess::Read}});
  CHECK(r.validate().is_invalid_argument());
  r.permissions.clear();
  CHECK(r.validate().ok());
  r.name.clear();
  CHECK(r.validate().is_invalid_argument());
}
