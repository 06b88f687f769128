// Replication between the three members of database groups on real corvusd
// processes (tests/support/test_cluster.h: each node's cluster port behind a
// TcpProxy, so cutting node i's proxy cuts the Raft and replication traffic
// addressed to node i). One cluster serves every case, each case on its own
// database, and each case starts by undoing whatever an earlier one left
// (heal). The cases: writes through every node (documents, deletes, counters,
// an attachment) end identical everywhere; a cut node keeps accepting writes
// and after the heal nothing acknowledged is missing; kill -9 under load and
// a restart that catches up; counters incremented concurrently across a cut
// add up; a node added to a factor-2 group gets every document and only then
// becomes a Member; tombstones are purged once every member has them, and not
// while one is down; a conflict kept by the solver reaches every member, also
// the one that wrote its version last, drops a version a newer one of the
// same line supersedes and ignores an older one arriving late. Every wait is a
// bounded poll; nothing asserts on timing.

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/one_shot_request.h"
#include "tests/support/replication_checks.h"
#include "tests/support/test_cluster.h"

using namespace corvus::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::vector<int> kAll{0, 1, 2};

// The three-node cluster every case uses, formed on first use; each call heals
// every node (process running and not stopped, proxy forwarding).
Cluster& cluster() {
  static std::unique_ptr<Cluster> c;
  if (!c) {
    auto fresh = std::make_unique<Cluster>(3, std::vector<std::string>{},
                                           ClusterOptions{.proxies = true, .election_ticks = 20, .log_level = ""});
    fresh->form(3);
    fresh->learn_tags();
    c = std::move(fresh);
  }
  for (int i = 0; i < 3; ++i) REQUIRE_MESSAGE(c->heal(i), c->logs());
  REQUIRE_MESSAGE(c->converged(3), c->logs());
  return *c;
}

// A document whose "v" is `value`, with `padding` bytes more.
std::string doc_body(const std::string& value, size_t padding = 0) {
  return R"({"v":")" + value + R"(",)" + (padding ? R"("pad":")" + std::string(padding, 'x') + R"(",)" : "") +
         R"("@metadata":{"@collection":"Docs"}})";
}

HttpResult put_doc(Cluster& c, int node, const std::string& db, const std::string& id, const std::string& value) {
  return call(c[node].http_port, "PUT", "/databases/" + db + "/docs?id=" + id, doc_body(value), {}, 10s);
}

HttpResult add_to_counter(Cluster& c, int node, const std::string& db, const std::string& doc, const std::string& name,
                          int64_t delta) {
  const std::string body = R"({"Documents":[{"DocumentId":")" + doc +
                           R"(","Operations":[{"Type":"Increment","CounterName":")" + name +
                           R"(","Delta":)" + std::to_string(delta) + "}]}]}";
  return call(c[node].http_port, "POST", "/databases/" + db + "/counters", body, {}, 10s);
}

// Waits until `id` is served by every node of `nodes`.
void wait_everywhere(Cluster& c, const std::vector<int>& nodes, const std::string& db, const std::string& id) {
  for (int i : nodes) {
    REQUIRE_MESSAGE(eventually([&] { return current_value(c[i].http_port, db, id, "v").has_value(); }),
                    id << " did not reach node " << i << "\n" << c.logs());
  }
}

// Creates `count` documents prefix/0.. (each `padding` bytes more) with a
// bulk_docs batch per 200 through `node`.
void bulk_insert(Cluster& c, int node, const std::string& db, const std::string& prefix, int count,
                 size_t padding = 0) {
  for (int from = 0; from < count; from += 200) {
    std::string body = R"({"Commands":[)";
    for (int k = from; k < std::min(count, from + 200); ++k) {
      if (k > from) body += ",";
      body += R"({"Type":"PUT","Id":")" + prefix + std::to_string(k) + R"(","Document":)" +
              doc_body(prefix + std::to_string(k), padding) + "}";
    }
    body += "]}";
    auto r = call(c[node].http_port, "POST", "/databases/" + db + "/bulk_docs", body, {}, 20s);
    REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
  }
}

