// Database groups on a three-node cluster of real corvusd processes on
// 127.0.0.1: which nodes a new database lands on (replication factor,
// explicit members, fewest databases first), that the record, /topology and
// every node's answers agree (200 on members, 410 elsewhere, 503 +
// Database-Missing once gone), that restarts (one at a time, kill -9, all
// together) keep every database on the same nodes, deleting from one node and
// from all (also with a node down), creating through a follower, identities
// from the cluster, cluster-wide transactions on every member (also one that
// was down), Refresh-Topology after the group grows, and cluster commands sent
// to a follower while the leader is dead. The cluster is TestCluster's
// (tests/support/test_cluster.h), without proxies. Every wait is a bounded poll;
// nothing asserts on timing. Processes and directories die with the test.

#include <cctype>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/changes_client.h"
#include "tests/support/test_cluster.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

using Tags = std::set<std::string>;

Tags string_set(const json::value* v) {
  Tags out;
  if (!v || !v->is_array()) return out;
  for (const auto& x : v->as_array()) {
    if (x.is_string()) out.emplace(x.as_string());
  }
  return out;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string join(const Tags& tags) {
  std::string out;
  for (const auto& t : tags) out += (out.empty() ? "" : ",") + t;
  return "{" + out + "}";
}

// Where node `n` keeps its copy of `db` (DatabasesLandlord::directory_for).
std::string database_dir(const Node& n, const std::string& db) { return n.dir + "/databases/" + lower(db); }

// Three nodes and the database-group requests the tests make through them.
class GroupCluster : public Cluster {
 public:
  GroupCluster() : Cluster(3, {}, {.proxies = false, .election_ticks = 20, .log_level = ""}) {}

  // Waits for answers up to 20 s: a follower may wait out an election first.
  HttpResult call(int i, const std::string& method, const std::string& target, const std::string& body = "",
                  const Headers& headers = {}) {
    return corvus::testing::call((*this)[i].http_port, method, target, body, headers, 20s);
  }

  std::optional<json::object> get_object(int i, const std::string& target, const Headers& headers = {}) {
    return get_json((*this)[i].http_port, target, headers, 20s);
  }

  // Forms the cluster through node 0 and learns every node's tag.
  void form() {
    Cluster::form(size());
    learn_tags();
  }

  // Every running node sees three members and the same leader.
  bool stable() { return converged(3, running()); }

  // PUT /admin/databases through `via`; retries only while there is no leader.
  HttpResult create(int via, const std::string& name, int replication_factor, const Tags& members = {}) {
    json::object body{{"DatabaseName", name}};
    if (!members.empty()) {
      json::array m;
      for (const auto& t : members) m.emplace_back(t);
      body["Topology"] = json::object{{"Members", std::move(m)}};
    }
    std::string target = "/admin/databases?name=" + name;
    if (replication_factor > 0) target += "&replicationFactor=" + std::to_string(replication_factor);
    HttpResult r;
    eventually([&] {
      r = call(via, "PUT", target, json::serialize(body));
      return r.status != 0 && !(r.status == 503 && r.body.find("NoLeader") != std::string::npos);
    });
    return r;
  }

  HttpResult delete_db(int via, const std::string& name, bool hard, const Tags& from = {}) {
    json::object body{{"DatabaseNames", json::array{json::value(name)}}, {"HardDelete", hard}};
    if (from.empty()) {
      body["FromNodes"] = nullptr;
    } else {
      json::array f;
      for (const auto& t : from) f.emplace_back(t);
      body["FromNodes"] = std::move(f);
    }
    return call(via, "DELETE", "/admin/databases", json::serialize(body));
  }

  // "A:200 B:410 C:200": what GET /databases/{db}/stats answers on each node
  // ("down" for a stopped one), in node order.
  std::string serving(const std::string& db) {
    std::string out;
    for (int i = 0; i < size(); ++i) {
      const Node& n = (*this)[i];
      std::string s = "down";
      if (n.process->running()) {
        auto r = call(i, "GET", "/databases/" + db + "/stats");
        s = std::to_string(r.status);
        if (r.status == 503 && r.header("database-missing").empty()) s += "(not missing)";
      }
      out += (out.empty() ? "" : " ") + n.tag + ":" + s;
    }
    return out;
  }

  // What serving() should say when exactly `members` serve `db`; `others` is
  // the answer elsewhere (410 in the cluster but outside the group, 503 gone).
  std::string expected(const Tags& members, const std::string& others = "410") {
    std::string out;
    for (int i = 0; i < size(); ++i) {
      const Node& n = (*this)[i];
      std::string s = !n.process->running() ? "down" : members.count(n.tag) ? "200" : others;
      out += (out.empty() ? "" : " ") + n.tag + ":" + s;
    }
    return out;
  }

  // Tags /topology?name=db lists on node i with `role`, or nullopt.
  std::optional<Tags> topology_tags(int i, const std::string& db, const std::string& role = "Member") {
    auto t = get_object(i, "/topology?name=" + db);
    if (!t) return std::nullopt;
    Tags out;
    for (const auto& n : t->at("Nodes").as_array()) {
      const auto& o = n.as_object();
      if (str(o, "ServerRole") == role) out.insert(str(o, "ClusterTag"));
    }
    return out;
  }

  std::optional<json::object> record(int i, const std::string& db) {
    return get_object(i, "/admin/databases?name=" + db);
  }

  std::optional<Tags> record_members(int i, const std::string& db) {
    auto r = record(i, db);
    if (!r) return std::nullopt;
    return string_set(r->at("Topology").as_object().if_contains("Members"));
  }

  bool put_doc(int i, const std::string& db, const std::string& id, const std::string& body) {
    return call(i, "PUT", "/databases/" + db + "/docs?id=" + id, body).status == 201;
  }

  // The document `id` of `db` on node i, or nullopt (404 or any error).
  std::optional<json::object> doc(int i, const std::string& db, const std::string& id) {
    auto o = get_object(i, "/databases/" + db + "/docs?id=" + id);
    if (!o) return std::nullopt;
    const auto& results = o->at("Results").as_array();
    if (results.empty() || !results[0].is_object()) return std::nullopt;
    return results[0].as_object();
  }
};

// Members of the group a create answered with; checks the rest of the answer.
Tags created_members(GroupCluster& c, const HttpResult& r, const std::string& name) {
  REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
  auto v = parse_json(r.body);
  REQUIRE(v);
  const auto& o = v->as_object();
  CHECK(str(o, "Name") == name);
  CHECK(o.at("RaftCommandIndex").to_number<uint64_t>() > 0);
  Tags members = string_set(o.at("Topology").as_object().if_contains("Members"));
  Tags urls = string_set(o.if_contains("NodesAddedTo"));
  Tags expected_urls;
  for (const auto& t : members) expected_urls.insert(c[c.index_of(t)].url());
  CHECK(urls == expected_urls);
  return members;
}

// `db` is served by exactly `members`; /topology on every node lists exactly
// them as Members with one Etag, and every node's record says the same.
void check_group(GroupCluster& c, const std::string& db, const Tags& members) {
  const std::string want = c.expected(members);
  std::string got;
  CHECK_MESSAGE(eventually([&] { return (got = c.serving(db)) == want; }),
                db << ": stats answered " << got << ", expected " << want << "\n" << c.logs());
  std::set<int64_t> etags;
  for (int i = 0; i < c.size(); ++i) {
    if (!c[i].process->running()) continue;
    std::optional<Tags> listed;
    CHECK_MESSAGE(eventually([&] { return (listed = c.topology_tags(i, db)) == members; }),
                  db << " /topology on " << c[i].tag << ": " << (listed ? join(*listed) : "error") << ", expected "
                     << join(members));
    for (const char* role : {"Promotable", "Rehab"}) CHECK(c.topology_tags(i, db, role) == Tags{});
    std::optional<Tags> recorded;
    CHECK_MESSAGE(eventually([&] { return (recorded = c.record_members(i, db)) == members; }),
                  db << " record on " << c[i].tag << ": " << (recorded ? join(*recorded) : "error"));
    if (auto t = c.get_object(i, "/topology?name=" + db)) etags.insert(t->at("Etag").to_number<int64_t>());
  }
  CHECK_MESSAGE(etags.size() == 1, db << ": the nodes disagree on the group's Etag");
}

}  // namespace

