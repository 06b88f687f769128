// Database administration as the official clients do it, through the
// cluster: create (PUT /admin/databases), delete (DELETE /admin/databases),
// add a node to a group (PUT /admin/databases/node), list (GET /databases),
// read the record (GET /admin/databases?name=) and statistics
// (GET /databases/{db}/stats, local; /stats/detailed adds the database's
// compare-exchange and identity counts from the cluster state). Creates and deletes are Rachis commands
// (rachis/cluster/commands/database_commands.h); a create answers once every
// chosen node has opened its copy (or a bounded wait ran out).

#include <algorithm>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "rachis/cluster/commands/database_commands.h"
#include "query/index_store.h"
#include "server/document_database.h"
#include "server/handlers/document_conflicts.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/random_ids.h"
#include "storage/revisions_configuration.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;
namespace rc = rachis::cluster;

// The URLs of `tags`, from the cluster topology.
json::array urls_of(ServerStore& store, const std::vector<std::string>& tags) {
  const auto topo = store.cluster().node().state().topology();
  json::array out;
  for (const auto& t : tags) {
    if (auto it = topo.nodes.find(t); it != topo.nodes.end()) out.emplace_back(it->second.url);
  }
  return out;
}

void handle_create(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  if (!body->is_object()) return respond_error(respond, Status::InvalidArgument("DatabaseRecord must be an object"), req);
  auto& record = body->as_object();
  std::string name;
  if (const auto* n = record.if_contains("DatabaseName"); n && n->is_string()) name = std::string(n->as_string());
  const auto query_name = req.query.get("name");
  if (name.empty() && query_name) name = *query_name;
  if (name.empty()) return respond_error(respond, Status::InvalidArgument("DatabaseRecord.DatabaseName is required"), req);
  if (query_name && !query_name->empty() && storage::lower_id(*query_name) != storage::lower_id(name)) {
    return respond_error(respond,
                         Status::InvalidArgument("Query string name '" + *query_name +
                                                 "' differs from DatabaseRecord.DatabaseName '" + name + "'"),
                         req);
  }
  if (Status s = DatabasesLandlord::validate_name(name); !s.ok()) return respond_error(respond, s, req);
  if (const auto* rev = record.if_contains("Revisions"); rev && !rev->is_null()) {
    if (auto c = storage::RevisionsConfiguration::from_json(*rev); !c.ok()) return respond_error(respond, c.status(), req);
  }
  if (const auto* solver = record.if_contains("ConflictSolverConfig"); solver && !solver->is_null()) {
    if (auto c = rc::ConflictSolverConfig::from_json(*solver); !c.ok()) {
      return respond_error(respond, Status::InvalidArgument("ConflictSolverConfig: " + c.status().message()), req);
    }
  }

  rc::AddDatabaseCommand cmd;
  cmd.record.name = name;
  cmd.record.cluster_transaction_id = storage::new_database_id();
  std::uint64_t factor = 0;
  if (const auto* t = record.if_contains("Topology"); t && t->is_object()) {
    const auto given = rc::DatabaseTopology::from_json(t->as_object());
    cmd.record.topology.members = given.members;
    factor = given.replication_factor;
  }
  auto query_factor = query_uint(req, "replicationFactor", 0);
  if (!query_factor.ok()) return respond_error(respond, query_factor.status(), req);
  if (*query_factor != 0) factor = *query_factor;
  if (!cmd.record.topology.members.empty()) factor = cmd.record.topology.members.size();
  cmd.record.topology.replication_factor = static_cast<std::uint32_t>(factor == 0 ? 1 : factor);
  record.erase("DatabaseName");
  record.erase("Topology");
  cmd.record.settings = std::move(record);

  store.cluster().execute(cmd, [&store, respond, url = req.target](rc::CommandResult r, rachis::core::Index index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    const auto topology = rc::DatabaseTopology::from_json(r.value.as_object().at("Topology").as_object());
    const bool started = store.cluster().run_async([&store, respond, r, index, topology] {
      wait_for_members(store, topology.members, index);
      json::object out{{"RaftCommandIndex", index},
                       {"Name", r.value.as_object().at("Name")},
                       {"Topology", topology.to_json()},
                       {"NodesAddedTo", urls_of(store, topology.members)}};
      respond(http::Response::json(201, json::serialize(out)));
    });
    if (!started) respond(http::error_response(Status::Busy("too many cluster requests in flight; the database was "
                                                            "created at index " + std::to_string(index)),
                                               url));
  });
}

