// The long-running operations of a database (server/operations/
// database_operations.h), as the clients follow them:
//   GET  /databases/{db}/operations/next-operation-id  {"Id": n, "NodeTag": "A"}
//   GET  /databases/{db}/operations/state?id=n         {"Status", "Result", "Progress"}; 404 if unknown
//   POST /databases/{db}/operations/kill?id=n          204; 404 if unknown or finished

#include <boost/beast/http/verb.hpp>
#include <boost/json/serialize.hpp>

#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;

Result<uint64_t> operation_id(const http::Request& req) {
  auto id = required_query(req, "id");
  if (!id.ok()) return id.status();
  auto n = query_uint(req, "id", 0);
  if (!n.ok()) return n.status();
  return n.value();
}

http::Response operation_missing(uint64_t id, const http::Request& req) {
  return http::error_response(Status::NotFound("Operation " + std::to_string(id) + " was not found"), req.target);
}

}  // namespace

void register_database_operations_routes(http::Router& router, ServerStore& store) {
  router.add(verb::get, "/databases/{db}/operations/next-operation-id", http::RouteAccess::DatabaseRead, "next_operation_id",
             [&store](const http::Request& req, http::Respond respond) {
               auto db = find_database(store, req, respond);
               if (!db) return;
               json::object out{{"Id", db->operations().next_id()}, {"NodeTag", store.node_tag()}};
               respond(http::Response::json(200, json::serialize(out)));
             });
  router.add(verb::get, "/databases/{db}/operations/state", http::RouteAccess::DatabaseRead, "operation_state",
             [&store](const http::Request& req, http::Respond respond) {
               auto db = find_database(store, req, respond);
               if (!db) return;
               auto id = operation_id(req);
               if (!id.ok()) return respond_error(respond, id.status(), req);
               auto state = db->operations().state(id.value());
               if (!state) return respond(operation_missing(id.value(), req));
               respond(http::Response::json(200, json::serialize(*state)));
             });
  router.add(verb::post, "/databases/{db}/operations/kill", http::RouteAccess::DatabaseReadWrite, "operation_kill",
             [&store](const http::Request& req, http::Respond respond) {
               auto db = find_database(store, req, respond);
               if (!db) return;
               auto id = operation_id(req);
               if (!id.ok()) return respond_error(respond, id.status(), req);
               if (!db->operations().kill(id.value())) return respond(operation_missing(id.value(), req));
               respond(http::Response::empty(204));
             });
}

}  // namespace corvus::server::handlers
