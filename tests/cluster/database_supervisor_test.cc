// The leader's database supervisor on three real corvusd: a member that stops
// answering (SIGSTOP) moves to Rehab after the grace (--database-rehab-grace),
// visible to clients in /topology with a newer Etag, and comes back as a
// Member once it answers again. Bounded polls; no timing assertions.

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/test_cluster.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// node tag -> ServerRole in /topology?name=db as node `via` answers it; and its Etag.
std::map<std::string, std::string> roles(Cluster& c, int via, std::uint64_t* etag = nullptr) {
  std::map<std::string, std::string> out;
  auto o = get_json(c[via].http_port, "/topology?name=db");
  if (!o) return out;
  for (const auto& n : o->at("Nodes").as_array()) out[str(n.as_object(), "ClusterTag")] = str(n.as_object(), "ServerRole");
  if (etag) *etag = o->at("Etag").to_number<std::uint64_t>();
  return out;
}

}  // namespace

TEST_CASE("database supervisor: a silent member goes to Rehab and comes back as a Member") {
  Cluster c(3, {"--database-rehab-grace", "2"});
  c.form(3);
  auto r = c.command(0, "PUT", "/admin/databases?name=db&replicationFactor=3", "{\"DatabaseName\":\"db\"}");
  REQUIRE_MESSAGE(r.status == 201, r.body);
  const int leader = c.wait_leader();
  REQUIRE(leader >= 0);
  const int silent = (leader + 1) % 3;
  const std::string tag = str(*c.topology(silent), "NodeTag");
  std::uint64_t etag_before = 0;
  REQUIRE(eventually([&] { return roles(c, leader, &etag_before)[tag] == "Member"; }));

  c[silent].process->stop();  // SIGSTOP: no answers, no Raft traffic
  std::uint64_t etag_rehab = 0;
  CHECK_MESSAGE(eventually([&] { return roles(c, leader, &etag_rehab)[tag] == "Rehab"; }), c.logs());
  CHECK(etag_rehab > etag_before);  // clients holding the old topology are told to refresh
  const auto others = roles(c, leader);
  for (const auto& [t, role] : others) {
    if (t != tag) CHECK(role == "Member");
  }

  c[silent].process->resume();
  CHECK_MESSAGE(eventually([&] { return roles(c, leader)[tag] == "Member"; }), c.logs());
}
