// Pull replication hubs over HTTP (RavenDB's PullReplicationHandler and the
// hub part of OngoingTasksHandler): define or change a hub
// (PUT /databases/{db}/admin/tasks/pull-replication/hub, what
// PutPullReplicationAsHubOperation sends), read one
// (GET /databases/{db}/tasks/pull-replication/hub?key=), register, list and
// unregister the certificates allowed to use it
// (PUT|GET|DELETE /databases/{db}/admin/tasks/pull-replication/hub/access?name=,
// RegisterReplicationHubAccessOperation and friends), delete it
// (DELETE /databases/{db}/admin/tasks?id=&type=PullReplicationAsHub,
// DeleteOngoingTaskOperation) and list the database's tasks
// (GET /databases/{db}/tasks). Every change is a cluster command
// (rachis/cluster/commands/pull_replication_commands.h) answered once this
// node applied it; the certificate of an access is parsed here, so the
// command carries its facts.

#include <algorithm>
#include <limits>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "rachis/cluster/commands/pull_replication_commands.h"
#include "rachis/cluster/json_fields.h"
#include "server/handlers/external_replication_tasks.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/pull_replication_tasks.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/security/access_policy.h"
#include "server/security/certificate_upload.h"
#include "server/server_store.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
using http::RouteAccess;
namespace json = boost::json;
namespace rc = rachis::cluster;

constexpr std::string_view kHubTaskType = "PullReplicationAsHub";
constexpr std::string_view kSinkTaskType = "PullReplicationAsSink";

// Proposes `cmd`; answers `status` with body(result, index) once applied, or the command's refusal.
void execute(ServerStore& store, const rc::ClusterCommand& cmd, const http::Request& req, const http::Respond& respond,
             unsigned status, std::function<json::object(const json::value&, rachis::core::Index)> body) {
  store.cluster().execute(cmd, [respond, status, body = std::move(body), url = req.target](
                                   rc::CommandResult r, rachis::core::Index index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    respond(http::Response::json(status, json::serialize(body(r.value, index))));
  });
}

// RavenDB's ModifyOngoingTaskResult.
json::object modify_task_result(std::uint64_t task_id, rachis::core::Index index) {
  return {{"TaskId", task_id}, {"RaftCommandIndex", index}};
}

void handle_put_hub(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  auto definition = rc::HubDefinition::from_json(body.value());
  if (!definition.ok()) return respond_error(respond, definition.status(), req);
  rc::PutPullReplicationHubCommand cmd;
  cmd.database = record->name;
  cmd.definition = std::move(definition).value();
  execute(store, cmd, req, respond, 200, [](const json::value& result, rachis::core::Index index) {
    return modify_task_result(result.as_object().at("TaskId").as_uint64(), index);
  });
}

// PullReplicationDefinitionAndCurrentConnections: the definition and the
// sinks connected to it on this node (none until the hub serves connections).
void handle_get_hub(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto key = query_uint(req, "key", 0);
  if (!key.ok()) return respond_error(respond, key.status(), req);
  if (*key == 0) return respond_error(respond, Status::InvalidArgument("Query string parameter 'key' is required"), req);
  const rc::HubDefinition* hub = record->hub_by_task_id(*key);
  if (!hub) {
    return respond_error(respond,
                         Status::NotFound("No pull replication hub with task id " + std::to_string(*key) +
                                          " on database '" + record->name + "'"),
                         req);
  }
  // The sinks this node serves now, as RavenDB's OngoingTaskPullReplicationAsHub.
  json::array ongoing;
  auto db = store.databases().get(record->name);
  if (auto replication = db ? db->replication() : nullptr) {
    for (const auto& e : replication->externals()) {
      auto label = [&](const char* k) {
        auto it = e.labels.find(k);
        return it == e.labels.end() ? std::string() : it->second;
      };
      if (label("Hub") != hub->name) continue;
      ongoing.push_back(json::object{{"TaskId", hub->task_id},
                                     {"TaskType", kHubTaskType},
                                     {"TaskName", hub->name},
                                     {"TaskState", hub->disabled ? "Disabled" : "Enabled"},
                                     {"TaskConnectionStatus", e.connected ? "Active" : "NotActive"},
                                     {"DestinationDatabase", label("SinkDatabase")},
                                     {"DestinationUrl", label("SinkUrl")},
                                     {"DelayReplicationFor", nullptr}});
    }
  }
  respond(http::Response::json(
      200, json::serialize(json::object{{"Definition", hub->to_json()}, {"OngoingTasks", std::move(ongoing)}})));
}