TEST_CASE("database group: created on exactly the chosen nodes; record, /topology and every node agree") {
  GroupCluster c;
  c.form();

  // Creates through every node at once: Raft orders them and each lands on
  // the node with the fewest databases at its turn, so one per node. The same
  // new name through every node at once: exactly one 201, the others 409.
  {
    std::vector<HttpResult> spread(c.size()), race(c.size());
    std::vector<std::thread> creators;
    for (int i = 0; i < c.size(); ++i) {
      creators.emplace_back([&, i] {
        spread[i] = c.create(i, "Spread_" + std::to_string(i), 1);
        race[i] = c.create(i, "Race", 2);
      });
    }
    for (auto& t : creators) t.join();
    Tags hosts;
    for (int i = 0; i < c.size(); ++i) {
      const Tags m = created_members(c, spread[i], "Spread_" + std::to_string(i));
      CHECK(m.size() == 1);
      hosts.insert(m.begin(), m.end());
      check_group(c, "Spread_" + std::to_string(i), m);
    }
    CHECK_MESSAGE(hosts == c.all_tags(), "RF-1 databases created at once landed on " << join(hosts));
    int won = 0;
    for (const auto& r : race) {
      CHECK_MESSAGE((r.status == 201 || r.status == 409), r.status << " " << r.body);
      if (r.status == 201) {
        ++won;
        check_group(c, "Race", created_members(c, r, "Race"));
      }
    }
    CHECK(won == 1);
    for (int i = 0; i < c.size(); ++i) {
      auto d = c.delete_db(i, "Spread_" + std::to_string(i), true);
      CHECK_MESSAGE(d.status == 200, d.body);
    }
    auto d = c.delete_db(0, "Race", true);
    CHECK_MESSAGE(d.status == 200, d.body);
    for (int i = 0; i < c.size(); ++i) {
      CHECK(eventually([&] { return c.call(i, "GET", "/admin/databases?name=Race").status == 404; }));
    }
  }

  // Every node hosts nothing again.
  const Tags two = created_members(c, c.create(0, "Group_Two", 2), "Group_Two");
  REQUIRE(two.size() == 2);
  check_group(c, "Group_Two", two);
  std::string spare;
  for (const auto& t : c.all_tags()) {
    if (!two.count(t)) spare = t;
  }
  // Outside the group: 410 DatabaseNotRelevantException, which the clients take
  // as "try another node".
  auto not_here = c.call(c.index_of(spare), "GET", "/databases/Group_Two/docs?id=x");
  CHECK(not_here.status == 410);
  CHECK_MESSAGE(not_here.body.find("DatabaseNotRelevantException") != std::string::npos, not_here.body);

  const Tags three = created_members(c, c.create(1, "Group_Three", 3), "Group_Three");
  CHECK(three == c.all_tags());
  check_group(c, "Group_Three", three);

  // Fewest databases first: the two members of Group_Two host two databases
  // now, the spare one.
  const Tags one = created_members(c, c.create(2, "Group_One", 1), "Group_One");
  CHECK(one == Tags{spare});
  check_group(c, "Group_One", one);

  // Explicit members win over the load.
  const Tags chosen{*c.all_tags().begin(), *c.all_tags().rbegin()};
  const Tags explicit_members = created_members(c, c.create(0, "Group_Explicit", 0, chosen), "Group_Explicit");
  CHECK(explicit_members == chosen);
  check_group(c, "Group_Explicit", chosen);

  // The same name again (names are case-insensitive): 409, nothing changes.
  for (const auto& [via, name] : std::vector<std::pair<int, std::string>>{{0, "Group_Two"}, {1, "group_two"},
                                                                          {2, "GROUP_THREE"}}) {
    auto again = c.create(via, name, 1);
    CHECK_MESSAGE(again.status == 409, name << ": " << again.status << " " << again.body);
  }
  check_group(c, "Group_Two", two);

  // A factor larger than the cluster, or a node outside it: 400, no record.
  auto too_many = c.create(0, "Group_Four", 4);
  CHECK_MESSAGE(too_many.status == 400, too_many.body);
  auto stranger = c.create(1, "Group_Stranger", 0, {*c.all_tags().begin(), "ZZ"});
  CHECK_MESSAGE(stranger.status == 400, stranger.body);
  for (int i = 0; i < c.size(); ++i) {
    CHECK(c.call(i, "GET", "/admin/databases?name=Group_Four").status == 404);
    auto missing = c.call(i, "GET", "/databases/Group_Stranger/stats");
    CHECK(missing.status == 503);
    CHECK(missing.header("database-missing") == "Group_Stranger");
  }

  // GET /databases lists each once, whichever node answers.
  for (int i = 0; i < c.size(); ++i) {
    auto list = c.get_object(i, "/databases?namesOnly=true");
    REQUIRE(list);
    CHECK(string_set(list->if_contains("Databases")) ==
          Tags{"Group_Explicit", "Group_One", "Group_Three", "Group_Two"});
  }
}

