#pragma once
// What a replicated database looks like on each node of a test Cluster, read
// over HTTP, for the replication tests (replication_process_test,
// replication_faults_test): every document with its change vector and body,
// counter totals, revisions and their flags, /stats counts; and the waits
// that compare them across nodes. Reads go through `call` (a fresh,
// time-bounded connection each), so use them on running, not stopped, nodes.
// Free functions, no state: thread-safe as far as the Cluster's ports are
// read only. Uses doctest through test_cluster.h.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "tests/support/test_cluster.h"

namespace corvus::testing {

// Every document of a database on one node, by id: the whole document as
// served (body and @metadata, change vector included), serialized.
using DocSnapshot = std::map<std::string, std::string>;

// A database's documents on the node at `port`, paged through GET /docs;
// nullopt if any page did not answer 200.
inline std::optional<DocSnapshot> snapshot(uint16_t port, const std::string& db) {
  DocSnapshot out;
  constexpr int kPage = 1024;
  for (int start = 0;; start += kPage) {
    auto page = get_json(port, "/databases/" + db + "/docs?start=" + std::to_string(start) +
                                   "&pageSize=" + std::to_string(kPage), {}, std::chrono::seconds(10));
    if (!page) return std::nullopt;
    const auto* results = page->if_contains("Results");
    if (!results || !results->is_array()) return std::nullopt;
    for (const auto& d : results->as_array()) {
      const auto& md = d.at("@metadata").as_object();
      out[std::string(md.at("@id").as_string())] = json::serialize(d);
    }
    if (results->as_array().size() < static_cast<size_t>(kPage)) return out;
  }
}

// The first difference between two snapshots, for messages; empty if equal.
inline std::string first_difference(const DocSnapshot& a, const DocSnapshot& b) {
  for (const auto& [id, doc] : a) {
    auto it = b.find(id);
    if (it == b.end()) return id + " only on the first: " + doc;
    if (it->second != doc) return id + " differs:\n    " + doc + "\n    " + it->second;
  }
  for (const auto& [id, doc] : b) {
    if (!a.count(id)) return id + " only on the second: " + doc;
  }
  return "";
}

// Waits until the nodes `nodes` serve identical documents of `db` (same ids,
// change vectors and bodies). Returns "" once they do, else what differed last.
inline std::string wait_identical(Cluster& c, const std::vector<int>& nodes, const std::string& db,
                                  std::chrono::milliseconds timeout = kWait) {
  std::string why;
  eventually(
      [&] {
        std::vector<DocSnapshot> snaps;
        for (int i : nodes) {
          auto s = snapshot(c[i].http_port, db);
          if (!s) {
            why = "node " + std::to_string(i) + " did not list its documents";
            return false;
          }
          snaps.push_back(std::move(*s));
        }
        for (size_t k = 1; k < snaps.size(); ++k) {
          auto d = first_difference(snaps[0], snaps[k]);
          if (!d.empty()) {
            why = "node " + std::to_string(nodes[0]) + " (" + std::to_string(snaps[0].size()) + " docs) vs node " +
                  std::to_string(nodes[k]) + " (" + std::to_string(snaps[k].size()) + " docs): " + d;
            return false;
          }
        }
        why.clear();
        return true;
      },
      timeout);
  return why;
}

// GET /databases/{db}/stats's `field` on the node at `port`; -1 without an answer.
inline int64_t stat(uint16_t port, const std::string& db, const char* field) {
  auto s = get_json(port, "/databases/" + db + "/stats");
  if (!s || !s->if_contains(field)) return -1;
  return s->at(field).to_number<int64_t>();
}

// The TotalValue of counter `name` of document `doc`; nullopt when the node
// does not answer or has no such counter.
inline std::optional<int64_t> counter_total(uint16_t port, const std::string& db, const std::string& doc,
                                            const std::string& name) {
  auto o = get_json(port, "/databases/" + db + "/counters?docId=" + doc + "&counter=" + name);
  if (!o) return std::nullopt;
  const auto* list = o->if_contains("Counters");
  if (!list || !list->is_array() || list->as_array().size() != 1 || !list->as_array()[0].is_object()) {
    return std::nullopt;
  }
  return list->as_array()[0].as_object().at("TotalValue").to_number<int64_t>();
}

// One version of a document kept as a revision: its body field `field` (or
// "(deleted)" when it has none) and its @flags.
struct RevisionSeen {
  std::string value;
  std::string flags;
};

// The revisions of `id` on the node at `port`; nullopt without a 200.
inline std::optional<std::vector<RevisionSeen>> revisions(uint16_t port, const std::string& db, const std::string& id,
                                                          const char* field) {
  auto o = get_json(port, "/databases/" + db + "/revisions?id=" + id, {}, std::chrono::seconds(10));
  if (!o) return std::nullopt;
  std::vector<RevisionSeen> out;
  for (const auto& rev : o->at("Results").as_array()) {
    RevisionSeen seen;
    const auto* v = rev.as_object().if_contains(field);
    seen.value = v && v->is_string() ? std::string(v->as_string()) : std::string("(deleted)");
    const auto* flags = rev.at("@metadata").as_object().if_contains("@flags");
    if (flags && flags->is_string()) seen.flags = std::string(flags->as_string());
    out.push_back(std::move(seen));
  }
  return out;
}

// The string field `field` of document `id` as the node serves it now;
// nullopt unless 200.
inline std::optional<std::string> current_value(uint16_t port, const std::string& db, const std::string& id,
                                                const char* field) {
  auto o = get_json(port, "/databases/" + db + "/docs?id=" + id);
  if (!o) return std::nullopt;
  const auto& doc = o->at("Results").as_array().at(0).as_object();
  const auto* v = doc.if_contains(field);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Creates `db` with `factor` (and `extra` fields in the body, e.g. a Revisions
// configuration) through node `via` and waits until every node of its group
// serves it. The group's node tags.
inline std::vector<std::string> create_database(Cluster& c, int via, const std::string& db, int factor,
                                                const std::string& extra = "") {
  auto created = c.command(via, "PUT", "/admin/databases?name=" + db + "&replicationFactor=" + std::to_string(factor),
                           "{\"DatabaseName\":\"" + db + "\"" + (extra.empty() ? "" : "," + extra) + "}");
  REQUIRE_MESSAGE(created.status == 201, created.status << " " << created.body);
  auto record = get_json(c[via].http_port, "/admin/databases?name=" + db);
  REQUIRE(record);
  std::vector<std::string> group;
  for (const auto& t : record->at("Topology").at("Members").as_array()) group.emplace_back(t.as_string());
  for (const auto& tag : group) {
    const int i = c.index_of(tag);
    REQUIRE(i >= 0);
    REQUIRE_MESSAGE(eventually([&] { return get_json(c[i].http_port, "/databases/" + db + "/stats").has_value(); }),
                    "node " << i << " did not open " << db << "\n" << c.logs());
  }
  return group;
}

// The database's group as node `i` sees its record: members, promotables and rehabs.
struct GroupView {
  std::vector<std::string> members, promotables, rehabs;
};
inline std::optional<GroupView> group_of(Cluster& c, int i, const std::string& db) {
  auto record = get_json(c[i].http_port, "/admin/databases?name=" + db);
  if (!record) return std::nullopt;
  GroupView g;
  const auto& t = record->at("Topology").as_object();
  for (const auto& v : t.at("Members").as_array()) g.members.emplace_back(v.as_string());
  for (const auto& v : t.at("Promotables").as_array()) g.promotables.emplace_back(v.as_string());
  for (const auto& v : t.at("Rehabs").as_array()) g.rehabs.emplace_back(v.as_string());
  return g;
}

}  // namespace corvus::testing