// The access's paths as given; InvalidArgument naming the field otherwise.
Result<std::vector<std::string>> paths(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return Status::InvalidArgument(std::string(key) + " must be an array of strings");
  for (const auto& p : v->as_array()) {
    if (!p.is_string()) return Status::InvalidArgument(std::string(key) + " must be an array of strings");
    out.emplace_back(p.as_string());
  }
  if (auto s = rc::validate_allowed_paths(out, key); !s.ok()) return s;
  return out;
}

// The access of RegisterReplicationHubAccessOperation ({Name,
// CertificateBase64, AllowedHubToSinkPaths, AllowedSinkToHubPaths}) with its
// certificate's facts; InvalidArgument says what is wrong.
Result<rc::HubAccess> parse_access(ServerStore& store, const std::string& hub_name, const json::value& body) {
  if (!body.is_object()) return Status::InvalidArgument("the replication hub access must be a JSON object");
  const json::object& o = body.as_object();
  rc::HubAccess a;
  a.hub_name = hub_name;
  if (auto* n = o.if_contains("Name"); n && n->is_string()) a.name = std::string(n->as_string());
  if (a.name.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::InvalidArgument("the replication hub access needs a Name");
  }
  const json::value* cert = o.if_contains("CertificateBase64");
  if (!cert || !cert->is_string() || cert->as_string().empty()) {
    return Status::InvalidArgument("the replication hub access needs CertificateBase64 (the sink's public certificate)");
  }
  auto parsed = security::parse_certificate(cert->as_string());
  if (!parsed.ok()) return Status::InvalidArgument("CertificateBase64: " + parsed.status().message());
  a.thumbprint = parsed->info.thumbprint;
  a.public_key_hash = parsed->info.public_key_hash;
  a.certificate_base64 = parsed->der_base64;
  a.subject = parsed->info.subject;
  a.not_before_unix = parsed->info.not_before_unix;
  a.not_after_unix = parsed->info.not_after_unix;
  auto h2s = paths(o, "AllowedHubToSinkPaths");
  if (!h2s.ok()) return h2s.status();
  a.allowed_hub_to_sink_paths = std::move(h2s).value();
  auto s2h = paths(o, "AllowedSinkToHubPaths");
  if (!s2h.ok()) return s2h.status();
  a.allowed_sink_to_hub_paths = std::move(s2h).value();

  // A hub access takes everything else from its certificate (the access
  // policy), so a certificate that already is someone must not become one.
  const auto security = store.security();
  if (a.thumbprint == security->server_thumbprint ||
      std::find(security->admin_thumbprints.begin(), security->admin_thumbprints.end(), a.thumbprint) !=
          security->admin_thumbprints.end()) {
    return Status::InvalidArgument("certificate " + a.thumbprint +
                                   " is this cluster's own or a well-known admin certificate; a sink needs a "
                                   "certificate of its own");
  }
  if (auto registered = store.cluster().state().certificate(a.thumbprint)) {
    return Status::InvalidArgument("certificate " + a.thumbprint + " is registered as client certificate '" +
                                   registered->name +
                                   "'; a hub access would take its other permissions away: give the sink a "
                                   "certificate of its own");
  }
  return a;
}

void handle_put_access(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto hub_name = required_query(req, "name");
  if (!hub_name.ok()) return respond_error(respond, hub_name.status(), req);
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  auto access = parse_access(store, *hub_name, body.value());
  if (!access.ok()) return respond_error(respond, access.status(), req);
  rc::PutReplicationHubAccessCommand cmd;
  cmd.database = record->name;
  cmd.access = std::move(access).value();
  execute(store, cmd, req, respond, 200, [](const json::value&, rachis::core::Index index) {
    return json::object{{"RaftCommandIndex", index}};
  });
}