TEST_CASE("database group: restarts one at a time, kill -9 and all together keep every database on its nodes") {
  GroupCluster c;
  c.form();
  const std::vector<std::string> names{"Restart_Two", "Restart_Three", "Restart_One"};
  std::map<std::string, Tags> groups;
  groups["Restart_Two"] = created_members(c, c.create(0, "Restart_Two", 2), "Restart_Two");
  groups["Restart_Three"] = created_members(c, c.create(1, "Restart_Three", 3), "Restart_Three");
  groups["Restart_One"] = created_members(c, c.create(2, "Restart_One", 1), "Restart_One");
  // A local document on each copy (documents are not replicated between members).
  for (const auto& [db, members] : groups) {
    for (const auto& t : members) {
      REQUIRE(c.put_doc(c.index_of(t), db, "notes/" + t, "{\"Node\":\"" + t + "\"}"));
    }
  }
  auto check_all = [&](const std::string& when) {
    INFO("after " << when);
    REQUIRE(c.stable());
    for (const auto& db : names) {
      check_group(c, db, groups[db]);
      for (const auto& t : groups[db]) {
        auto d = c.doc(c.index_of(t), db, "notes/" + t);
        CHECK_MESSAGE(d, db << " lost notes/" << t << " on " << t);
        if (d) CHECK(str(*d, "Node") == t);
      }
    }
  };
  check_all("creation");

  for (int i = 0; i < c.size(); ++i) {
    c.restart(i);
    check_all("SIGTERM and restart of " + c[i].tag);
  }

  c[1].process->kill9();
  REQUIRE_MESSAGE(c[1].process->start(), c[1].process->log());
  check_all("kill -9 and restart of " + c[1].tag);

  for (int i = 0; i < c.size(); ++i) CHECK(c[i].process->terminate() == 0);
  for (int i = 0; i < c.size(); ++i) REQUIRE_MESSAGE(c[i].process->start(), c[i].process->log());
  check_all("a restart of every node together");

  for (int i = 0; i < c.size(); ++i) c[i].process->kill9();
  for (int i = 0; i < c.size(); ++i) REQUIRE_MESSAGE(c[i].process->start(), c[i].process->log());
  check_all("kill -9 of every node together");

  // The cluster still takes database commands afterwards.
  const Tags late = created_members(c, c.create(1, "Restart_Late", 2), "Restart_Late");
  check_group(c, "Restart_Late", late);
}

