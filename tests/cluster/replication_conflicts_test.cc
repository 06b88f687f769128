// Replication conflicts between the two members of a database group, on real
// corvusd processes (tests/support/test_cluster.h, each node's cluster port
// behind a TcpProxy): the link is cut, the same document is written on both
// sides, the link heals and replication meets the two versions.
//
// With the solver set to keep conflicts (POST /admin/replication/conflicts/solver)
// the link heals one way first (node 1 -> node 0): node 0 answers 409
// DocumentConflictException and lists both versions at /replication/conflicts
// until a PUT or DELETE there resolves the document, on both members.
//
// The member that heard the other first holds both versions in its conflicts;
// replication ships them, so the other member meets them too and holds the
// same conflict (a case of its own below, healing the other way round).
//
// With no solver (RavenDB's default) the later write wins on both members and
// the loser is kept as a revision flagged Conflicted, whatever the order.
// Every wait is a bounded poll; nothing asserts on timing.

#include <set>
#include <string>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/test_cluster.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// Two nodes formed into one cluster, and database "db" on both (factor 2).
class TwoMembers : public Cluster {
 public:
  TwoMembers() : Cluster(2, {}, {.proxies = true, .election_ticks = 20, .log_level = ""}) {
    form(2);
    learn_tags();
    auto created = command(0, "PUT", "/admin/databases?name=db&replicationFactor=2", R"({"DatabaseName":"db"})");
    REQUIRE_MESSAGE(created.status == 201, created.body);
    for (int i = 0; i < 2; ++i) {
      REQUIRE_MESSAGE(eventually([&] { return get_json((*this)[i].http_port, "/databases/db/stats").has_value(); }),
                      "node " << i << " did not open db\n" << logs());
    }
  }

  HttpResult on(int i, const std::string& method, const std::string& target, const std::string& body = "") {
    return call((*this)[i].http_port, method, target, body, {}, 10s);
  }

  // The document as node i serves it (nullopt unless 200).
  std::optional<json::object> doc(int i, const std::string& id) {
    auto r = on(i, "GET", "/databases/db/docs?id=" + id);
    if (r.status != 200) return std::nullopt;
    return json::parse(r.body).as_object().at("Results").as_array()[0].as_object();
  }

  // A document written on node 0 shows up on node 1: replication runs.
  void check_replicating(const std::string& marker) {
    REQUIRE(on(0, "PUT", "/databases/db/docs?id=" + marker, R"({"marker":true})").status == 201);
    REQUIRE_MESSAGE(eventually([&] { return doc(1, marker).has_value(); }),
                    "replication did not deliver " << marker << "\n" << logs());
  }

  // No traffic between the two nodes' cluster ports (Raft and replication).
  void cut() {
    (*this)[0].proxy->cut();
    (*this)[1].proxy->cut();
  }
  void heal_links() {
    (*this)[0].proxy->heal();
    (*this)[1].proxy->heal();
  }

  // Writes `id` on node 0 and, with different content, on node 1 while they
  // cannot see each other (the link stays cut: see heal_links).
  void write_while_cut(const std::string& id, const std::string& first, const std::string& second) {
    auto a = on(0, "PUT", "/databases/db/docs?id=" + id, R"({"v":")" + first + R"(","@metadata":{"@collection":"Users"}})");
    REQUIRE_MESSAGE(a.status == 201, a.body);
    auto b = on(1, "PUT", "/databases/db/docs?id=" + id, R"({"v":")" + second + R"(","@metadata":{"@collection":"Users"}})");
    REQUIRE_MESSAGE(b.status == 201, b.body);
  }

  // Keep-conflicts solver, both users/1 and users/2 written on both sides;
  // then node 1 reaches node 0 (whose proxy heals first) and node 0 holds
  // both conflicts before node 0 can reach node 1.
  void conflicts_heard_by_node0_first() {
    auto solver = command(0, "POST", "/admin/replication/conflicts/solver?name=db",
                          R"({"ResolveToLatest":false,"ResolveByCollection":{}})");
    REQUIRE_MESSAGE(solver.status == 201, solver.body);
    check_replicating("marker/1");
    cut();
    write_while_cut("users/1", "from-0", "from-1");
    write_while_cut("users/2", "two-0", "two-1");
    (*this)[0].proxy->heal();
    for (const std::string id : {"users/1", "users/2"}) {
      REQUIRE_MESSAGE(eventually([&] { return on(0, "GET", "/databases/db/docs?id=" + id).status == 409; }),
                      id << " not in conflict on node 0\n" << logs());
    }
    (*this)[1].proxy->heal();
  }

  // Writes `id` on node 0 and, with different content, on node 1 while
  // they cannot see each other, then heals the link.
  void write_concurrently(const std::string& id, const std::string& first, const std::string& second) {
    cut();
    auto a = on(0, "PUT", "/databases/db/docs?id=" + id, R"({"v":")" + first + R"(","@metadata":{"@collection":"Users"}})");
    REQUIRE_MESSAGE(a.status == 201, a.body);
    auto b = on(1, "PUT", "/databases/db/docs?id=" + id, R"({"v":")" + second + R"(","@metadata":{"@collection":"Users"}})");
    REQUIRE_MESSAGE(b.status == 201, b.body);
    heal_links();
  }

