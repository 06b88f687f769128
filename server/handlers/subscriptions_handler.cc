// Data subscriptions over HTTP (REST.md §6.2/6.3): create / update / list /
// state / delete / drop, and the TCP info the workers ask for before they
// dial the TCP listener (GET /info/tcp, /databases/{db}/info/tcp,
// /info/remote-task/tcp). Definitions and positions live in the cluster state
// (PutSubscription, DeleteSubscription through Rachis); the workers
// themselves are server/subscriptions/.

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "rachis/cluster/commands/subscription_commands.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/external_replication_tasks.h"
#include "server/handlers/pull_replication_tasks.h"
#include "server/handlers/routes.h"
#include "server/http/error_response.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "server/subscriptions/subscription_connections.h"
#include "server/subscriptions/subscription_query.h"
#include "server/subscriptions/responsible_node.h"
#include "storage/change_vector.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;
using rachis::cluster::SubscriptionRecord;

constexpr std::string_view kSubscriptionMissingType =
    "Raven.Client.Exceptions.Documents.Subscriptions.SubscriptionDoesNotExistException";

// RavenDB answers a missing subscription as an unhandled server exception
// (500) whose Type the clients turn into SubscriptionDoesNotExistException; a
// 404 would make them report an empty body instead.
http::Response subscription_missing(std::string_view name, std::string_view url) {
  return http::error_response(500, kSubscriptionMissingType, "Subscription '" + std::string(name) + "' does not exist",
                              url);
}

