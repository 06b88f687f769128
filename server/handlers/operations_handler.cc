// Operational endpoints: /metrics (Prometheus text format), liveness
// (/healthz, RavenDB's /setup/alive), readiness (/readyz) and the per-database
// health check the clients use for failed nodes.

#include <boost/beast/http/verb.hpp>

#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {

void register_operations_routes(http::Router& router, ServerStore& store) {
  using boost::beast::http::verb;
  router.add(verb::get, "/metrics", http::RouteAccess::Operator, "metrics", [&store](const http::Request&, http::Respond respond) {
    http::Response r = http::Response::json(200, store.metrics().serialize());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    respond(std::move(r));
  });
  auto alive = [](const http::Request&, http::Respond respond) {
    respond(http::Response::json(200, "{\"Status\":\"Alive\"}"));
  };
  router.add(verb::get, "/healthz", http::RouteAccess::Open, "healthz", alive);
  router.add(verb::get, "/setup/alive", http::RouteAccess::Open, "setup_alive", alive);
  // main() starts listening only after every database is open, so any answer
  // here means ready.
  router.add(verb::get, "/readyz", http::RouteAccess::Open, "readyz", [&store](const http::Request&, http::Respond respond) {
    respond(http::Response::json(
        200, "{\"Status\":\"Ready\",\"Databases\":" + std::to_string(store.databases().names().size()) + "}"));
  });
  router.add(verb::get, "/databases/{db}/healthcheck", http::RouteAccess::DatabaseRead, "database_healthcheck",
             [&store](const http::Request& req, http::Respond respond) {
               if (find_database(store, req, respond)) respond(http::Response::empty(200));
             });
}

}  // namespace corvus::server::handlers