TEST_CASE("database group: a member that was down opens new databases, applies cluster-wide writes, keeps identities") {
  GroupCluster c;
  c.form();
  const std::string db = "Down_Three";
  REQUIRE(created_members(c, c.create(0, db, 3), db) == c.all_tags());
  std::set<std::string> identities;
  auto new_identity = [&](int via) {
    auto r = c.call(via, "POST", "/databases/" + db + "/bulk_docs",
                    R"({"Commands":[{"Type":"PUT","Id":"users|","Document":{}}]})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    const std::string id = str(parse_json(r.body)->as_object().at("Results").as_array()[0].as_object(), "@id");
    CHECK_MESSAGE(identities.insert(lower(id)).second, id << " handed out twice (through " << c[via].tag << ")");
  };
  for (int i = 0; i < c.size(); ++i) new_identity(i);

  // Node 2 is down (kill -9) while a database is created for every node and a
  // cluster-wide transaction is written: the create still answers (bounded
  // wait), and the node catches up on both when it comes back.
  c[2].process->kill9();
  REQUIRE(c.stable());
  const Tags all = c.all_tags();
  CHECK(created_members(c, c.create(0, "Down_Late", 3), "Down_Late") == all);
  auto tx = c.call(1, "POST", "/databases/" + db + "/bulk_docs",
                   R"({"Commands":[{"Type":"PUT","Id":"while/down","Document":{"V":1}}],"TransactionMode":"ClusterWide"})");
  REQUIRE_MESSAGE(tx.status == 201, tx.body);
  const std::string cv = str(parse_json(tx.body)->as_object().at("Results").as_array()[0].as_object(), "@change-vector");
  for (int i = 0; i < 2; ++i) new_identity(i);

  REQUIRE_MESSAGE(c[2].process->start(), c[2].process->log());
  check_group(c, "Down_Late", all);
  check_group(c, db, all);
  std::optional<json::object> d;
  CHECK_MESSAGE(eventually([&] { return (d = c.doc(2, db, "while/down")).has_value(); }),
                "the cluster-wide write made while " << c[2].tag << " was down never reached it\n" << c.logs());
  if (d) CHECK(str(d->at("@metadata").as_object(), "@change-vector") == cv);

  // Identities continue after every node restarts: nothing handed out twice.
  for (int i = 0; i < c.size(); ++i) CHECK(c[i].process->terminate() == 0);
  for (int i = 0; i < c.size(); ++i) REQUIRE_MESSAGE(c[i].process->start(), c[i].process->log());
  REQUIRE(c.stable());
  check_group(c, db, all);
  for (int i = 0; i < c.size(); ++i) new_identity(i);
  CHECK(identities.size() == 8);
}

TEST_CASE("database group: delete from one node, soft and hard, then from all with a node down; create again") {
  GroupCluster c;
  c.form();
  const std::string db = "Del_Group";
  const Tags all = c.all_tags();
  REQUIRE(created_members(c, c.create(0, db, 3), db) == all);
  for (int i = 0; i < c.size(); ++i) {
    REQUIRE(c.put_doc(i, db, "notes/" + c[i].tag, "{}"));
    CHECK(fs::exists(database_dir(c[i], db)));
  }

  // Hard delete from B (node 1): B stops serving it and removes its files.
  const std::string b = c[1].tag;
  const int64_t etag_before = c.get_object(0, "/topology?name=" + db)->at("Etag").to_number<int64_t>();
  auto r = c.delete_db(2, db, true, {b});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto answer = parse_json(r.body);
  REQUIRE(answer);
  CHECK(string_set(answer->as_object().if_contains("PendingDeletes")) == Tags{b});
  Tags rest = all;
  rest.erase(b);
  check_group(c, db, rest);
  for (int i = 0; i < c.size(); ++i) {
    auto t = c.get_object(i, "/topology?name=" + db);
    REQUIRE(t);
    CHECK(t->at("Etag").to_number<int64_t>() > etag_before);
  }
  CHECK_MESSAGE(eventually([&] { return !fs::exists(database_dir(c[1], db)); }),
                database_dir(c[1], db) << " still exists after a hard delete from " << b);
  CHECK_MESSAGE(eventually([&] {
                  auto rec = c.record(0, db);
                  return rec && rec->at("DeletionInProgress").as_object().empty();
                }),
                "B never confirmed its deletion: " << c.call(0, "GET", "/admin/databases?name=" + db).body);
  for (const auto& t : rest) CHECK(c.doc(c.index_of(t), db, "notes/" + t));
  // B is no longer in the group: deleting from it again is refused.
  auto again = c.delete_db(0, db, true, {b});
  CHECK_MESSAGE(again.status == 400, again.status << " " << again.body);

  // Soft delete from C (node 2): it stops serving, the files stay.
  const std::string soft = c[2].tag;
  r = c.delete_db(0, db, false, {soft});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  Tags last{c[0].tag};
  check_group(c, db, last);
  CHECK(fs::exists(database_dir(c[2], db)));
  CHECK_MESSAGE(eventually([&] {
                  auto rec = c.record(1, db);
                  return rec && rec->at("DeletionInProgress").as_object().empty();
                }),
                c.call(1, "GET", "/admin/databases?name=" + db).body);
  CHECK(c.doc(0, db, "notes/" + c[0].tag));

  // Give the group B back, then delete from all while B is down (kill -9):
  // the running nodes drop the database at once, the record waits for B.
  auto added = c.call(0, "PUT", "/admin/databases/node?name=" + db + "&node=" + b);
  REQUIRE_MESSAGE(added.status == 200, added.body);
  CHECK_MESSAGE(eventually([&] { return fs::exists(database_dir(c[1], db)); }), c.logs());
  CHECK(eventually([&] { return c.call(1, "GET", "/databases/" + db + "/stats").status == 200; }));
  c[1].process->kill9();
  REQUIRE(c.stable());
  r = c.delete_db(2, db, true);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  std::string got;
  const std::string gone = c.expected({}, "503");
  CHECK_MESSAGE(eventually([&] { return (got = c.serving(db)) == gone; }), got << ", expected " << gone);
  CHECK(eventually([&] { return !fs::exists(database_dir(c[0], db)); }));
  for (int i : {0, 2}) {
    CHECK(c.call(i, "GET", "/admin/databases?name=" + db).status == 404);
    CHECK(c.call(i, "GET", "/topology?name=" + db).header("database-missing") == db);
  }
  // A request for it with an old Topology-Etag: 503 + Database-Missing only.
  // RavenDB adds Refresh-Topology only for a database it serves; with it the
  // official client starts a /topology fetch that fails unhandled
  // (tests/compat/cluster.test.mjs).
  for (int i : {0, 2}) {
    auto stale = c.call(i, "GET", "/databases/" + db + "/docs?id=x", "", {{"Topology-Etag", "\"1\""}});
    CHECK(stale.status == 503);
    CHECK(stale.header("database-missing") == db);
    CHECK_MESSAGE(stale.header("refresh-topology").empty(),
                  "Refresh-Topology on a 503 Database-Missing answer from " << c[i].tag);
  }
  // Not gone everywhere yet: the same name cannot be created while B holds a copy.
  auto early = c.create(0, db, 3);
  CHECK_MESSAGE(early.status == 409, early.status << " " << early.body);
  CHECK(fs::exists(database_dir(c[1], db)));

  // B comes back, removes its copy and confirms; then the name is free.
  REQUIRE_MESSAGE(c[1].process->start(), c[1].process->log());
  CHECK_MESSAGE(eventually([&] { return !fs::exists(database_dir(c[1], db)); }),
                "B did not remove its copy after restart\n" << c.logs());
  CHECK_MESSAGE(eventually([&] { return (got = c.serving(db)) == c.expected({}, "503"); }), got);
  HttpResult recreated;
  CHECK_MESSAGE(eventually([&] { return (recreated = c.create(1, db, 3)).status == 201; }),
                recreated.status << " " << recreated.body);
  if (recreated.status == 201) {
    check_group(c, db, all);
    // Fresh copies where the delete was hard; C's soft-deleted files are kept
    // and reopened, as RavenDB reattaches a soft-deleted database's files, and
    // replication brings C's documents to the fresh copies.
    auto count = [&](int i) {
      auto stats = c.get_object(i, "/databases/" + db + "/stats");
      return stats ? stats->at("CountOfDocuments").to_number<int64_t>() : -1;
    };
    const int64_t kept = count(2);
    CHECK(kept > 0);
    for (int i : {0, 1}) {
      CHECK_MESSAGE(eventually([&] { return count(i) == kept; }), "node " << c[i].tag << " has " << count(i));
    }
  }

  // Deleting a database that does not exist: nothing to do, 200, like RavenDB
  // (two deletes of one database that race both succeed).
  auto missing = c.delete_db(0, "No_Such_Db", true);
  CHECK(missing.status == 200);
  CHECK(missing.body.find("\"RaftCommandIndex\":-1") != std::string::npos);
}

TEST_CASE("database group: create through a follower; identities never collide; cluster-wide writes reach every member") {
  GroupCluster c;
  c.form();
  const int leader = c.leader();
  REQUIRE(leader >= 0);
  const int follower = (leader + 1) % c.size();
  const std::string db = "Shared";
  REQUIRE(created_members(c, c.create(follower, db, 3), db) == c.all_tags());
  check_group(c, db, c.all_tags());

  {
    INFO("identities (users|) through every node at once never collide");
    constexpr int kBatches = 15;
    std::mutex mu;
    std::vector<std::pair<int, std::string>> ids;  // node, id
    std::vector<std::string> failures;
    std::vector<std::thread> writers;
    for (int n = 0; n < c.size(); ++n) {
      writers.emplace_back([&, n] {
        HttpClient http("127.0.0.1", c[n].http_port, 20s);
        for (int b = 0; b < kBatches; ++b) {
          const std::string body =
              R"({"Commands":[{"Type":"PUT","Id":"users|","Document":{"N":1,"@metadata":{"@collection":"Users"}}},)"
              R"({"Type":"PUT","Id":"users|","Document":{"N":2,"@metadata":{"@collection":"Users"}}}]})";
          auto r = http.request("POST", "/databases/" + db + "/bulk_docs", body, {{"Content-Type", "application/json"}});
          auto v = parse_json(r.body);
          std::lock_guard lock(mu);
          if (r.status != 201 || !v) {
            failures.push_back(std::to_string(r.status) + " " + r.body + r.error);
            continue;
          }
          for (const auto& e : v->as_object().at("Results").as_array()) ids.emplace_back(n, str(e.as_object(), "@id"));
        }
      });
    }
    for (auto& w : writers) w.join();
    CHECK_MESSAGE(failures.empty(),
                  failures.size() << " batches failed, first: " << (failures.empty() ? "" : failures.front()));
    std::set<std::string> unique;
    for (const auto& [n, id] : ids) {
      CHECK_MESSAGE(id.rfind("users/", 0) == 0, id);
      CHECK_MESSAGE(unique.insert(lower(id)).second, "identity " << id << " handed out twice");
    }
    CHECK(ids.size() == static_cast<size_t>(2 * kBatches * c.size()));
    // Each is a document on the node that wrote it.
    for (const auto& [n, id] : ids) CHECK_MESSAGE(c.doc(n, db, id), id << " missing on " << c[n].tag);
  }

  {
    INFO("a cluster-wide transaction through one node is on every member, with one change vector");
    const int via = (leader + 2) % c.size();  // the other follower
    auto r = c.call(via, "POST", "/databases/" + db + "/bulk_docs?raft-request-id=1f3c2a",
                    R"({"Commands":[{"Type":"PUT","Id":"orders/1","Document":{"Total":5,"@metadata":{"@collection":"Orders"}}},)"
                    R"({"Type":"CompareExchangePUT","Id":"orders-lock","Index":0,"Document":{"Object":"mine"}}],)"
                    R"("TransactionMode":"ClusterWide"})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    auto v = parse_json(r.body);
    REQUIRE(v);
    const auto tx_index = v->as_object().at("TransactionIndex").to_number<uint64_t>();
    CHECK(tx_index > 0);
    const auto& results = v->as_object().at("Results").as_array();
    REQUIRE(results.size() == 2);
    const std::string cv = str(results[0].as_object(), "@change-vector");
    CHECK(!cv.empty());
    CHECK(results[1].as_object().at("Index").to_number<uint64_t>() == tx_index);
    for (int i = 0; i < c.size(); ++i) {
      std::optional<json::object> d;
      CHECK_MESSAGE(eventually([&] { return (d = c.doc(i, db, "orders/1")).has_value(); }),
                    "orders/1 never reached " << c[i].tag);
      if (!d) continue;
      CHECK(d->at("Total").to_number<int64_t>() == 5);
      CHECK(str(d->at("@metadata").as_object(), "@change-vector") == cv);
      auto x = c.get_object(i, "/databases/" + db + "/cmpxchg?key=orders-lock");
      REQUIRE(x);
      REQUIRE(x->at("Results").as_array().size() == 1);
      CHECK(x->at("Results").as_array()[0].as_object().at("Index").to_number<uint64_t>() == tx_index);
    }

    // Through another node, without the change vector it read: the atomic
    // guard refuses (409 ClusterTransactionConcurrencyException); with it: ok.
    const int other = (via + 1) % c.size();
    auto blind = c.call(other, "POST", "/databases/" + db + "/bulk_docs",
                        R"({"Commands":[{"Type":"PUT","Id":"orders/1","Document":{"Total":6}}],"TransactionMode":"ClusterWide"})");
    CHECK(blind.status == 409);
    CHECK_MESSAGE(blind.body.find("ClusterTransactionConcurrencyException") != std::string::npos, blind.body);
    auto update = c.call(other, "POST", "/databases/" + db + "/bulk_docs",
                         R"({"Commands":[{"Type":"PUT","Id":"orders/1","OriginalChangeVector":")" + cv +
                             R"(","Document":{"Total":7,"@metadata":{"@collection":"Orders"}}}],"TransactionMode":"ClusterWide"})");
    REQUIRE_MESSAGE(update.status == 201, update.body);
    for (int i = 0; i < c.size(); ++i) {
      CHECK_MESSAGE(eventually([&] {
                      auto d = c.doc(i, db, "orders/1");
                      return d && d->at("Total").to_number<int64_t>() == 7;
                    }),
                    "the update never reached " << c[i].tag);
    }
    // A cluster-wide delete through the third node removes it everywhere.
    auto fresh = c.doc(other, db, "orders/1");
    REQUIRE(fresh);
    const std::string cv2 = str(fresh->at("@metadata").as_object(), "@change-vector");
    auto del = c.call(leader, "POST", "/databases/" + db + "/bulk_docs",
                      R"({"Commands":[{"Type":"DELETE","Id":"orders/1","OriginalChangeVector":")" + cv2 +
                          R"("}],"TransactionMode":"ClusterWide"})");
    REQUIRE_MESSAGE(del.status == 201, del.body);
    for (int i = 0; i < c.size(); ++i) {
      CHECK_MESSAGE(eventually([&] { return c.call(i, "GET", "/databases/" + db + "/docs?id=orders/1").status == 404; }),
                    "the delete never reached " << c[i].tag);
    }
  }

  {
    INFO("compare-exchange through one node is seen by the others");
    auto put = c.call(0, "PUT", "/databases/" + db + "/cmpxchg?key=cfg/one&index=0", R"({"Object":{"V":1}})");
    REQUIRE_MESSAGE(put.status == 200, put.body);
    auto pv = parse_json(put.body);
    REQUIRE(pv);
    CHECK(pv->as_object().at("Successful").as_bool());
    const auto index = pv->as_object().at("Index").to_number<uint64_t>();
    auto lost = c.call(1, "PUT", "/databases/" + db + "/cmpxchg?key=cfg/one&index=0", R"({"Object":{"V":2}})");
    REQUIRE_MESSAGE(lost.status == 200, lost.body);
    auto lv = parse_json(lost.body);
    REQUIRE(lv);
    CHECK_FALSE(lv->as_object().at("Successful").as_bool());
    CHECK(lv->as_object().at("Index").to_number<uint64_t>() == index);
    for (int i = 0; i < c.size(); ++i) {
      auto x = c.get_object(i, "/databases/" + db + "/cmpxchg?key=cfg/one");
      REQUIRE(x);
      REQUIRE(x->at("Results").as_array().size() == 1);
      const auto& e = x->at("Results").as_array()[0].as_object();
      CHECK(e.at("Index").to_number<uint64_t>() == index);
      CHECK(e.at("Value").as_object().at("Object").as_object().at("V").to_number<int64_t>() == 1);
    }
  }
}