std::string get_string(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool get_bool(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

// What SubscriptionState looks like to the clients.
json::object state_json(const SubscriptionRecord& r, const std::string& node_tag) {
  return {{"SubscriptionId", r.id},
          {"SubscriptionName", r.name},
          {"Query", r.query},
          {"ChangeVectorForNextBatchStartingPoint", r.change_vector.empty() ? json::value(nullptr) : json::value(r.change_vector)},
          {"MentorNode", r.mentor_node.empty() ? json::value(nullptr) : json::value(r.mentor_node)},
          {"PinToMentorNode", r.pin_to_mentor_node},
          {"NodeTag", node_tag},
          {"LastBatchAckTime", r.last_ack_time.empty() ? json::value(nullptr) : json::value(r.last_ack_time)},
          {"LastClientConnectionTime", nullptr},
          {"Disabled", r.disabled},
          {"RaftCommandIndex", r.id}};
}

// Where a subscription starts: nullopt keeps the position ("DoNotChange", or
// nothing on an update). A change vector starts after this database's entry in
// it (0 when it has none: from the beginning).
struct StartPoint {
  std::optional<std::uint64_t> etag;
  std::string change_vector;
  std::string database_id;  // whose etag `etag` is (this node's storage)
};

Result<StartPoint> start_point(const json::object& body, const DocumentDatabase& db, bool update) {
  StartPoint p;
  p.database_id = db.storage().database_id();
  const auto* v = body.if_contains("ChangeVector");
  if (!v || v->is_null()) {
    if (!update) p.etag = 0;
    return p;
  }
  if (!v->is_string()) return Status::InvalidArgument("ChangeVector must be a string or null");
  const std::string text(v->as_string());
  if (text == "DoNotChange") {
    if (!update) p.etag = 0;
    return p;
  }
  if (text.empty() || text == "BeginningOfTime") {
    p.etag = 0;
    return p;
  }
  if (text == "LastDocument") {
    auto published = db.storage().published();
    p.etag = published.last_etag;
    p.change_vector = published.database_change_vector;
    return p;
  }
  auto cv = storage::ChangeVector::parse(text);
  if (!cv.ok()) {
    return Status::InvalidArgument("ChangeVector must be null, 'LastDocument', 'BeginningOfTime', 'DoNotChange' or a change vector: " +
                                   cv.status().message());
  }
  std::uint64_t etag = 0;
  for (const auto& e : cv.value().entries()) {
    if (e.database_id == db.storage().database_id()) etag = std::max(etag, e.etag);
  }
  p.etag = etag;
  p.change_vector = text;
  return p;
}

void propose_put(ServerStore& store, const http::Request& req, const http::Respond& respond,
                 rachis::cluster::PutSubscriptionCommand cmd, unsigned success_status) {
  store.cluster().execute(cmd, [&store, respond, success_status, url = req.target, name = cmd.name,
                                database = cmd.database, update = cmd.update](rachis::cluster::CommandResult r,
                                                                              rachis::core::Index index) {
    if (!r.status.ok()) {
      if (r.status.is_not_found() && r.status.message().starts_with("Subscription")) {
        return respond(subscription_missing(name, url));
      }
      return respond(http::error_response(r.status, url));
    }
    std::string created = r.value.is_object() ? get_string(r.value.as_object(), "Name") : name;
    if (update) {
      // Connected workers reconnect and get the new definition (and position).
      store.subscription_connections().drop(
          database, created, "",
          subscriptions::connection_status_json("Closed", "Subscription '" + created + "' was updated",
                                                /*can_reconnect=*/true));
    }
    respond(http::Response::json(success_status,
                                 json::serialize(json::object{{"Name", created}, {"RaftCommandIndex", index}})));
  });
}

// PUT /databases/{db}/subscriptions: {Name?, Query, ChangeVector?, MentorNode?, PinToMentorNode?, Disabled?}
void handle_create(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  if (!body.value().is_object()) return respond_error(respond, Status::InvalidArgument("the body must be a JSON object"), req);
  const auto& o = body.value().as_object();
  rachis::cluster::PutSubscriptionCommand cmd;
  cmd.database = db->name();
  cmd.name = get_string(o, "Name");
  for (char ch : cmd.name) {
    if (static_cast<unsigned char>(ch) < 0x20) {
      return respond_error(respond, Status::InvalidArgument("a subscription name cannot contain control characters"), req);
    }
  }
  cmd.query = get_string(o, "Query");
  if (cmd.query.empty()) return respond_error(respond, Status::InvalidArgument("a subscription needs a Query"), req);
  auto query = subscriptions::SubscriptionQuery::parse(cmd.query);
  if (!query.ok()) return respond_error(respond, query.status(), req);
  auto start = start_point(o, *db, false);
  if (!start.ok()) return respond_error(respond, start.status(), req);
  cmd.start_etag = start.value().etag;
  cmd.start_change_vector = start.value().change_vector;
  cmd.start_database_id = start.value().database_id;
  cmd.mentor_node = get_string(o, "MentorNode");
  cmd.pin_to_mentor_node = get_bool(o, "PinToMentorNode");
  cmd.disabled = get_bool(o, "Disabled");
  propose_put(store, req, respond, std::move(cmd), 201);
}

// POST /databases/{db}/subscriptions/update: {Name?, Id?, Query?, ChangeVector?, CreateNew?, ...}
void handle_update(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  if (!body.value().is_object()) return respond_error(respond, Status::InvalidArgument("the body must be a JSON object"), req);
  const auto& o = body.value().as_object();
  rachis::cluster::PutSubscriptionCommand cmd;
  cmd.database = db->name();
  cmd.update = true;
  cmd.name = get_string(o, "Name");
  if (const auto* id = o.if_contains("Id"); id && (id->is_int64() || id->is_uint64())) {
    cmd.id = id->is_uint64() ? id->as_uint64() : static_cast<std::uint64_t>(std::max<std::int64_t>(0, id->as_int64()));
  }
  if (cmd.name.empty() && cmd.id == 0) {
    return respond_error(respond, Status::InvalidArgument("updating a subscription needs its Name or Id"), req);
  }
  cmd.query = get_string(o, "Query");
  if (!cmd.query.empty()) {
    auto query = subscriptions::SubscriptionQuery::parse(cmd.query);
    if (!query.ok()) return respond_error(respond, query.status(), req);
  }
  // The existing subscription keeps what the update does not name.
  std::optional<SubscriptionRecord> existing;
  if (!cmd.name.empty()) {
    auto found = store.cluster().state().subscription(db->name(), cmd.name);
    if (!found.ok()) return respond_error(respond, found.status(), req);
    existing = found.value();
    // Both given: they must name the same subscription.
    if (existing && cmd.id != 0 && existing->id != cmd.id) existing.reset();
  } else {
    auto all = store.cluster().state().subscriptions(db->name());
    if (!all.ok()) return respond_error(respond, all.status(), req);
    for (auto& r : all.value()) {
      if (r.id == cmd.id) existing = r;
    }
  }
  if (!existing) {
    if (!get_bool(o, "CreateNew")) return respond(subscription_missing(cmd.name.empty() ? std::to_string(cmd.id) : cmd.name, req.target));
    if (cmd.query.empty()) return respond_error(respond, Status::InvalidArgument("a subscription needs a Query"), req);
    cmd.update = false;
  }
  auto start = start_point(o, *db, cmd.update);
  if (!start.ok()) return respond_error(respond, start.status(), req);
  cmd.start_etag = start.value().etag;
  cmd.start_change_vector = start.value().change_vector;
  cmd.start_database_id = start.value().database_id;
  cmd.mentor_node = o.contains("MentorNode") ? get_string(o, "MentorNode") : (existing ? existing->mentor_node : "");
  cmd.pin_to_mentor_node = o.contains("PinToMentorNode") ? get_bool(o, "PinToMentorNode")
                                                         : (existing && existing->pin_to_mentor_node);
  cmd.disabled = o.contains("Disabled") ? get_bool(o, "Disabled") : (existing && existing->disabled);
  if (existing && cmd.name.empty()) cmd.name = existing->name;
  propose_put(store, req, respond, std::move(cmd), 200);
}

// GET /databases/{db}/subscriptions[?name=][&start=&pageSize=]
void handle_list(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  const std::string tag = store.node_tag();
  if (auto name = req.query.get("name"); name && !name->empty()) {
    auto found = store.cluster().state().subscription(db->name(), *name);
    if (!found.ok()) return respond_error(respond, found.status(), req);
    if (!found.value()) return respond(subscription_missing(*name, req.target));
    json::array results{state_json(*found.value(), tag)};
    return respond(http::Response::json(200, json::serialize(json::object{{"Results", std::move(results)}})));
  }
  auto paging = query_paging(req, std::numeric_limits<std::uint64_t>::max());
  if (!paging.ok()) return respond_error(respond, paging.status(), req);
  auto all = store.cluster().state().subscriptions(db->name());
  if (!all.ok()) return respond_error(respond, all.status(), req);
  json::array results;
  std::uint64_t i = 0;
  for (const auto& r : all.value()) {
    if (i++ < paging.value().start) continue;
    if (results.size() >= paging.value().page_size) break;
    results.push_back(state_json(r, tag));
  }
  respond(http::Response::json(200, json::serialize(json::object{{"Results", std::move(results)}})));
}

// GET /databases/{db}/subscriptions/state?name=
void handle_state(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  auto found = store.cluster().state().subscription(db->name(), name.value());
  if (!found.ok()) return respond_error(respond, found.status(), req);
  if (!found.value()) return respond(subscription_missing(name.value(), req.target));
  respond(http::Response::json(200, json::serialize(state_json(*found.value(), store.node_tag()))));
}

// DELETE /databases/{db}/subscriptions?taskName=
void handle_delete(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto name = required_query(req, "taskName");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  rachis::cluster::DeleteSubscriptionCommand cmd;
  cmd.database = db->name();
  cmd.name = name.value();
  store.cluster().execute(cmd, [&store, respond, url = req.target, database = db->name(), name = name.value()](
                                   rachis::cluster::CommandResult r, rachis::core::Index) {
    if (r.status.is_not_found() && r.status.message().starts_with("Subscription")) {
      return respond(subscription_missing(name, url));
    }
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    store.subscription_connections().drop(
        database, name, "",
        subscriptions::connection_status_json("NotFound", "Subscription '" + name + "' was deleted"));
    respond(http::Response::empty(204));
  });
}

// POST /databases/{db}/subscriptions/drop?name=[&workerId=]
void handle_drop(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  auto found = store.cluster().state().subscription(db->name(), name.value());
  if (!found.ok()) return respond_error(respond, found.status(), req);
  if (!found.value()) return respond(subscription_missing(name.value(), req.target));
  const std::string worker = req.query.get("workerId").value_or("");
  store.subscription_connections().drop(
      db->name(), found.value()->name, worker,
      subscriptions::connection_status_json("Closed", "Subscription '" + found.value()->name +
                                                          "' connection was dropped by request"));
  respond(http::Response::empty(204));
}

// The subscription a task request names: ?taskName= (or ?name=), else ?key= (its id).
Result<std::optional<SubscriptionRecord>> find_task(ServerStore& store, const DocumentDatabase& db,
                                                    const http::Request& req) {
  std::string name = req.query.get("taskName").value_or("");
  if (name.empty()) name = req.query.get("name").value_or("");
  if (!name.empty()) return store.cluster().state().subscription(db.name(), name);
  auto key = query_uint(req, "key", 0);
  if (!key.ok()) return key.status();
  if (key.value() == 0) return Status::InvalidArgument("Query string parameter 'key' or 'taskName' is required");
  auto all = store.cluster().state().subscriptions(db.name());
  if (!all.ok()) return all.status();
  for (auto& r : all.value()) {
    if (r.id == key.value()) return std::optional<SubscriptionRecord>(std::move(r));
  }
  return std::optional<SubscriptionRecord>();
}

bool is_subscription_task(const http::Request& req) { return req.query.get("type").value_or("") == "Subscription"; }

// GET /databases/{db}/task?key=|taskName=&type=Subscription (RavenDB's
// OngoingTaskSubscription). Other task types are not built.
void handle_task_info(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  if (req.query.get("type").value_or("") == "PullReplicationAsSink") return respond_sink_task_info(store, req, respond);
  if (req.query.get("type").value_or("") == kExternalReplicationTaskType) {
    return respond_external_task_info(store, req, respond);
  }
  if (!is_subscription_task(req)) {
    return respond_error(respond,
                         Status::InvalidArgument("only tasks of type 'Subscription', 'Replication' and "
                                                 "'PullReplicationAsSink' are supported"),
                         req);
  }
  auto found = find_task(store, *db, req);
  if (!found.ok()) return respond_error(respond, found.status(), req);
  if (!found.value()) return respond(subscription_missing(req.query.get("taskName").value_or(req.query.get("key").value_or("")), req.target));
  const auto& r = *found.value();
  json::object o = state_json(r, store.node_tag());
  o["TaskId"] = r.id;
  o["TaskName"] = r.name;
  o["TaskType"] = "Subscription";
  o["TaskState"] = r.disabled ? "Disabled" : "Enabled";
  const auto record = store.cluster().state().record(db->name());
  const std::string responsible = record ? subscriptions::responsible_node(*record, r) : store.node_tag();
  std::string responsible_url;
  const auto topology = store.cluster().state().topology();
  if (auto it = topology.nodes.find(responsible); it != topology.nodes.end()) responsible_url = it->second.url;
  o["ResponsibleNode"] = json::object{{"NodeTag", responsible}, {"NodeUrl", responsible_url}, {"ResponsibleNode", responsible}};
  o["TaskConnectionStatus"] = store.subscription_connections().connected(db->name(), r.name) > 0 ? "Active" : "NotActive";
  respond(http::Response::json(200, json::serialize(o)));
}

// POST /databases/{db}/admin/tasks/state?key=|taskName=&type=Subscription&disable=true|false
void handle_task_state(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  if (req.query.get("type").value_or("") == "PullReplicationAsSink") return respond_sink_task_info(store, req, respond);
  if (req.query.get("type").value_or("") == kExternalReplicationTaskType) {
    return respond_external_task_state(store, req, respond);
  }
  if (!is_subscription_task(req)) {
    return respond_error(respond,
                         Status::InvalidArgument("only tasks of type 'Subscription', 'Replication' and "
                                                 "'PullReplicationAsSink' are supported"),
                         req);
  }
  const std::string disable = req.query.get("disable").value_or("");
  if (disable != "true" && disable != "false") {
    return respond_error(respond, Status::InvalidArgument("Query string parameter 'disable' must be true or false"), req);
  }
  auto found = find_task(store, *db, req);
  if (!found.ok()) return respond_error(respond, found.status(), req);
  if (!found.value()) return respond(subscription_missing(req.query.get("taskName").value_or(req.query.get("key").value_or("")), req.target));
  const auto& r = *found.value();
  rachis::cluster::PutSubscriptionCommand cmd;
  cmd.database = db->name();
  cmd.update = true;
  cmd.name = r.name;
  cmd.mentor_node = r.mentor_node;
  cmd.pin_to_mentor_node = r.pin_to_mentor_node;
  cmd.disabled = disable == "true";
  store.cluster().execute(cmd, [&store, respond, url = req.target, database = db->name(), name = r.name, id = r.id,
                                disabled = cmd.disabled](rachis::cluster::CommandResult result, rachis::core::Index index) {
    if (result.status.is_not_found() && result.status.message().starts_with("Subscription")) {
      return respond(subscription_missing(name, url));
    }
    if (!result.status.ok()) return respond(http::error_response(result.status, url));
    if (disabled) {
      store.subscription_connections().drop(
          database, name, "", subscriptions::connection_status_json("Closed", "Subscription '" + name + "' was disabled"));
    }
    respond(http::Response::json(200, json::serialize(json::object{
                                          {"TaskId", id}, {"RaftCommandIndex", index}, {"ResponsibleNode", store.node_tag()}})));
  });
}

// The TCP listener's address as the clients read it (TcpConnectionInfo).
void respond_tcp_info(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  const std::string url = store.tcp_url();
  if (url.empty()) {
    return respond(http::error_response(503, "Raven.Client.Exceptions.Database.DatabaseDisabledException",
                                        "This server's TCP listener is not started yet", req.target));
  }
  const std::string certificate = store.tcp_certificate();
  respond(http::Response::json(200, json::serialize(json::object{{"Url", url},
                                                                  {"Urls", json::array{url}},
                                                                  {"Certificate", certificate.empty() ? json::value(nullptr) : json::value(certificate)},
                                                                  {"NodeTag", store.node_tag()},
                                                                  {"ServerId", store.server_id()}})));
}

void handle_tcp_info(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  respond_tcp_info(store, req, respond);
}

void handle_database_tcp_info(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  respond_tcp_info(store, req, respond);
}

// GET /info/remote-task/tcp?database=&remote-task=&tag=[&verify-database=true]
void handle_remote_task_tcp_info(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto database = required_query(req, "database");
  if (!database.ok()) return respond_error(respond, database.status(), req);
  if (req.query.get("verify-database").value_or("") == "true" && !store.databases().get(database.value())) {
    return respond(database_missing(database.value(), req.target));
  }
  respond_tcp_info(store, req, respond);
}

}  // namespace

void register_subscription_routes(http::Router& router, ServerStore& store) {
  using http::RouteAccess;
  router.add(verb::put, "/databases/{db}/subscriptions", RouteAccess::DatabaseAdmin, "subscriptions_put",
             [&store](const http::Request& req, const http::Respond& respond) { handle_create(store, req, respond); });
  router.add(verb::post, "/databases/{db}/subscriptions/update", RouteAccess::DatabaseAdmin, "subscriptions_update",
             [&store](const http::Request& req, const http::Respond& respond) { handle_update(store, req, respond); });
  router.add(verb::get, "/databases/{db}/subscriptions", RouteAccess::DatabaseRead, "subscriptions_get",
             [&store](const http::Request& req, const http::Respond& respond) { handle_list(store, req, respond); });
  router.add(verb::get, "/databases/{db}/subscriptions/state", RouteAccess::DatabaseRead, "subscriptions_state",
             [&store](const http::Request& req, const http::Respond& respond) { handle_state(store, req, respond); });
  router.add(verb::delete_, "/databases/{db}/subscriptions", RouteAccess::DatabaseAdmin, "subscriptions_delete",
             [&store](const http::Request& req, const http::Respond& respond) { handle_delete(store, req, respond); });
  router.add(verb::post, "/databases/{db}/subscriptions/drop", RouteAccess::DatabaseAdmin, "subscriptions_drop",
             [&store](const http::Request& req, const http::Respond& respond) { handle_drop(store, req, respond); });
  router.add(verb::get, "/databases/{db}/task", RouteAccess::DatabaseRead, "task_info",
             [&store](const http::Request& req, const http::Respond& respond) { handle_task_info(store, req, respond); });
  router.add(verb::post, "/databases/{db}/admin/tasks/state", RouteAccess::DatabaseAdmin, "tasks_state",
             [&store](const http::Request& req, const http::Respond& respond) { handle_task_state(store, req, respond); });
  router.add(verb::get, "/info/tcp", RouteAccess::ValidUser, "info_tcp",
             [&store](const http::Request& req, const http::Respond& respond) { handle_tcp_info(store, req, respond); });
  router.add(verb::get, "/databases/{db}/info/tcp", RouteAccess::DatabaseRead, "database_info_tcp",
             [&store](const http::Request& req, const http::Respond& respond) {
               handle_database_tcp_info(store, req, respond);
             });
  router.add(verb::get, "/info/remote-task/tcp", RouteAccess::ValidUser, "info_remote_task_tcp",
             [&store](const http::Request& req, const http::Respond& respond) {
               handle_remote_task_tcp_info(store, req, respond);
             });
}

}  // namespace corvus::server::handlers