void handle_delete(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  rc::DeleteDatabaseCommand cmd;
  cmd.names = req.query.get_all("name");
  if (!req.body.empty()) {
    auto body = parse_json_body(req);
    if (!body.ok()) return respond_error(respond, body.status(), req);
    const auto* o = body->is_object() ? &body->as_object() : nullptr;
    const auto* list = o ? o->if_contains("DatabaseNames") : nullptr;
    if (!list || !list->is_array())
      return respond_error(respond, Status::InvalidArgument("Body must contain a \"DatabaseNames\" array"), req);
    for (const auto& n : list->as_array()) {
      if (!n.is_string()) return respond_error(respond, Status::InvalidArgument("DatabaseNames must be strings"), req);
      cmd.names.emplace_back(n.as_string());
    }
    if (auto* hard = o->if_contains("HardDelete"); hard && hard->is_bool()) cmd.hard_delete = hard->as_bool();
    if (auto* from = o->if_contains("FromNodes"); from && from->is_array()) {
      for (const auto& n : from->as_array()) {
        if (!n.is_string()) return respond_error(respond, Status::InvalidArgument("FromNodes must be strings"), req);
        cmd.from_nodes.emplace_back(n.as_string());
      }
    }
  }
  if (cmd.names.empty()) return respond_error(respond, Status::InvalidArgument("No database names given"), req);
  // As RavenDB: a database that does not exist is skipped, and nothing to
  // delete (every name missing, or locked with PreventDeletesIgnore) is
  // answered without a cluster command.
  bool nothing_to_delete = true;
  for (const auto& n : cmd.names) {
    auto r = store.cluster().state().record(n);
    nothing_to_delete &= !r || !r->active() || r->lock_mode == "PreventDeletesIgnore";
  }
  if (nothing_to_delete) return respond(http::Response::json(200, R"({"RaftCommandIndex":-1,"PendingDeletes":[]})"));
  store.cluster().execute(cmd, [respond, url = req.target](rc::CommandResult r, rachis::core::Index index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    json::object out{{"RaftCommandIndex", index}, {"PendingDeletes", r.value.as_object().at("PendingDeletes")}};
    respond(http::Response::json(200, json::serialize(out)));
  });
}

// POST /admin/databases/set-lock {"DatabaseNames": [...], "Mode": "..."}.
void handle_set_lock(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  const auto* o = body->is_object() ? &body->as_object() : nullptr;
  const auto* list = o ? o->if_contains("DatabaseNames") : nullptr;
  const auto* mode = o ? o->if_contains("Mode") : nullptr;
  if (!list || !list->is_array() || list->as_array().empty())
    return respond_error(respond, Status::InvalidArgument("Body must contain a non-empty \"DatabaseNames\" array"), req);
  if (!mode || !mode->is_string() || !rc::valid_lock_mode(mode->as_string()))
    return respond_error(respond,
                         Status::InvalidArgument("\"Mode\" must be Unlock, PreventDeletesIgnore or PreventDeletesError"),
                         req);
  rc::SetDatabasesLockCommand cmd;
  cmd.mode = std::string(mode->as_string());
  for (const auto& n : list->as_array()) {
    if (!n.is_string()) return respond_error(respond, Status::InvalidArgument("DatabaseNames must be strings"), req);
    auto r = store.cluster().state().record(n.as_string());
    if (!r || !r->active()) return respond(database_missing(n.as_string(), req.target));
    cmd.names.push_back(r->name);
  }
  // The clients read no body (a void command); answered once applied here.
  store.cluster().execute(cmd, [respond, url = req.target](rc::CommandResult r, rachis::core::Index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    respond(http::Response::empty(204));
  });
}