// {"Results": [DetailedReplicationHubAccess]} of hub ?name=, paged.
void handle_get_access(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto hub_name = required_query(req, "name");
  if (!hub_name.ok()) return respond_error(respond, hub_name.status(), req);
  auto paging = query_paging(req, 25);
  if (!paging.ok()) return respond_error(respond, paging.status(), req);
  const rc::HubDefinition* hub = record->hub(*hub_name);
  if (!hub) {
    return respond_error(respond,
                         Status::NotFound("The replication hub '" + *hub_name + "' was not found on database '" +
                                          record->name + "'"),
                         req);
  }
  json::array results;
  std::uint64_t index = 0;
  for (const auto& a : record->hub_accesses) {
    if (a.hub_name != hub->name) continue;
    if (index++ < paging->start) continue;
    if (results.size() >= paging->page_size) break;
    results.push_back(json::object{{"Name", a.name},
                                   {"Thumbprint", a.thumbprint},
                                   {"Certificate", a.certificate_base64},
                                   {"NotBefore", security::format_certificate_date(a.not_before_unix)},
                                   {"NotAfter", security::format_certificate_date(a.not_after_unix)},
                                   {"Subject", a.subject},
                                   {"AllowedHubToSinkPaths", rc::strings_to_json(a.allowed_hub_to_sink_paths)},
                                   {"AllowedSinkToHubPaths", rc::strings_to_json(a.allowed_sink_to_hub_paths)}});
  }
  respond(http::Response::json(200, json::serialize(json::object{{"Results", std::move(results)}})));
}

void handle_delete_access(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto hub_name = required_query(req, "name");
  if (!hub_name.ok()) return respond_error(respond, hub_name.status(), req);
  auto thumbprint = required_query(req, "thumbprint");
  if (!thumbprint.ok()) return respond_error(respond, thumbprint.status(), req);
  rc::DeleteReplicationHubAccessCommand cmd;
  cmd.database = record->name;
  cmd.hub_name = *hub_name;
  cmd.thumbprint = *thumbprint;
  execute(store, cmd, req, respond, 200, [](const json::value&, rachis::core::Index index) {
    return json::object{{"RaftCommandIndex", index}};
  });
}

// DeleteOngoingTaskOperation: ?id=&type= (external replications, hubs, sinks).
void handle_delete_task(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto type = required_query(req, "type");
  if (!type.ok()) return respond_error(respond, type.status(), req);
  auto id = query_uint(req, "id", 0);
  if (!id.ok()) return respond_error(respond, id.status(), req);
  if (*id == 0) return respond_error(respond, Status::InvalidArgument("Query string parameter 'id' is required"), req);
  if (*type == kSinkTaskType) {
    rc::DeletePullReplicationSinkCommand cmd;
    cmd.database = record->name;
    cmd.task_id = *id;
    return execute(store, cmd, req, respond, 200, [task_id = *id](const json::value&, rachis::core::Index index) {
      return modify_task_result(task_id, index);
    });
  }
  if (*type == kExternalReplicationTaskType) return delete_external_task(store, record->name, *id, req, respond);
  if (*type != kHubTaskType) {
    return respond_error(respond,
                         Status::InvalidArgument("Deleting an ongoing task of type '" + *type +
                                                 "' is not supported here; supported: Replication, "
                                                 "PullReplicationAsHub, "
                                                 "PullReplicationAsSink (subscriptions: DELETE "
                                                 "/databases/{db}/subscriptions)"),
                         req);
  }
  rc::DeletePullReplicationHubCommand cmd;
  cmd.database = record->name;
  cmd.task_id = *id;
  execute(store, cmd, req, respond, 200, [task_id = *id](const json::value&, rachis::core::Index index) {
    return modify_task_result(task_id, index);
  });
}