TEST_CASE("database group: adding a node changes the group's stamp; an older Topology-Etag gets Refresh-Topology") {
  GroupCluster c;
  c.form();
  const std::string db = "Grow";
  const Tags members = created_members(c, c.create(0, db, 2), db);
  check_group(c, db, members);
  std::string spare;
  for (const auto& t : c.all_tags()) {
    if (!members.count(t)) spare = t;
  }
  const int member = c.index_of(*members.begin());
  const int spare_node = c.index_of(spare);
  auto t1 = c.get_object(member, "/topology?name=" + db);
  REQUIRE(t1);
  const int64_t e1 = t1->at("Etag").to_number<int64_t>();
  REQUIRE(e1 > 0);
  auto stats_with = [&](int node, int64_t etag) {
    return c.call(node, "GET", "/databases/" + db + "/stats", "", {{"Topology-Etag", "\"" + std::to_string(etag) + "\""}});
  };
  auto current = stats_with(member, e1);
  CHECK(current.status == 200);
  CHECK(current.header("refresh-topology").empty());
  CHECK(stats_with(member, e1 - 1).header("refresh-topology") == "true");

  // Changes API watchers of the group's topology: the database's own
  // connection on a member, the server-wide one on the spare (not a member yet).
  ChangesClient on_member(c[member].http_port, db);
  CHECK(on_member.topology_supported);
  on_member.send(command(1, "watch-topology-change"));
  REQUIRE(expect_one(on_member).at("Type").as_string() == "Confirm");
  ChangesClient server_wide(ChangesClient::Path{"/changes"}, c[spare_node].http_port);
  server_wide.send(command(1, "watch-topology-change"));
  REQUIRE(expect_one(server_wide).at("Type").as_string() == "Confirm");

  // Add the spare node through a node that is not the leader.
  int via = member;
  if (via == c.leader()) via = c.index_of(*members.rbegin());
  auto added = c.call(via, "PUT", "/admin/databases/node?name=" + db + "&node=" + spare);
  REQUIRE_MESSAGE(added.status == 200, added.body);
  auto av = parse_json(added.body);
  REQUIRE(av);
  CHECK(string_set(av->as_object().at("Topology").as_object().if_contains("Promotables")) == Tags{spare});
  CHECK(string_set(av->as_object().at("Topology").as_object().if_contains("Members")) == members);

  // The supervisor promotes the spare to Member as soon as it serves its copy
  // (an empty database has nothing to catch up on), so the group settles with
  // every node a Member under a newer Etag. The old Etag then draws
  // Refresh-Topology on every node of the group, the settled one does not.
  Tags all = members;
  all.insert(spare);
  int64_t e2 = 0;
  for (int i = 0; i < c.size(); ++i) {
    CHECK_MESSAGE(eventually([&] {
                    auto t = c.get_object(i, "/topology?name=" + db);
                    if (!t) return false;
                    e2 = t->at("Etag").to_number<int64_t>();
                    return e2 > e1 && c.topology_tags(i, db) == all && c.topology_tags(i, db, "Promotable") == Tags{};
                  }),
                  "/topology on " << c[i].tag << ": " << c.call(i, "GET", "/topology?name=" + db).body);
  }
  for (int i = 0; i < c.size(); ++i) {
    HttpResult r;
    CHECK_MESSAGE(eventually([&] { return (r = stats_with(i, e1)).status == 200; }), c[i].tag << ": " << r.body);
    CHECK_MESSAGE(r.header("refresh-topology") == "true", c[i].tag);
    auto now = stats_with(i, e2);
    CHECK(now.status == 200);
    CHECK(now.header("refresh-topology").empty());
  }
  CHECK(c.call(spare_node, "GET", "/databases/" + db + "/docs?id=nothing").status == 404);  // served, not 410
  // Both watchers were told the group changed, with the URL of the node that told them.
  for (auto [client, node] : {std::pair{&on_member, member}, std::pair{&server_wide, spare_node}}) {
    auto change = expect_one(*client);
    CHECK(change.at("Type").as_string() == "TopologyChange");
    CHECK(change.at("Value").as_object().at("Database").as_string() == db);
    CHECK(change.at("Value").as_object().at("Url").as_string() == c[node].url());
  }
  auto rec = c.record(spare_node, db);
  REQUIRE(rec);
  CHECK(string_set(rec->at("Topology").as_object().if_contains("Members")) == all);

  // Adding it again: 409; every node already hosts it: 400; no such database: 503.
  auto twice = c.call(0, "PUT", "/admin/databases/node?name=" + db + "&node=" + spare);
  CHECK_MESSAGE(twice.status == 409, twice.body);
  auto any = c.call(1, "PUT", "/admin/databases/node?name=" + db);
  CHECK_MESSAGE(any.status == 400, any.body);
  auto missing = c.call(2, "PUT", "/admin/databases/node?name=No_Such_Db&node=" + spare);
  CHECK(missing.status == 503);
  CHECK(missing.header("database-missing") == "No_Such_Db");
}