void handle_add_node(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  auto record = store.cluster().state().record(*name);
  if (!record || !record->active()) return respond(database_missing(*name, req.target));
  rc::AddDatabaseNodeCommand cmd;
  cmd.name = record->name;
  cmd.node_tag = req.query.get("node").value_or("");
  if (cmd.node_tag.empty()) {
    // The cluster node outside the group that hosts the fewest databases.
    const auto topo = store.cluster().node().state().topology();
    const auto records = store.cluster().state().records();
    std::size_t best = SIZE_MAX;
    for (const auto& [tag, n] : topo.nodes) {
      if (record->topology.contains(tag)) continue;
      const auto load = static_cast<std::size_t>(std::count_if(
          records.begin(), records.end(), [&](const auto& r) { return r->topology.contains(tag); }));
      if (load < best) {
        best = load;
        cmd.node_tag = tag;
      }
    }
    if (cmd.node_tag.empty()) {
      return respond_error(respond,
                           Status::InvalidArgument("Database '" + record->name +
                                                   "' already exists on all the nodes of the cluster."),
                           req);
    }
  }
  store.cluster().execute(cmd, [respond, url = req.target](rc::CommandResult r, rachis::core::Index index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    json::object out = r.value.as_object();
    out["RaftCommandIndex"] = index;
    respond(http::Response::json(200, json::serialize(out)));
  });
}

void handle_list(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto paging = query_paging(req, std::numeric_limits<uint32_t>::max());
  if (!paging.ok()) return respond_error(respond, paging.status(), req);
  const bool names_only = req.query.get("namesOnly").value_or("") == "true";
  std::vector<std::shared_ptr<const rc::DatabaseRecord>> records;
  for (auto& r : store.cluster().state().records()) {
    if (r->active()) records.push_back(std::move(r));
  }
  json::array list;
  for (size_t i = paging->start; i < records.size() && list.size() < paging->page_size; ++i) {
    const auto& r = *records[i];
    if (names_only) {
      list.emplace_back(r.name);
      continue;
    }
    json::array members;
    const auto urls = urls_of(store, r.topology.members);
    for (size_t m = 0; m < r.topology.members.size() && m < urls.size(); ++m) {
      members.push_back(json::object{{"NodeTag", r.topology.members[m]}, {"NodeUrl", urls[m]}});
    }
    list.emplace_back(json::object{{"Name", r.name}, {"Disabled", false}, {"NodesTopology", json::object{{"Members", members}}}});
  }
  respond(http::Response::json(200, json::serialize(json::object{{"Databases", std::move(list)}})));
}

// RavenDB's AutoIndexes of a record: the automatic indexes of this node's
// copy (each node indexes its own copy and keeps its auto-indexes locally, so
// the answering node's are listed; none when the database is not open here).
json::object auto_indexes_of(ServerStore& store, const std::string& database) {
  json::object out;
  auto db = store.databases().get(database);
  if (!db) return out;
  for (const auto& index : db->indexes().list()) {
    const query::AutoIndexDefinition& definition = index->definition();
    json::object map_fields;
    for (const auto& field : definition.fields) {
      map_fields[field.text] = json::object{{"Storage", "No"},
                                            {"Indexing", "Default"},
                                            {"Aggregation", "None"},
                                            {"Spatial", nullptr},
                                            {"GroupByArrayBehavior", "NotApplicable"},
                                            {"Suggestions", false},
                                            {"IsNameQuoted", false}};
    }
    out[index->name()] = json::object{{"Type", "AutoMap"},
                                      {"Name", index->name()},
                                      {"Priority", "Normal"},
                                      {"State", "Normal"},
                                      {"Collection", definition.collection},
                                      {"MapFields", std::move(map_fields)},
                                      {"GroupByFields", json::object{}}};
  }
  return out;
}

void handle_get_record(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  auto record = store.cluster().state().record(*name);
  if (!record || !record->active()) return respond(http::Response::empty(404));
  json::object answer = record->to_json(/*with_secrets=*/false);
  answer["AutoIndexes"] = auto_indexes_of(store, record->name);
  respond(http::Response::json(200, json::serialize(answer)));
}