// PUT /databases/{db}/admin/connection-strings (PutConnectionStringOperation
// with a RavenConnectionString; other types are refused).
void handle_put_connection_string(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  auto cs = rc::RavenConnectionString::from_json(body.value());
  if (!cs.ok()) return respond_error(respond, cs.status(), req);
  rc::PutRavenConnectionStringCommand cmd;
  cmd.database = record->name;
  cmd.connection_string = std::move(cs).value();
  execute(store, cmd, req, respond, 200, [](const json::value&, rachis::core::Index index) {
    return json::object{{"RaftCommandIndex", index}};
  });
}

// POST /databases/{db}/admin/tasks/sink-pull-replication
// (UpdatePullReplicationAsSinkOperation: {"PullReplicationAsSink": {...}}).
void handle_put_sink(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  const json::value* sink = body->is_object() ? body->as_object().if_contains("PullReplicationAsSink") : nullptr;
  if (!sink) return respond_error(respond, Status::InvalidArgument("the body needs PullReplicationAsSink"), req);
  auto definition = rc::SinkDefinition::from_json(*sink);
  if (!definition.ok()) return respond_error(respond, definition.status(), req);
  // Without a certificate the sink can only reach an unsecured (http) hub.
  const auto cs = record->raven_connection_strings.find(definition->connection_string_name);
  const bool https = cs != record->raven_connection_strings.end() &&
                     std::any_of(cs->second.urls.begin(), cs->second.urls.end(),
                                 [](const std::string& u) { return u.rfind("https://", 0) == 0; });
  if (definition->certificate_with_private_key.empty() && https) {
    return respond_error(respond,
                         Status::InvalidArgument("the sink needs CertificateWithPrivateKey (base64 of a PKCS#12 "
                                                 "bundle: the certificate registered on the hub, and its key) to "
                                                 "reach a hub over https"),
                         req);
  }
  if (!definition->certificate_with_private_key.empty() &&
      !security::is_pkcs12(definition->certificate_with_private_key)) {
    return respond_error(respond,
                         Status::InvalidArgument("CertificateWithPrivateKey is not base64 of a PKCS#12 bundle"), req);
  }
  rc::PutPullReplicationSinkCommand cmd;
  cmd.database = record->name;
  cmd.definition = std::move(definition).value();
  execute(store, cmd, req, respond, 200, [](const json::value& result, rachis::core::Index index) {
    return modify_task_result(result.as_object().at("TaskId").as_uint64(), index);
  });
}

// RavenDB's OngoingTasksResult: the hubs are listed as PullReplications (the
// definitions); OngoingTasks holds the sinks (subscriptions are counted
// apart, as in RavenDB).
void handle_list_tasks(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto subscriptions = store.cluster().state().subscriptions(record->name);
  if (!subscriptions.ok()) return respond_error(respond, subscriptions.status(), req);
  json::array hubs;
  for (const auto& h : record->hub_pull_replications) hubs.push_back(h.to_json());
  json::array tasks;
  for (const auto& d : record->sink_pull_replications) {
    const auto cs = record->raven_connection_strings.find(d.connection_string_name);
    json::object t = d.to_json(false);
    t["TaskType"] = kSinkTaskType;
    t["TaskName"] = d.name;
    t["TaskState"] = d.disabled ? "Disabled" : "Enabled";
    if (cs != record->raven_connection_strings.end()) {
      t["DestinationDatabase"] = cs->second.database;
      t["TopologyDiscoveryUrls"] = rc::strings_to_json(cs->second.urls);
    }
    tasks.push_back(std::move(t));
  }
  for (const auto& d : record->external_replications) tasks.push_back(external_replication_task_json(store, *record, d));
  respond(http::Response::json(200, json::serialize(json::object{{"OngoingTasks", std::move(tasks)},
                                                                 {"SubscriptionsCount", subscriptions->size()},
                                                                 {"PullReplications", std::move(hubs)}})));
}

}  // namespace

