// /databases/{db}/hilo/next and /hilo/return: the id ranges the clients use
// to name new documents ("users/1-A") without a round trip per document.
// Ranges are allocated durably through the transaction merger, so they never
// repeat, across restarts too; each tag's high-water mark is the document
// "Raven/Hilo/<tag>" as in RavenDB, which clients may read and set.

#include <boost/beast/http/verb.hpp>

#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/clock.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;

void handle_next(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto tag = required_query(req, "tag");
  if (!tag.ok()) return respond_error(respond, tag.status(), req);
  auto last_size = query_uint(req, "lastBatchSize", 0);
  auto last_max = query_uint(req, "lastMax", 0);
  if (!last_size.ok()) return respond_error(respond, last_size.status(), req);
  if (!last_max.ok()) return respond_error(respond, last_max.status(), req);
  int64_t last_range_at = 0;
  if (auto at = req.query.get("lastRangeAt"); at && !at->empty()) {
    auto parsed = storage::parse_iso8601(*at);
    if (!parsed) return respond_error(respond, Status::InvalidArgument("lastRangeAt is not an ISO-8601 date"), req);
    last_range_at = *parsed;
  }
  const std::string separator = req.query.get("identityPartsSeparator").value_or("/");
  auto range = std::make_shared<storage::HiLoRange>();
  db->storage().submit(
      [tag = *tag, size = last_size.value(), at = last_range_at, max = last_max.value(),
       range](storage::WriteTransaction& txn) -> Status {
        auto r = txn.next_hilo(tag, size, at, max);
        if (!r.ok()) return r.status();
        *range = std::move(r).value();
        return Status::Ok();
      },
      [db, range, respond, separator, tag = *tag, node = store.node_tag(), url = req.target](Status s) {
        if (!s.ok()) return respond(http::error_response(s, url));
        respond(http::Response::json(
            201, "{\"Prefix\":" + json_string(tag + separator) + ",\"Low\":" + std::to_string(range->low) +
                     ",\"High\":" + std::to_string(range->high) + ",\"LastSize\":" +
                     std::to_string(range->last_size) + ",\"ServerTag\":" + json_string(node) +
                     ",\"LastRangeAt\":\"" + storage::format_iso8601(range->range_at_us) + "\"}"));
      });
}

void handle_return(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto tag = required_query(req, "tag");
  if (!tag.ok()) return respond_error(respond, tag.status(), req);
  auto end = query_uint(req, "end", 0);
  auto last = query_uint(req, "last", 0);
  if (!end.ok()) return respond_error(respond, end.status(), req);
  if (!last.ok()) return respond_error(respond, last.status(), req);
  db->storage().submit(
      [tag = *tag, end = end.value(), last = last.value()](storage::WriteTransaction& txn) {
        return txn.return_hilo(tag, end, last);
      },
      [db, respond, url = req.target](Status s) {
        if (!s.ok()) return respond(http::error_response(s, url));
        respond(http::Response::empty(204));
      });
}

}  // namespace

void register_hilo_routes(http::Router& router, ServerStore& store) {
  router.add(verb::get, "/databases/{db}/hilo/next", http::RouteAccess::DatabaseReadWrite, "hilo_next",
             [&store](const http::Request& req, http::Respond respond) { handle_next(store, req, respond); });
  router.add(verb::put, "/databases/{db}/hilo/return", http::RouteAccess::DatabaseReadWrite, "hilo_return",
             [&store](const http::Request& req, http::Respond respond) { handle_return(store, req, respond); });
}

}  // namespace corvus::server::handlers