// The outgoing connection `from` -> `to_tag` in /replication/performance.
std::optional<json::object> outgoing(Cluster& c, int from, const std::string& db, const std::string& to_tag) {
  auto perf = get_json(c[from].http_port, "/databases/" + db + "/replication/performance");
  if (!perf) return std::nullopt;
  for (const auto& o : perf->at("Outgoing").as_array()) {
    if (o.at("Destination") == to_tag.c_str()) return o.as_object();
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("replication: writes through every node end identical on every node") {
  Cluster& c = cluster();
  const std::string db = "converge";
  create_database(c, 0, db, 3);

  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 10; ++k) {
      const std::string id = "docs/" + std::to_string(i) + "-" + std::to_string(k);
      auto r = put_doc(c, i, db, id, "n" + std::to_string(i) + "-" + std::to_string(k));
      REQUIRE_MESSAGE(r.status == 201, r.body);
    }
    const std::string gone = "docs/" + std::to_string(i) + "-0";
    REQUIRE(call(c[i].http_port, "DELETE", "/databases/" + db + "/docs?id=" + gone).status == 204);
    // A counter of the node's own document, up and down.
    const std::string own = "docs/" + std::to_string(i) + "-1";
    REQUIRE(add_to_counter(c, i, db, own, "likes", 10 * (i + 1)).status == 200);
    REQUIRE(add_to_counter(c, i, db, own, "likes", -1).status == 200);
  }
  // One counter incremented through every node: per-node entries add up.
  wait_everywhere(c, kAll, db, "docs/0-3");
  for (int i = 0; i < 3; ++i) REQUIRE(add_to_counter(c, i, db, "docs/0-3", "shared", i + 1).status == 200);

  std::string bytes(100'000, '\0');
  std::mt19937 rng(7);
  for (auto& b : bytes) b = static_cast<char>(rng());
  auto att = call(c[1].http_port, "PUT", "/databases/" + db + "/attachments?id=docs/1-2&name=blob.bin", bytes, {}, 10s);
  REQUIRE_MESSAGE(att.status == 201, att.body);

  const std::string diff = wait_identical(c, kAll, db);
  REQUIRE_MESSAGE(diff.empty(), diff << "\n" << c.logs());
  auto snap = snapshot(c[0].http_port, db);
  REQUIRE(snap);
  CHECK(snap->size() == 27);
  for (int i = 0; i < 3; ++i) {
    CHECK(!snap->count("docs/" + std::to_string(i) + "-0"));
    for (int node = 0; node < 3; ++node) {
      CHECK(call(c[node].http_port, "GET", "/databases/" + db + "/docs?id=docs/" + std::to_string(i) + "-0").status ==
            404);
      const std::string own = "docs/" + std::to_string(i) + "-1";
      CHECK(eventually([&] { return counter_total(c[node].http_port, db, own, "likes") == 10 * (i + 1) - 1; }));
    }
  }
  std::string hash;
  for (int node = 0; node < 3; ++node) {
    CHECK_MESSAGE(eventually([&] { return counter_total(c[node].http_port, db, "docs/0-3", "shared") == 6; }),
                  "node " << node << ": " << counter_total(c[node].http_port, db, "docs/0-3", "shared").value_or(-1));
    auto got = call(c[node].http_port, "GET", "/databases/" + db + "/attachments?id=docs/1-2&name=blob.bin", "", {}, 10s);
    CHECK_MESSAGE(got.status == 200, "node " << node << ": " << got.status);
    CHECK(got.body == bytes);
    auto doc = get_json(c[node].http_port, "/databases/" + db + "/docs?id=docs/1-2");
    REQUIRE(doc);
    const auto& list = doc->at("Results").at(0).at("@metadata").at("@attachments").as_array();
    REQUIRE(list.size() == 1);
    const std::string h(list[0].at("Hash").as_string());
    if (node == 0) hash = h;
    CHECK(h == hash);
  }
}

TEST_CASE("replication: a cut node keeps accepting writes; after the heal every acknowledged write is there") {
  Cluster& c = cluster();
  // "cut": revisions keep every version, so an overwritten write is still
  // findable: each node overwrites shared documents in rounds. "plain": no
  // revisions; each document is written once by node 0 or 1 and then by the
  // cut node 2, which cannot have received the first write: the two versions
  // are concurrent, so replication must keep the loser as a Conflicted revision.
  const std::string db = "cut", plain = "cut-plain";
  create_database(c, 0, db, 3, R"("Revisions":{"Default":{"Disabled":false}})");
  create_database(c, 0, plain, 3);
  for (const auto& name : {db, plain}) {
    REQUIRE(put_doc(c, 0, name, "marker/1", "m").status == 201);
    wait_everywhere(c, kAll, name, "marker/1");
  }

  c[2].proxy->cut();
  std::map<std::string, std::string> unique;              // id -> value
  std::vector<std::pair<std::string, std::string>> shared;  // (id, value) of every acknowledged overwrite
  std::vector<std::pair<std::string, std::string>> concurrent;  // the same, in "plain"
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 3; ++i) {
      const std::string tag = "n" + std::to_string(i) + "-r" + std::to_string(round);
      const std::string uid = "unique/" + tag;
      auto u = put_doc(c, i, db, uid, tag);
      REQUIRE_MESSAGE(u.status == 201, "node " << i << ": " << u.status << " " << u.body);
      unique[uid] = tag;
      const std::string sid = "shared/" + std::to_string(round % 2);
      auto s = put_doc(c, i, db, sid, tag);
      REQUIRE_MESSAGE(s.status == 201, "node " << i << ": " << s.status << " " << s.body);
      shared.emplace_back(sid, tag);
    }
    const std::string pid = "p/" + std::to_string(round);
    for (int i : {round % 2, 2}) {
      const std::string tag = "n" + std::to_string(i) + "-r" + std::to_string(round);
      auto p = put_doc(c, i, plain, pid, tag);
      REQUIRE_MESSAGE(p.status == 201, "node " << i << ": " << p.status << " " << p.body);
      concurrent.emplace_back(pid, tag);
    }
  }
  c[2].proxy->heal();

  for (const auto& name : {db, plain}) {
    const std::string diff = wait_identical(c, kAll, name);
    REQUIRE_MESSAGE(diff.empty(), name << ": " << diff << "\n" << c.logs());
  }
  auto snap = snapshot(c[0].http_port, db);
  REQUIRE(snap);
  for (const auto& [id, value] : unique) CHECK_MESSAGE(snap->count(id) == 1, id << " is missing");
  size_t conflicted = 0;
  for (int node = 0; node < 3; ++node) {
    for (const auto& [id, value] : shared) {
      auto revs = revisions(c[node].http_port, db, id, "v");
      REQUIRE(revs);
      const bool current = current_value(c[node].http_port, db, id, "v") == value;
      bool kept = false;
      for (const auto& r : *revs) {
        kept = kept || r.value == value;
        if (node == 0 && r.value == value && r.flags.find("Conflicted") != std::string::npos) ++conflicted;
      }
      CHECK_MESSAGE((current || kept), "node " << node << ": the acknowledged write " << value << " of " << id
                                               << " is neither current nor a revision");
    }
    for (const auto& [id, value] : concurrent) {
      auto revs = revisions(c[node].http_port, plain, id, "v");
      REQUIRE(revs);
      const bool current = current_value(c[node].http_port, plain, id, "v") == value;
      bool kept = false;
      std::string seen;
      for (const auto& r : *revs) {
        kept = kept || (r.value == value && r.flags.find("Conflicted") != std::string::npos);
        seen += " " + r.value + "[" + r.flags + "]";
      }
      CHECK_MESSAGE((current || kept), "node " << node << ": the acknowledged write " << value << " of " << id
                                               << " is neither current nor a Conflicted revision; revisions:" << seen);
    }
  }
  MESSAGE("cut: " << shared.size() << " acknowledged overwrites with revisions on, " << conflicted
                  << " of them kept as Conflicted revisions on node 0; " << concurrent.size()
                  << " concurrent writes without revisions");
}

