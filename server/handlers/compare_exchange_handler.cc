// Compare-exchange (REST.md §5.4): GET/PUT/DELETE /databases/{db}/cmpxchg.
// Writes are Rachis commands, answered once this node applied them. Reads are
// linearizable from any node: they wait for a read index confirmed by the
// leader's quorum (ClusterManager::read_barrier), then read the local state.

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "rachis/cluster/commands/compare_exchange_commands.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;
namespace rc = rachis::cluster;

json::value parse_or_null(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
}

json::object result_entry(const rc::CompareExchangeValue& v) {
  return {{"Key", v.key}, {"Index", v.index}, {"Value", parse_or_null(v.value_json)}};
}

void handle_get(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto keys = req.query.get_all("key");
  const auto prefix = req.query.get("startsWith");
  auto paging = query_paging(req, 1024);
  if (!paging.ok()) return respond_error(respond, paging.status(), req);
  if (keys.empty() && !prefix) {
    return respond_error(respond, Status::InvalidArgument("Query string parameter 'key' or 'startsWith' is required"),
                         req);
  }
  for (const auto& k : keys) {
    if (Status s = rc::validate_compare_exchange_key(k); !s.ok())
      return respond(compare_exchange_key_refused(k, s, req.target));
  }
  store.cluster().read_barrier([&store, respond, keys = std::move(keys), prefix, paging = *paging,
                                database = db->name(), url = req.target](Status s) {
    if (!s.ok()) return respond(http::error_response(s, url));
    json::array results;
    if (!keys.empty()) {
      for (const auto& k : keys) {
        auto v = store.cluster().state().compare_exchange(database, k);
        if (!v.ok()) return respond(http::error_response(v.status(), url));
        // RavenDB's answers: one missing key is a 404 (the clients read null);
        // among several, a missing key is listed with Index -1 and no value.
        if (!*v && keys.size() == 1) return respond(http::Response::empty(404));
        results.push_back(*v ? result_entry(**v) : json::object{{"Key", k}, {"Index", -1}, {"Value", nullptr}});
      }
    } else {
      auto list = store.cluster().state().compare_exchange_prefix(database, *prefix, paging.start, paging.page_size);
      if (!list.ok()) return respond(http::error_response(list.status(), url));
      for (const auto& v : *list) results.push_back(result_entry(v));
    }
    respond(http::Response::json(200, json::serialize(json::object{{"Results", std::move(results)}})));
  });
}

// PUT (kind Put, body {"Object": ..., "@metadata"?: ...}) or DELETE.
void handle_write(ServerStore& store, const http::Request& req, const http::Respond& respond,
                  rc::CompareExchangeOp::Kind kind) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto key = required_query(req, "key");
  if (!key.ok()) return respond_error(respond, key.status(), req);
  if (Status s = rc::validate_compare_exchange_key(*key); !s.ok())
    return respond(compare_exchange_key_refused(*key, s, req.target));
  auto index = required_query(req, "index");
  if (!index.ok()) return respond_error(respond, index.status(), req);
  auto expected = query_uint(req, "index", 0);
  if (!expected.ok()) return respond_error(respond, expected.status(), req);
  rc::CompareExchangeCommand cmd;
  cmd.database = db->name();
  cmd.op.kind = kind;
  cmd.op.key = *key;
  cmd.op.expected_index = *expected;
  if (kind == rc::CompareExchangeOp::Kind::Put) {
    auto body = parse_json_body(req);
    if (!body.ok()) return respond_error(respond, body.status(), req);
    if (!body->is_object() || !body->as_object().contains("Object")) {
      return respond_error(respond,
                           Status::InvalidArgument("A compare-exchange value must be a JSON object with \"Object\" "
                                                   "(and optionally \"@metadata\")"),
                           req);
    }
    json::object value;
    value["Object"] = body->as_object().at("Object");
    if (auto* m = body->as_object().if_contains("@metadata"); m && !m->is_null()) {
      if (!m->is_object()) return respond_error(respond, Status::InvalidArgument("\"@metadata\" must be an object"), req);
      value["@metadata"] = *m;
    }
    cmd.op.value_json = json::serialize(value);
  }
  store.cluster().execute(cmd, [respond, url = req.target](rc::CommandResult r, rachis::core::Index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    respond(http::Response::json(200, json::serialize(r.value)));
  });
}

}  // namespace

void register_compare_exchange_routes(http::Router& router, ServerStore& store) {
  router.add(verb::get, "/databases/{db}/cmpxchg", http::RouteAccess::DatabaseRead, "cmpxchg_get",
             [&store](const http::Request& req, http::Respond respond) { handle_get(store, req, respond); });
  router.add(verb::put, "/databases/{db}/cmpxchg", http::RouteAccess::DatabaseReadWrite, "cmpxchg_put",
             [&store](const http::Request& req, http::Respond respond) {
               handle_write(store, req, respond, rc::CompareExchangeOp::Kind::Put);
             });
  router.add(verb::delete_, "/databases/{db}/cmpxchg", http::RouteAccess::DatabaseReadWrite, "cmpxchg_delete",
             [&store](const http::Request& req, http::Respond respond) {
               handle_write(store, req, respond, rc::CompareExchangeOp::Kind::Delete);
             });
}

}  // namespace corvus::server::handlers
