// The Changes API: GET /databases/{db}/changes, a WebSocket
// (server/changes/changes_connection.h), and the server-wide GET /changes
// (database and topology changes of the cluster; not resumable). The database (and ?connectionId=
// with ?after= when resuming) is checked as for any request, answered with an
// HTTP error before the upgrade; then the socket is the connection's.

#include <boost/beast/http/verb.hpp>
#include <memory>
#include <optional>

#include "server/changes/changes_connection.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {

void register_changes_routes(http::Router& router, ServerStore& store) {
  router.add(boost::beast::http::verb::get, "/databases/{db}/changes", http::RouteAccess::DatabaseRead, "changes",
             [&store](const http::Request& req, http::Respond respond) {
               auto db = find_database(store, req, respond);
               if (!db) return;
               // Resuming a closed connection: ?connectionId=<id>&after=<etag>.
               std::optional<changes::ChangesConnection::Resume> resume;
               if (auto id = req.query.get("connectionId"); id && !id->empty()) {
                 auto after = required_query(req, "after");
                 if (!after.ok()) return respond_error(respond, after.status(), req);
                 auto etag = query_uint(req, "after", 0);
                 if (!etag.ok()) return respond_error(respond, etag.status(), req);
                 resume = changes::ChangesConnection::Resume{*id, etag.value()};
               }
               changes::ChangesLimits limits;
               limits.max_queued_events = store.options().changes_max_queued_events;
               limits.max_queued_bytes = store.options().changes_max_queued_bytes;
               respond(http::Response::websocket_upgrade(
                   std::make_shared<changes::ChangesConnection>(db->changes(), limits, std::move(resume))));
             });
  // The database list is ValidUser; the server-wide feed tells no more than it.
  router.add(boost::beast::http::verb::get, "/changes", http::RouteAccess::ValidUser, "server changes",
             [&store](const http::Request&, http::Respond respond) {
               changes::ChangesLimits limits;
               limits.max_queued_events = store.options().changes_max_queued_events;
               limits.max_queued_bytes = store.options().changes_max_queued_bytes;
               respond(http::Response::websocket_upgrade(std::make_shared<changes::ChangesConnection>(
                   store.server_changes(), limits, std::nullopt, changes::ChangesConnection::Scope::Server)));
             });
}

}  // namespace corvus::server::handlers