TEST_CASE("replication: kill -9 of a node under load, restart; it catches up and nothing acknowledged is lost") {
  Cluster& c = cluster();
  const std::string db = "kill";
  create_database(c, 0, db, 3);
  bulk_insert(c, 0, db, "before/", 300);
  std::string diff = wait_identical(c, kAll, db);
  REQUIRE_MESSAGE(diff.empty(), diff);

  // One writer per node, each request sent once (send_request): 201 is an
  // acknowledged document, no answer an unknown outcome.
  struct Writer {
    std::mutex mu;
    std::vector<std::string> acknowledged;
    std::atomic<int> acks{0};
  };
  std::array<Writer, 3> writers;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto ports = c.http_ports();
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; !stop; ++n) {
        const std::string id = "load/" + std::to_string(i) + "-" + std::to_string(n);
        auto a = send_request(ports[i], "PUT", "/databases/" + db + "/docs?id=" + id, doc_body(id), 3s);
        if (a.status == 201) {
          std::lock_guard lock(writers[i].mu);
          writers[i].acknowledged.push_back(id);
          ++writers[i].acks;
        } else if (!a.sent) {
          std::this_thread::sleep_for(20ms);  // down: do not spin
        }
      }
    });
  }
  struct Joiner {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Joiner() {
      stop = true;
      for (auto& t : threads) t.join();
    }
  } joiner{stop, threads};

  auto acks_reach = [&](int i, int n) { return eventually([&] { return writers[i].acks >= n; }); };
  REQUIRE(acks_reach(2, 30));
  // Items node 0 had sent node 2 at the kill, to tell how much it sent after.
  auto sent_at_kill = outgoing(c, 0, db, c[2].tag);
  REQUIRE(sent_at_kill);
  c[2].process->kill9();
  const int after_kill0 = writers[0].acks, after_kill1 = writers[1].acks;
  REQUIRE(acks_reach(0, after_kill0 + 50));
  REQUIRE(acks_reach(1, after_kill1 + 50));
  REQUIRE_MESSAGE(c.heal(2), c.logs());
  const int after_restart2 = writers[2].acks;
  REQUIRE(acks_reach(2, after_restart2 + 30));
  stop = true;
  for (auto& t : threads) t.join();
  threads.clear();

  diff = wait_identical(c, kAll, db);
  REQUIRE_MESSAGE(diff.empty(), diff << "\n" << c.logs());
  for (int node = 0; node < 3; ++node) {
    auto snap = snapshot(c[node].http_port, db);
    REQUIRE(snap);
    size_t missing = 0;
    std::string example;
    for (auto& w : writers) {
      for (const auto& id : w.acknowledged) {
        if (!snap->count(id)) {
          ++missing;
          example = id;
        }
      }
    }
    CHECK_MESSAGE(missing == 0, "node " << node << " lacks " << missing << " acknowledged documents, e.g. " << example);
    for (int k = 0; k < 300; ++k) CHECK(snap->count("before/" + std::to_string(k)) == 1);
  }
  auto sent_after = outgoing(c, 0, db, c[2].tag);
  REQUIRE(sent_after);
  MESSAGE("kill: acknowledged " << writers[0].acks.load() << "/" << writers[1].acks.load() << "/" << writers[2].acks.load()
                                << " documents through nodes 0/1/2; node 0 sent node 2 "
                                << sent_after->at("TotalItems").to_number<int64_t>() -
                                       sent_at_kill->at("TotalItems").to_number<int64_t>()
                                << " items after the kill (the database holds " << 300 + writers[0].acks +
                                       writers[1].acks + writers[2].acks
                                << " documents)");
}

