// External replication and connection strings over HTTP (RavenDB's
// OngoingTasksHandler external-replication part and the connection-string
// routes): create or change a task (POST|PUT
// /databases/{db}/admin/tasks/external-replication, what
// UpdateExternalReplicationOperation sends: {"Watcher": {...}}), read it as an
// ongoing task, enable/disable and delete it (external_replication_tasks.h),
// list the connection strings (GET /databases/{db}/admin/connection-strings,
// GetConnectionStringsOperation) and remove one (DELETE, same path,
// RemoveConnectionStringOperation; refused while a task uses it). Every
// change is a cluster command (rachis/cluster/commands/external_replication_commands.h)
// answered once this node applied it.

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "rachis/cluster/commands/external_replication_commands.h"
#include "rachis/cluster/json_fields.h"
#include "server/handlers/external_replication_tasks.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
using http::RouteAccess;
namespace json = boost::json;
namespace rc = rachis::cluster;

std::string node_url(ServerStore& store, const std::string& tag) {
  const auto topology = store.cluster().state().topology();
  auto it = topology.nodes.find(tag);
  return it == topology.nodes.end() ? std::string() : it->second.url;
}

// RavenDB's ModifyOngoingTaskResult.
void respond_modified(ServerStore& store, const http::Respond& respond, const std::string& database,
                      std::uint64_t task_id, rachis::core::Index index) {
  std::string responsible;
  if (auto record = store.cluster().state().record(database)) {
    for (const auto& d : record->external_replications) {
      if (d.task_id == task_id) responsible = rc::external_replication_responsible_node(record->topology.members, d);
    }
  }
  respond(http::Response::json(200, json::serialize(json::object{{"TaskId", task_id},
                                                                 {"RaftCommandIndex", index},
                                                                 {"ResponsibleNode", responsible}})));
}

void handle_put(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  // The clients send {"Watcher": {...}}; the bare definition is accepted too.
  const json::value* watcher = &body.value();
  if (body->is_object()) {
    if (const json::value* w = body->as_object().if_contains("Watcher")) watcher = w;
  }
  auto definition = rc::ExternalReplicationDefinition::from_json(*watcher);
  if (!definition.ok()) return respond_error(respond, definition.status(), req);
  if (!record->raven_connection_strings.count(definition->connection_string_name)) {
    return respond_error(respond,
                         Status::InvalidArgument("Could not find connection string named '" +
                                                 definition->connection_string_name + "' in database '" +
                                                 record->name + "' (PutConnectionStringOperation first)"),
                         req);
  }
  rc::PutExternalReplicationCommand cmd;
  cmd.database = record->name;
  cmd.definition = std::move(definition).value();
  store.cluster().execute(cmd, [&store, respond, url = req.target, database = record->name](rc::CommandResult r,
                                                                                           rachis::core::Index index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    respond_modified(store, respond, database, r.value.as_object().at("TaskId").as_uint64(), index);
  });
}

// GetConnectionStringsResult: every kind Corvus keeps (Raven only; the
// others are always empty). ?connectionStringName=&type=Raven narrows it.
void handle_get_connection_strings(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  const std::string name = req.query.get("connectionStringName").value_or("");
  const std::string type = req.query.get("type").value_or("");
  if (!name.empty() && !type.empty() && type != "Raven") {
    return respond_error(respond,
                         Status::InvalidArgument("Connection strings of type '" + type +
                                                 "' are not supported here; supported: Raven"),
                         req);
  }
  json::object raven;
  for (const auto& [n, cs] : record->raven_connection_strings) {
    if (!name.empty() && n != name) continue;
    json::object o = cs.to_json();
    o["Type"] = "Raven";
    raven[n] = std::move(o);
  }
  respond(http::Response::json(200, json::serialize(json::object{{"RavenConnectionStrings", std::move(raven)},
                                                                 {"SqlConnectionStrings", json::object()},
                                                                 {"OlapConnectionStrings", json::object()},
                                                                 {"ElasticSearchConnectionStrings", json::object()},
                                                                 {"QueueConnectionStrings", json::object()}})));
}

void handle_delete_connection_string(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto name = required_query(req, "connectionString");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  const std::string type = req.query.get("type").value_or("Raven");
  if (type != "Raven") {
    return respond_error(respond,
                         Status::InvalidArgument("Connection strings of type '" + type +
                                                 "' are not supported here; supported: Raven"),
                         req);
  }
  rc::RemoveRavenConnectionStringCommand cmd;
  cmd.database = record->name;
  cmd.name = *name;
  store.cluster().execute(cmd, [respond, url = req.target](rc::CommandResult r, rachis::core::Index index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    respond(http::Response::json(200, json::serialize(json::object{{"RaftCommandIndex", index}})));
  });
}

