// GET /databases/{db}/replication/performance: what this node's replication
// of the database is doing: one entry per outgoing connection (destination,
// positions sent and acknowledged, lag in etags and milliseconds, recent
// batches) and per incoming one (source, position, conflicts met, recent
// batches). Corvus's own shape (RavenDB's studio view differs).

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {
namespace {

void handle_performance(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto replication = db->replication();
  boost::json::object out = replication ? replication->performance()
                                        : boost::json::object{{"Outgoing", boost::json::array{}},
                                                              {"Incoming", boost::json::array{}}};
  respond(http::Response::json(200, boost::json::serialize(out)));
}

}  // namespace

void register_replication_performance_routes(http::Router& router, ServerStore& store) {
  router.add(boost::beast::http::verb::get, "/databases/{db}/replication/performance", "replication_performance",
             [&store](const http::Request& req, http::Respond respond) { handle_performance(store, req, respond); });
}

}  // namespace corvus::server::handlers