TEST_CASE("replication: counters changed concurrently through every node across a cut add up everywhere") {
  Cluster& c = cluster();
  const std::string db = "counters";
  create_database(c, 0, db, 3);
  for (int d = 0; d < 3; ++d) REQUIRE(put_doc(c, d, db, "c/" + std::to_string(d), "c").status == 201);
  for (int d = 0; d < 3; ++d) wait_everywhere(c, kAll, db, "c/" + std::to_string(d));

  c[1].proxy->cut();
  std::mutex mu;
  std::map<std::pair<std::string, std::string>, int64_t> expected;  // (doc, counter) -> sum of acknowledged deltas
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(1000 + i);
      for (int n = 0; n < 40; ++n) {
        const std::string doc = "c/" + std::to_string(rng() % 3);
        const std::string name = "k" + std::to_string(rng() % 2);
        int64_t delta = static_cast<int64_t>(rng() % 16) - 5;
        if (delta == 0) delta = 1;
        auto r = add_to_counter(c, i, db, doc, name, delta);
        std::lock_guard lock(mu);
        if (r.status == 200) {
          expected[{doc, name}] += delta;
        } else {
          failures.push_back("node " + std::to_string(i) + ": " + std::to_string(r.status) + " " + r.body + r.error);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  c[1].proxy->heal();

  CHECK_MESSAGE(failures.empty(), failures.size() << " increments failed, e.g. " << failures.front());
  for (int node = 0; node < 3; ++node) {
    for (const auto& [key, sum] : expected) {
      std::optional<int64_t> got;
      CHECK_MESSAGE(eventually([&] { return (got = counter_total(c[node].http_port, db, key.first, key.second)) == sum; }),
                    "node " << node << " " << key.first << "/" << key.second << ": " << got.value_or(-999999)
                            << ", acknowledged deltas add up to " << sum);
    }
  }
  const std::string diff = wait_identical(c, kAll, db);
  CHECK_MESSAGE(diff.empty(), diff);
}

TEST_CASE("replication: a node added to a factor-2 group gets every document before it is a Member") {
  Cluster& c = cluster();
  const std::string db = "promo";
  const auto group = create_database(c, 0, db, 2);
  REQUIRE(group.size() == 2);
  std::string added;
  for (const auto& tag : c.all_tags()) {
    if (std::find(group.begin(), group.end(), tag) == group.end()) added = tag;
  }
  const int member = c.index_of(group[0]), newcomer = c.index_of(added);
  std::vector<int> members{c.index_of(group[0]), c.index_of(group[1])};
  constexpr int kDocs = 2000;
  constexpr size_t kPadding = 8192;  // 16 MB in all: sending them takes a while
  bulk_insert(c, member, db, "promo/", kDocs, kPadding);
  std::string diff = wait_identical(c, members, db);
  REQUIRE_MESSAGE(diff.empty(), diff);

  auto r = c.command(0, "PUT", "/admin/databases/node?name=" + db + "&node=" + added);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  // The first moment the record lists the newcomer as a Member, it must have
  // every document (it could only have gained more since the record changed).
  int64_t count_when_member = -2;
  bool was_promotable = false;
  const bool promoted = eventually(
      [&] {
        auto g = group_of(c, 0, db);
        if (!g) return false;
        auto has = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), added) != v.end(); };
        was_promotable = was_promotable || has(g->promotables);
        if (!has(g->members)) return false;
        count_when_member = stat(c[newcomer].http_port, db, "CountOfDocuments");
        return true;
      },
      60s);
  REQUIRE_MESSAGE(promoted, "node " << added << " never became a Member\n" << c.logs());
  CHECK_MESSAGE(count_when_member == kDocs, "node " << added << " was a Member with " << count_when_member << " of "
                                                    << kDocs << " documents (seen as Promotable first: "
                                                    << was_promotable << ")");
  diff = wait_identical(c, kAll, db);
  CHECK_MESSAGE(diff.empty(), diff);
  CHECK(stat(c[newcomer].http_port, db, "CountOfDocuments") == kDocs);
}