TEST_CASE("database group: cluster commands sent to a follower right after kill -9 of the leader wait for the next one") {
  // RavenDB's followers wait (bounded) for a new leader and forward the
  // command to it; answering 503 at once leaves a client with one URL (or
  // whose every node is a follower in this window) nothing to retry.
  GroupCluster c;
  c.form();
  const std::string db = "Election";
  REQUIRE(created_members(c, c.create(0, db, 3), db) == c.all_tags());
  const int leader = c.leader();
  REQUIRE(leader >= 0);
  const int follower = (leader + 1) % c.size();
  c[leader].process->kill9();

  auto tx = c.call(follower, "POST", "/databases/" + db + "/bulk_docs",
                   R"({"Commands":[{"Type":"PUT","Id":"orders/e","Document":{"V":1}}],"TransactionMode":"ClusterWide"})");
  CHECK_MESSAGE(tx.status == 201, "cluster-wide batch: " << tx.status << " " << tx.body);
  auto put = c.call(follower, "PUT", "/databases/" + db + "/cmpxchg?key=e&index=0", R"({"Object":1})");
  CHECK_MESSAGE(put.status == 200, "compare-exchange put: " << put.status << " " << put.body);
  auto created = c.call(follower, "PUT", "/admin/databases?name=Election_Two&replicationFactor=2",
                        R"({"DatabaseName":"Election_Two"})");
  CHECK_MESSAGE(created.status == 201, "create database: " << created.status << " " << created.body);

  REQUIRE_MESSAGE(c[leader].process->start(), c[leader].process->log());
  REQUIRE(c.stable());
}
