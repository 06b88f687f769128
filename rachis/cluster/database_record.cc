#include "rachis/cluster/database_record.h"

#include <algorithm>
#include <cctype>

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

namespace {

void erase_tag(std::vector<std::string>& v, const std::string& tag) {
  v.erase(std::remove(v.begin(), v.end(), tag), v.end());
}

}  // namespace

bool DatabaseTopology::contains(const std::string& tag) const {
  auto in = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), tag) != v.end(); };
  return in(members) || in(promotables) || in(rehabs);
}

std::vector<std::string> DatabaseTopology::all_nodes() const {
  std::vector<std::string> out = members;
  out.insert(out.end(), promotables.begin(), promotables.end());
  out.insert(out.end(), rehabs.begin(), rehabs.end());
  return out;
}

void DatabaseTopology::remove(const std::string& tag) {
  erase_tag(members, tag);
  erase_tag(promotables, tag);
  erase_tag(rehabs, tag);
}

json::object DatabaseTopology::to_json() const {
  return {{"Members", strings_to_json(members)},
          {"Promotables", strings_to_json(promotables)},
          {"Rehabs", strings_to_json(rehabs)},
          {"ReplicationFactor", replication_factor},
          {"Stamp", json::object{{"Index", stamp}}}};
}

DatabaseTopology DatabaseTopology::from_json(const json::object& o) {
  DatabaseTopology t;
  t.members = get_strings(o, "Members");
  t.promotables = get_strings(o, "Promotables");
  t.rehabs = get_strings(o, "Rehabs");
  t.replication_factor = static_cast<std::uint32_t>(get_u64(o, "ReplicationFactor"));
  if (auto* s = o.if_contains("Stamp"); s && s->is_object()) t.stamp = get_u64(s->as_object(), "Index");
  return t;
}