TEST_CASE("replication: tombstones are purged once every member has them, not while one is down") {
  Cluster& c = cluster();
  const std::string db = "tombstones";
  create_database(c, 0, db, 3);
  bulk_insert(c, 0, db, "t/", 40);
  std::string diff = wait_identical(c, kAll, db);
  REQUIRE_MESSAGE(diff.empty(), diff);

  for (int k = 0; k < 20; ++k) {
    REQUIRE(call(c[k % 3].http_port, "DELETE", "/databases/" + db + "/docs?id=t/" + std::to_string(k)).status == 204);
  }
  diff = wait_identical(c, kAll, db);
  REQUIRE_MESSAGE(diff.empty(), diff);
  for (int node = 0; node < 3; ++node) {
    CHECK_MESSAGE(eventually([&] { return stat(c[node].http_port, db, "CountOfTombstones") == 0; }),
                  "node " << node << " keeps " << stat(c[node].http_port, db, "CountOfTombstones") << " tombstones");
  }

  c[2].process->kill9();
  for (int k = 20; k < 30; ++k) {
    REQUIRE(call(c[k % 2].http_port, "DELETE", "/databases/" + db + "/docs?id=t/" + std::to_string(k)).status == 204);
  }
  diff = wait_identical(c, {0, 1}, db);
  REQUIRE_MESSAGE(diff.empty(), diff);
  // Several purge rounds (one a second) pass; node 2 has acknowledged none of
  // these deletions, so no member may drop them.
  std::this_thread::sleep_for(3s);
  for (int node = 0; node < 2; ++node) CHECK(stat(c[node].http_port, db, "CountOfTombstones") == 10);

  REQUIRE_MESSAGE(c.heal(2), c.logs());
  diff = wait_identical(c, kAll, db);
  REQUIRE_MESSAGE(diff.empty(), diff << "\n" << c.logs());
  CHECK(snapshot(c[2].http_port, db)->size() == 10);
  for (int node = 0; node < 3; ++node) {
    CHECK_MESSAGE(eventually([&] { return stat(c[node].http_port, db, "CountOfTombstones") == 0; }),
                  "node " << node << " keeps " << stat(c[node].http_port, db, "CountOfTombstones") << " tombstones");
  }
}