  json::object conflicts(int i, const std::string& query) {
    auto r = on(i, "GET", "/databases/db/replication/conflicts" + query);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return json::parse(r.body).as_object();
  }

  // The "v" of the revisions of `id` on node i whose @flags mention `flag`.
  std::set<std::string> revisions_flagged(int i, const std::string& id, const std::string& flag) {
    std::set<std::string> out;
    auto r = on(i, "GET", "/databases/db/revisions?id=" + id);
    if (r.status != 200) return out;
    const json::value parsed = json::parse(r.body);  // outlives the loop over its parts
    for (const auto& rev : parsed.as_object().at("Results").as_array()) {
      const auto& md = rev.at("@metadata").as_object();
      const auto* flags = md.if_contains("@flags");
      if (!flags || !flags->is_string() || std::string(flags->as_string()).find(flag) == std::string::npos) continue;
      const auto* v = rev.as_object().if_contains("v");
      out.insert(v && v->is_string() ? std::string(v->as_string()) : std::string("(deleted)"));
    }
    return out;
  }
};

std::string flags_of(const json::object& doc) {
  const auto* flags = doc.at("@metadata").as_object().if_contains("@flags");
  return flags && flags->is_string() ? std::string(flags->as_string()) : std::string();
}

}  // namespace

TEST_CASE("replication conflicts: kept; 409 and both versions listed, a PUT or DELETE resolves it on both members") {
  TwoMembers c;
  c.conflicts_heard_by_node0_first();

  auto refused = c.on(0, "GET", "/databases/db/docs?id=users/1");
  auto body = json::parse(refused.body).as_object();
  CHECK(std::string(body.at("Type").as_string()).find("DocumentConflictException") != std::string::npos);
  CHECK(body.at("DocId") == "users/1");
  auto versions = c.conflicts(0, "?docId=users/1");
  std::set<std::string> bodies;
  for (const auto& v : versions.at("Results").as_array()) bodies.insert(std::string(v.at("Doc").at("v").as_string()));
  CHECK(bodies == std::set<std::string>{"from-0", "from-1"});
  CHECK(versions.at("LargestEtag") == body.at("LargestEtag"));
  CHECK(c.conflicts(0, "").at("TotalResults") == 2);

  // A PUT on node 0 resolves users/1; its version supersedes both, so node 1
  // takes it too.
  REQUIRE(c.on(0, "PUT", "/databases/db/docs?id=users/1", R"({"v":"resolved","@metadata":{"@collection":"Users"}})")
              .status == 201);
  for (int i = 0; i < 2; ++i) {
    REQUIRE_MESSAGE(eventually([&] {
                      auto d = c.doc(i, "users/1");
                      return d && d->at("v") == "resolved";
                    }),
                    "users/1 not resolved on node " << i << "\n" << c.logs());
    CHECK(c.conflicts(i, "?docId=users/1").at("Results").as_array().empty());
  }
  CHECK(c.revisions_flagged(0, "users/1", "Conflicted") == std::set<std::string>{"from-0", "from-1"});

  // A DELETE on node 0 resolves users/2 to a deletion, on both.
  REQUIRE(c.on(0, "DELETE", "/databases/db/docs?id=users/2").status == 204);
  for (int i = 0; i < 2; ++i) {
    REQUIRE_MESSAGE(eventually([&] { return c.on(i, "GET", "/databases/db/docs?id=users/2").status == 404; }),
                    "users/2 not deleted on node " << i << "\n" << c.logs());
    CHECK(c.conflicts(i, "").at("TotalResults") == 0);
  }
}

TEST_CASE("replication conflicts: kept; the member that heard the other last is in conflict too") {
  TwoMembers c;
  c.conflicts_heard_by_node0_first();
  REQUIRE_MESSAGE(eventually([&] { return c.on(1, "GET", "/databases/db/docs?id=users/1").status == 409; }, 10s),
                  "node 1 still serves its own users/1 while node 0 holds the conflict");
  CHECK(c.conflicts(1, "").at("TotalResults") == 2);
}

TEST_CASE("replication conflicts: by default the later write wins on both members, the loser kept as a revision") {
  TwoMembers c;
  c.check_replicating("marker/1");
  // Node 1 writes after node 0 (the test waits for node 0's answer first), so
  // its version is the later one.
  c.write_concurrently("users/1", "first", "second");
  for (int i = 0; i < 2; ++i) {
    REQUIRE_MESSAGE(eventually([&] {
                      auto d = c.doc(i, "users/1");
                      return d && d->at("v") == "second" && !c.revisions_flagged(i, "users/1", "Conflicted").empty();
                    }),
                    "node " << i << " did not resolve users/1 to the later write\n" << c.logs());
    CHECK(c.revisions_flagged(i, "users/1", "Conflicted").count("first") == 1);
    CHECK(c.on(i, "GET", "/databases/db/replication/conflicts").body.find("users/1") == std::string::npos);
  }
  // Both members end with the same version: the same change vector.
  CHECK(eventually([&] {
    auto a = c.doc(0, "users/1");
    auto b = c.doc(1, "users/1");
    return a && b && a->at("@metadata").at("@change-vector") == b->at("@metadata").at("@change-vector");
  }));
  auto winner = c.doc(0, "users/1");
  REQUIRE(winner);
  CHECK(flags_of(*winner).find("Resolved") != std::string::npos);
}