void handle_stats(ServerStore& store, const http::Request& req, const http::Respond& respond, bool detailed) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto s = db->storage().stats();
  namespace keys = storage::meta_keys;
  uint64_t counts[4];
  const char* const count_keys[4] = {keys::kRevisionCount, keys::kAttachmentCount, keys::kUniqueAttachmentCount,
                                     keys::kCounterCount};
  for (int i = 0; i < 4; ++i) {
    auto c = db->storage().read_count(count_keys[i]);
    if (!c.ok()) return respond_error(respond, c.status(), req);
    counts[i] = c.value();
  }
  // Conflicting versions are counted in meta; the documents they belong to
  // are counted by a scan of the conflicts, only when there are some.
  auto conflict_versions = db->storage().read_count(keys::kConflictVersionCount);
  if (!conflict_versions.ok()) return respond_error(respond, conflict_versions.status(), req);
  uint64_t conflicted_documents = 0;
  if (conflict_versions.value() > 0) {
    auto listed = list_conflicted_documents(db->storage(), 0, 0, 0);
    if (!listed.ok()) return respond_error(respond, listed.status(), req);
    conflicted_documents = listed->total;
  }
  json::object out{{"CountOfDocuments", s.document_count},
                   {"CountOfTombstones", s.tombstone_count},
                   {"CountOfIndexes", 0},
                   {"CountOfRevisionDocuments", counts[0]},
                   {"CountOfAttachments", counts[1]},
                   {"CountOfUniqueAttachments", counts[2]},
                   {"CountOfCounterEntries", counts[3]},
                   {"CountOfConflicts", conflict_versions.value()},
                   {"CountOfDocumentsConflicts", conflicted_documents},
                   {"CountOfTimeSeriesSegments", 0},
                   {"DatabaseId", s.database_id},
                   {"DatabaseChangeVector", s.database_change_vector},
                   {"LastDocEtag", s.last_etag},
                   {"Is64Bit", true},
                   {"Pager", "RocksDB"},
                   {"SizeOnDisk", json::object{{"SizeInBytes", s.size_bytes}}},
                   {"Indexes", json::array{}}};
  if (detailed) {
    auto cmpxchg = store.cluster().state().count(rc::StateFamily::CompareExchange, db->name());
    auto identities = store.cluster().state().count(rc::StateFamily::Identities, db->name());
    if (!cmpxchg.ok()) return respond_error(respond, cmpxchg.status(), req);
    if (!identities.ok()) return respond_error(respond, identities.status(), req);
    out["CountOfCompareExchange"] = *cmpxchg;
    out["CountOfCompareExchangeTombstones"] = 0;  // deletes remove the value at once
    out["CountOfIdentities"] = *identities;
    out["CountOfTimeSeriesDeletedRanges"] = 0;
  }
  respond(http::Response::json(200, json::serialize(out)));
}

}  // namespace

void register_database_routes(http::Router& router, ServerStore& store) {
  router.add(verb::put, "/admin/databases", http::RouteAccess::Operator, "admin_databases_put",
             [&store](const http::Request& req, http::Respond respond) { handle_create(store, req, respond); });
  router.add(verb::delete_, "/admin/databases", http::RouteAccess::Operator, "admin_databases_delete",
             [&store](const http::Request& req, http::Respond respond) { handle_delete(store, req, respond); });
  router.add(verb::post, "/admin/databases/set-lock", http::RouteAccess::Operator, "admin_databases_set_lock",
             [&store](const http::Request& req, http::Respond respond) { handle_set_lock(store, req, respond); });
  router.add(verb::put, "/admin/databases/node", http::RouteAccess::Operator, "admin_databases_add_node",
             [&store](const http::Request& req, http::Respond respond) { handle_add_node(store, req, respond); });
  router.add(verb::get, "/admin/databases", http::RouteAccess::Operator, "admin_databases_get",
             [&store](const http::Request& req, http::Respond respond) { handle_get_record(store, req, respond); });
  router.add(verb::get, "/databases", http::RouteAccess::ValidUser, "databases_list",
             [&store](const http::Request& req, http::Respond respond) { handle_list(store, req, respond); });
  router.add(verb::get, "/databases/{db}/stats", http::RouteAccess::DatabaseRead, "database_stats",
             [&store](const http::Request& req, http::Respond respond) { handle_stats(store, req, respond, false); });
  router.add(verb::get, "/databases/{db}/stats/detailed", http::RouteAccess::DatabaseRead, "database_stats_detailed",
             [&store](const http::Request& req, http::Respond respond) { handle_stats(store, req, respond, true); });
}

}  // namespace corvus::server::handlers