// The task ?key= (task id) or ?taskName= names; nullptr after answering 404/400.
const rc::ExternalReplicationDefinition* find_task(const rc::DatabaseRecord& record, const http::Request& req,
                                                   const http::Respond& respond) {
  auto key = query_uint(req, "key", 0);
  if (!key.ok()) {
    respond_error(respond, key.status(), req);
    return nullptr;
  }
  const std::string task_name = req.query.get("taskName").value_or("");
  if (*key == 0 && task_name.empty()) {
    respond_error(respond, Status::InvalidArgument("Query string parameter 'key' or 'taskName' is required"), req);
    return nullptr;
  }
  for (const auto& d : record.external_replications) {
    if ((*key != 0 && d.task_id == *key) || (*key == 0 && d.name == task_name)) return &d;
  }
  respond_error(respond,
                Status::NotFound("No external replication " + (*key != 0 ? std::to_string(*key) : task_name) +
                                 " on database '" + record.name + "'"),
                req);
  return nullptr;
}

}  // namespace

json::object external_replication_task_json(ServerStore& store, const rc::DatabaseRecord& record,
                                            const rc::ExternalReplicationDefinition& d) {
  json::object t{{"TaskId", d.task_id},
                 {"TaskType", kExternalReplicationTaskType},
                 {"TaskName", d.name},
                 {"TaskState", d.disabled ? "Disabled" : "Enabled"},
                 {"MentorNode", d.mentor_node.empty() ? json::value(nullptr) : json::value(d.mentor_node)},
                 {"PinToMentorNode", d.pin_to_mentor_node},
                 {"ConnectionStringName", d.connection_string_name},
                 {"DelayReplicationFor", d.delay_replication_for.empty() ? "00:00:00" : d.delay_replication_for}};
  if (const auto cs = record.raven_connection_strings.find(d.connection_string_name);
      cs != record.raven_connection_strings.end()) {
    t["DestinationDatabase"] = cs->second.database;
    t["TopologyDiscoveryUrls"] = rc::strings_to_json(cs->second.urls);
  }
  const std::string responsible = rc::external_replication_responsible_node(record.topology.members, d);
  t["ResponsibleNode"] =
      json::object{{"NodeTag", responsible}, {"NodeUrl", node_url(store, responsible)}, {"ResponsibleNode", responsible}};
  std::optional<external_replication::ExternalState> state;
  if (auto db = store.databases().get(record.name)) state = db->external_replication_state(d.task_id);
  if (d.disabled) {
    t["TaskConnectionStatus"] = "NotActive";
  } else if (!state) {
    t["TaskConnectionStatus"] = responsible == store.node_tag() ? "NotActive" : "NotOnThisNode";
  } else {
    t["TaskConnectionStatus"] = state->connected ? "Active" : "Reconnect";
  }
  t["DestinationUrl"] = state && !state->destination_url.empty() ? json::value(state->destination_url)
                                                                 : json::value(nullptr);
  t["Error"] = state && !state->last_error.empty() ? json::value(state->last_error) : json::value(nullptr);
  return t;
}

void respond_external_task_info(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  const auto* d = find_task(*record, req, respond);
  if (!d) return;
  respond(http::Response::json(200, json::serialize(external_replication_task_json(store, *record, *d))));
}

void respond_external_task_state(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  const std::string disable = req.query.get("disable").value_or("");
  if (disable != "true" && disable != "false") {
    return respond_error(respond, Status::InvalidArgument("Query string parameter 'disable' must be true or false"),
                         req);
  }
  const auto* d = find_task(*record, req, respond);
  if (!d) return;
  rc::ToggleExternalReplicationCommand cmd;
  cmd.database = record->name;
  cmd.task_id = d->task_id;
  cmd.disabled = disable == "true";
  store.cluster().execute(cmd, [&store, respond, url = req.target, database = record->name,
                                task_id = d->task_id](rc::CommandResult r, rachis::core::Index index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    respond_modified(store, respond, database, task_id, index);
  });
}

void delete_external_task(ServerStore& store, const std::string& database, std::uint64_t task_id,
                          const http::Request& req, const http::Respond& respond) {
  rc::DeleteExternalReplicationCommand cmd;
  cmd.database = database;
  cmd.task_id = task_id;
  store.cluster().execute(cmd, [respond, url = req.target, task_id](rc::CommandResult r, rachis::core::Index index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    respond(http::Response::json(200, json::serialize(json::object{{"TaskId", task_id}, {"RaftCommandIndex", index}})));
  });
}

void register_external_replication_routes(http::Router& router, ServerStore& store) {
  for (verb v : {verb::post, verb::put}) {
    router.add(v, "/databases/{db}/admin/tasks/external-replication", RouteAccess::DatabaseAdmin,
               v == verb::post ? "external_replication_post" : "external_replication_put",
               [&store](const http::Request& req, http::Respond respond) { handle_put(store, req, respond); });
  }
  router.add(verb::get, "/databases/{db}/admin/connection-strings", RouteAccess::DatabaseAdmin, "connection_strings_get",
             [&store](const http::Request& req, http::Respond respond) {
               handle_get_connection_strings(store, req, respond);
             });
  router.add(verb::delete_, "/databases/{db}/admin/connection-strings", RouteAccess::DatabaseAdmin,
             "connection_string_delete", [&store](const http::Request& req, http::Respond respond) {
               handle_delete_connection_string(store, req, respond);
             });
}

}  // namespace corvus::server::handlers