TEST_CASE("replication: a conflict kept by the solver reaches every member, also the one whose version came later") {
  Cluster& c = cluster();
  const std::string db = "kept";
  create_database(c, 0, db, 3);
  auto solver = c.command(0, "POST", "/admin/replication/conflicts/solver?name=" + db,
                          R"({"ResolveToLatest":false,"ResolveByCollection":{}})");
  REQUIRE_MESSAGE(solver.status == 201, solver.body);
  REQUIRE(put_doc(c, 0, db, "marker/1", "m").status == 201);
  wait_everywhere(c, kAll, db, "marker/1");

  // Nothing reaches node 1, which can still send: node 0's version reaches
  // node 2 only, then node 1's concurrent version reaches nodes 0 and 2, which
  // keep the conflict. After the heal node 1 must get node 0's version too.
  c[1].proxy->cut();
  REQUIRE(put_doc(c, 0, db, "users/1", "from-0").status == 201);
  REQUIRE(eventually([&] { return current_value(c[2].http_port, db, "users/1", "v") == "from-0"; }));
  REQUIRE(put_doc(c, 1, db, "users/1", "from-1").status == 201);
  for (int node : {0, 2}) {
    REQUIRE_MESSAGE(eventually([&] {
                      return call(c[node].http_port, "GET", "/databases/" + db + "/docs?id=users/1").status == 409;
                    }),
                    "node " << node << " did not keep the conflict\n" << c.logs());
  }
  c[1].proxy->heal();

  for (int node = 0; node < 3; ++node) {
    std::set<std::string> versions;
    const bool kept = eventually([&] {
      auto r = call(c[node].http_port, "GET", "/databases/" + db + "/replication/conflicts?docId=users/1");
      auto o = parse_object(r.body);
      versions.clear();
      if (r.status != 200 || !o) return false;
      for (const auto& v : o->at("Results").as_array()) versions.insert(std::string(v.at("Doc").at("v").as_string()));
      return versions == std::set<std::string>{"from-0", "from-1"};
    });
    std::string seen;
    for (const auto& v : versions) seen += " " + v;
    CHECK_MESSAGE(kept, "node " << node << " lists the versions {" << seen << " } of users/1, not {from-0 from-1}; it answers "
                                << call(c[node].http_port, "GET", "/databases/" + db + "/docs?id=users/1").body);
  }
}

namespace {

// A database whose solver keeps conflicts, replicating on all three nodes.
void create_keeping_conflicts(Cluster& c, const std::string& db) {
  create_database(c, 0, db, 3);
  auto solver = c.command(0, "POST", "/admin/replication/conflicts/solver?name=" + db,
                          R"({"ResolveToLatest":false,"ResolveByCollection":{}})");
  REQUIRE_MESSAGE(solver.status == 201, solver.body);
  REQUIRE(put_doc(c, 0, db, "marker/1", "m").status == 201);
  wait_everywhere(c, kAll, db, "marker/1");
}

// The "v" of each version of `id` in conflict on `node` (empty: not in conflict).
std::set<std::string> conflict_values(Cluster& c, int node, const std::string& db, const std::string& id) {
  std::set<std::string> out;
  auto o = get_json(c[node].http_port, "/databases/" + db + "/replication/conflicts?docId=" + id);
  if (!o) return out;
  for (const auto& v : o->at("Results").as_array()) out.insert(std::string(v.at("Doc").at("v").as_string()));
  return out;
}

std::string text(const std::set<std::string>& s) {
  std::string out;
  for (const auto& v : s) out += " " + v;
  return out;
}

}  // namespace