const HubDefinition* DatabaseRecord::hub(std::string_view hub_name) const {
  for (const auto& h : hub_pull_replications) {
    if (h.name.size() == hub_name.size() &&
        std::equal(h.name.begin(), h.name.end(), hub_name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return &h;
    }
  }
  return nullptr;
}

const HubDefinition* DatabaseRecord::hub_by_task_id(std::uint64_t task_id) const {
  for (const auto& h : hub_pull_replications) {
    if (h.task_id == task_id) return &h;
  }
  return nullptr;
}

bool valid_lock_mode(std::string_view mode) {
  return mode == "Unlock" || mode == "PreventDeletesIgnore" || mode == "PreventDeletesError";
}

json::object DatabaseRecord::to_json(bool with_secrets) const {
  json::object o = settings;
  o["LockMode"] = lock_mode;
  // Corvus has no restore or offline states yet: a record that exists is a
  // database in normal operation.
  o["DatabaseState"] = "Normal";
  o["DatabaseName"] = name;
  o["Topology"] = topology.to_json();
  o["CreatedIndex"] = created_index;
  o["ClusterTransactionId"] = cluster_transaction_id;
  json::object deleting;
  for (const auto& [tag, hard] : deletion_in_progress) deleting[tag] = hard ? "HardDelete" : "SoftDelete";
  o["DeletionInProgress"] = std::move(deleting);
  if (revisions) o["Revisions"] = revisions->to_json();
  if (conflict_solver) o["ConflictSolverConfig"] = conflict_solver->to_json();
  if (!hub_pull_replications.empty()) {
    json::array hubs;
    for (const auto& h : hub_pull_replications) hubs.push_back(h.to_json());
    o["HubPullReplications"] = std::move(hubs);
  }
  if (!raven_connection_strings.empty()) {
    json::object strings;
    for (const auto& [n, c] : raven_connection_strings) strings[n] = c.to_json();
    o["RavenConnectionStrings"] = std::move(strings);
  }
  if (!sink_pull_replications.empty()) {
    json::array sinks;
    for (const auto& d : sink_pull_replications) sinks.push_back(d.to_json(with_secrets));
    o["SinkPullReplications"] = std::move(sinks);
  }
  if (!external_replications.empty()) {
    json::array externals;
    for (const auto& d : external_replications) externals.push_back(d.to_json());
    o["ExternalReplications"] = std::move(externals);
  }
  if (!hub_accesses.empty()) {
    json::array accesses;
    for (const auto& a : hub_accesses) accesses.push_back(a.to_json());
    o["ReplicationHubAccess"] = std::move(accesses);
  }
  if (!hub_sink_database_ids.empty()) {
    json::array ids;
    for (const auto& id : hub_sink_database_ids) ids.emplace_back(id);
    o["HubSinkDatabaseIds"] = std::move(ids);
  }
  if (!o.contains("Disabled")) o["Disabled"] = false;
  if (!o.contains("Settings")) o["Settings"] = json::object{};
  return o;
}

bool DatabaseRecord::from_json(const json::object& o, DatabaseRecord* out) {
  auto* n = o.if_contains("DatabaseName");
  if (!n || !n->is_string()) return false;
  DatabaseRecord r;
  r.name = std::string(n->as_string());
  if (auto* t = o.if_contains("Topology"); t && t->is_object()) r.topology = DatabaseTopology::from_json(t->as_object());
  r.created_index = get_u64(o, "CreatedIndex");
  r.cluster_transaction_id = get_string(o, "ClusterTransactionId");
  if (auto* d = o.if_contains("DeletionInProgress"); d && d->is_object()) {
    for (const auto& kv : d->as_object()) {
      r.deletion_in_progress[std::string(kv.key())] = kv.value().is_string() && kv.value().as_string() == "HardDelete";
    }
  }
  if (std::string mode = get_string(o, "LockMode"); valid_lock_mode(mode)) r.lock_mode = mode;
  r.settings = o;
  r.settings.erase("LockMode");
  r.settings.erase("DatabaseState");
  if (auto* rev = o.if_contains("Revisions"); rev && !rev->is_null()) {
    // Validated before it is proposed (ConfigureRevisions, the create
    // handler). Should one still not parse, it stays verbatim in the settings
    // and is not in force: a record that cannot be read would stop the node.
    auto parsed = storage::RevisionsConfiguration::from_json(*rev);
    if (parsed.ok()) {
      r.revisions = std::make_shared<const storage::RevisionsConfiguration>(std::move(parsed).value());
      r.settings.erase("Revisions");
    }
  }
  if (auto* solver = o.if_contains("ConflictSolverConfig"); solver && !solver->is_null()) {
    // As Revisions above: validated before it is proposed; one that does not
    // parse stays verbatim and is not in force.
    auto parsed = ConflictSolverConfig::from_json(*solver);
    if (parsed.ok()) {
      r.conflict_solver = std::make_shared<const ConflictSolverConfig>(std::move(parsed).value());
      r.settings.erase("ConflictSolverConfig");
    }
  }
  // Pull replication: written by the pull replication commands (validated by
  // their proposer); as above, a list that does not parse stays verbatim.
  if (auto* hubs = o.if_contains("HubPullReplications"); hubs && hubs->is_array()) {
    std::vector<HubDefinition> parsed;
    for (const auto& h : hubs->as_array()) {
      auto d = HubDefinition::from_json(h);
      if (!d.ok()) break;
      parsed.push_back(std::move(d).value());
    }
    if (parsed.size() == hubs->as_array().size()) {
      r.hub_pull_replications = std::move(parsed);
      r.settings.erase("HubPullReplications");
    }
  }
  if (auto* accesses = o.if_contains("ReplicationHubAccess"); accesses && accesses->is_array()) {
    std::vector<HubAccess> parsed;
    for (const auto& a : accesses->as_array()) {
      if (!a.is_object()) break;
      auto access = HubAccess::from_json(a.as_object());
      if (!access.ok()) break;
      parsed.push_back(std::move(access).value());
    }
    if (parsed.size() == accesses->as_array().size()) {
      r.hub_accesses = std::move(parsed);
      r.settings.erase("ReplicationHubAccess");
    }
  }
  if (auto* strings = o.if_contains("RavenConnectionStrings"); strings && strings->is_object()) {
    std::map<std::string, RavenConnectionString> parsed;
    for (const auto& kv : strings->as_object()) {
      auto c = RavenConnectionString::from_json(kv.value());
      if (!c.ok()) break;
      parsed.emplace(std::string(kv.key()), std::move(c).value());
    }
    if (parsed.size() == strings->as_object().size()) {
      r.raven_connection_strings = std::move(parsed);
      r.settings.erase("RavenConnectionStrings");
    }
  }
  if (auto* sinks = o.if_contains("SinkPullReplications"); sinks && sinks->is_array()) {
    std::vector<SinkDefinition> parsed;
    for (const auto& d : sinks->as_array()) {
      auto sink = SinkDefinition::from_json(d);
      if (!sink.ok()) break;
      parsed.push_back(std::move(sink).value());
    }
    if (parsed.size() == sinks->as_array().size()) {
      r.sink_pull_replications = std::move(parsed);
      r.settings.erase("SinkPullReplications");
    }
  }
  if (auto* ids = o.if_contains("HubSinkDatabaseIds"); ids && ids->is_array()) {
    for (const auto& id : get_strings(o, "HubSinkDatabaseIds")) r.hub_sink_database_ids.insert(id);
    r.settings.erase("HubSinkDatabaseIds");
  }
  if (auto* externals = o.if_contains("ExternalReplications"); externals && externals->is_array()) {
    std::vector<ExternalReplicationDefinition> parsed;
    for (const auto& d : externals->as_array()) {
      auto e = ExternalReplicationDefinition::from_json(d);
      if (!e.ok()) break;
      parsed.push_back(std::move(e).value());
    }
    if (parsed.size() == externals->as_array().size()) {
      r.external_replications = std::move(parsed);
      r.settings.erase("ExternalReplications");
    }
  }
  r.settings.erase("DatabaseName");
  r.settings.erase("Topology");
  r.settings.erase("CreatedIndex");
  r.settings.erase("DeletionInProgress");
  r.settings.erase("ClusterTransactionId");
  *out = std::move(r);
  return true;
}

}  // namespace corvus::rachis::cluster