void respond_sink_task_info(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto record = find_record(store, req, respond);
  if (!record) return;
  auto key = query_uint(req, "key", 0);
  if (!key.ok()) return respond_error(respond, key.status(), req);
  const std::string task_name = req.query.get("taskName").value_or("");
  const rc::SinkDefinition* sink = nullptr;
  for (const auto& d : record->sink_pull_replications) {
    if ((*key != 0 && d.task_id == *key) || (!task_name.empty() && d.name == task_name)) sink = &d;
  }
  if (!sink) {
    return respond_error(respond, Status::NotFound("No pull replication sink " + (task_name.empty() ? std::to_string(*key) : task_name) +
                                                   " on database '" + record->name + "'"),
                         req);
  }
  json::object t = sink->to_json(false);
  t["TaskType"] = kSinkTaskType;
  t["TaskName"] = sink->name;
  t["TaskState"] = sink->disabled ? "Disabled" : "Enabled";
  if (const auto cs = record->raven_connection_strings.find(sink->connection_string_name);
      cs != record->raven_connection_strings.end()) {
    t["DestinationDatabase"] = cs->second.database;
    t["TopologyDiscoveryUrls"] = rc::strings_to_json(cs->second.urls);
  }
  std::optional<pull_replication::SinkState> state;
  if (auto db = store.databases().get(record->name)) state = db->sink_state(sink->task_id);
  t["TaskConnectionStatus"] = !state ? "NotOnThisNode" : state->connected ? "Active" : "NotActive";
  t["DestinationUrl"] = state && !state->hub_url.empty() ? json::value(state->hub_url) : json::value(nullptr);
  const std::string responsible = record->topology.members.empty() ? std::string() : record->topology.members.front();
  t["ResponsibleNode"] = json::object{{"NodeTag", responsible}, {"ResponsibleNode", responsible}};
  respond(http::Response::json(200, json::serialize(t)));
}

void register_pull_replication_routes(http::Router& router, ServerStore& store) {
  router.add(verb::put, "/databases/{db}/admin/tasks/pull-replication/hub", RouteAccess::DatabaseAdmin,
             "pull_replication_hub_put",
             [&store](const http::Request& req, http::Respond respond) { handle_put_hub(store, req, respond); });
  router.add(verb::get, "/databases/{db}/tasks/pull-replication/hub", RouteAccess::DatabaseRead,
             "pull_replication_hub_get",
             [&store](const http::Request& req, http::Respond respond) { handle_get_hub(store, req, respond); });
  router.add(verb::put, "/databases/{db}/admin/tasks/pull-replication/hub/access", RouteAccess::DatabaseAdmin,
             "pull_replication_hub_access_put",
             [&store](const http::Request& req, http::Respond respond) { handle_put_access(store, req, respond); });
  router.add(verb::get, "/databases/{db}/admin/tasks/pull-replication/hub/access", RouteAccess::DatabaseAdmin,
             "pull_replication_hub_access_get",
             [&store](const http::Request& req, http::Respond respond) { handle_get_access(store, req, respond); });
  router.add(verb::delete_, "/databases/{db}/admin/tasks/pull-replication/hub/access", RouteAccess::DatabaseAdmin,
             "pull_replication_hub_access_delete",
             [&store](const http::Request& req, http::Respond respond) { handle_delete_access(store, req, respond); });
  router.add(verb::delete_, "/databases/{db}/admin/tasks", RouteAccess::DatabaseAdmin, "ongoing_task_delete",
             [&store](const http::Request& req, http::Respond respond) { handle_delete_task(store, req, respond); });
  router.add(verb::put, "/databases/{db}/admin/connection-strings", RouteAccess::DatabaseAdmin, "connection_string_put",
             [&store](const http::Request& req, http::Respond respond) {
               handle_put_connection_string(store, req, respond);
             });
  router.add(verb::post, "/databases/{db}/admin/tasks/sink-pull-replication", RouteAccess::DatabaseAdmin,
             "pull_replication_sink_put",
             [&store](const http::Request& req, http::Respond respond) { handle_put_sink(store, req, respond); });
  router.add(verb::get, "/databases/{db}/tasks", RouteAccess::DatabaseRead, "ongoing_tasks",
             [&store](const http::Request& req, http::Respond respond) { handle_list_tasks(store, req, respond); });
}

}  // namespace corvus::server::handlers