TEST_CASE("replication: a kept conflict drops a version once a newer one of the same line arrives") {
  Cluster& c = cluster();
  const std::string db = "kept-line";
  create_keeping_conflicts(c, db);
  auto versions_on = [&](int node) { return conflict_values(c, node, db, "users/1"); };

  // Every node alone: x1 on node 0, y1 on node 1, concurrent.
  for (int i = 0; i < 3; ++i) c[i].proxy->cut();
  REQUIRE(put_doc(c, 0, db, "users/1", "x1").status == 201);
  REQUIRE(put_doc(c, 1, db, "users/1", "y1").status == 201);
  // Node 1 hears node 0: it keeps the conflict {x1, y1}.
  c[1].proxy->heal();
  const std::set<std::string> first{"x1", "y1"};
  REQUIRE_MESSAGE(eventually([&] { return versions_on(1) == first; }), "node 1 holds {" << text(versions_on(1)) << " }");
  // Node 0, which has not heard node 1, overwrites its own x1 with x2: x2
  // supersedes x1 and is concurrent with y1, so node 1 must hold {x2, y1}.
  REQUIRE(put_doc(c, 0, db, "users/1", "x2").status == 201);
  const std::set<std::string> second{"x2", "y1"};
  REQUIRE_MESSAGE(eventually([&] { return versions_on(1) == second; }),
                  "node 1 holds {" << text(versions_on(1)) << " }, not { x2 y1 } (node 0: {" << text(versions_on(0))
                                   << " }, node 2: {" << text(versions_on(2)) << " })");
  for (int i = 0; i < 3; ++i) c[i].proxy->heal();
  for (int node = 0; node < 3; ++node) {
    CHECK_MESSAGE(eventually([&] { return versions_on(node) == second; }),
                  "node " << node << " holds {" << text(versions_on(node)) << " }, not { x2 y1 }");
  }
}

TEST_CASE("replication: a kept conflict ignores an older version of one of its lines arriving late") {
  Cluster& c = cluster();
  const std::string db = "kept-late";
  create_keeping_conflicts(c, db);
  auto versions_on = [&](int node) { return conflict_values(c, node, db, "users/1"); };

  // x1 on node 0 reaches node 2 only; then node 0 overwrites it with x2 and
  // node 1 writes y1, nobody hearing anybody.
  for (int i = 0; i < 3; ++i) c[i].proxy->cut();
  REQUIRE(put_doc(c, 0, db, "users/1", "x1").status == 201);
  c[2].proxy->heal();
  REQUIRE(eventually([&] { return current_value(c[2].http_port, db, "users/1", "v") == "x1"; }));
  c[2].proxy->cut();
  REQUIRE(put_doc(c, 0, db, "users/1", "x2").status == 201);
  REQUIRE(put_doc(c, 1, db, "users/1", "y1").status == 201);
  // Node 1 hears node 0 (node 2 paused): the conflict {x2, y1}. Then node 2
  // runs again and offers x1, which x2 supersedes: node 1 must ignore it.
  c[2].process->stop();
  c[1].proxy->heal();
  const std::set<std::string> expected{"x2", "y1"};
  REQUIRE_MESSAGE(eventually([&] { return versions_on(1) == expected; }), "node 1 holds {" << text(versions_on(1)) << " }");
  c[2].process->resume();
  for (int i = 0; i < 3; ++i) c[i].proxy->heal();
  // Node 2 has caught up once it holds the conflict too; by then it has
  // offered node 1 its x1.
  REQUIRE_MESSAGE(eventually([&] { return !versions_on(2).empty(); }), "node 2 holds {" << text(versions_on(2)) << " }");
  for (int node = 0; node < 3; ++node) {
    CHECK_MESSAGE(eventually([&] { return versions_on(node) == expected; }),
                  "node " << node << " holds {" << text(versions_on(node)) << " }, not { x2 y1 }");
  }
}
