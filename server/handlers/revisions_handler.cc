// Revisions (REST.md §5.3): the configuration through the cluster
// (POST /databases/{db}/admin/revisions/config, an EditRevisionsConfiguration
// command), and the reads: a document's revisions newest first with paging,
// by change vector, as of a date, their count, and the revisions bin. Reads go
// straight to storage snapshots (storage/revisions_storage.h).

#include <limits>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "rachis/cluster/commands/revisions_commands.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/clock.h"
#include "storage/revisions_storage.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;

// RavenDB pages revisions by int.MaxValue when the client gives no pageSize.
constexpr uint64_t kDefaultPageSize = std::numeric_limits<int32_t>::max();

// `{"@metadata":{...}}` of a stored revision, for metadataOnly reads.
std::string metadata_only(const storage::Document& doc) {
  boost::system::error_code ec;
  auto v = json::parse(doc.json, ec);
  json::object out;
  if (!ec && v.is_object()) {
    if (auto* md = v.as_object().if_contains("@metadata")) out["@metadata"] = *md;
  }
  return json::serialize(out);
}

void append_revision(std::string& out, const storage::Document& doc, bool only_metadata) {
  out += only_metadata ? metadata_only(doc) : doc.json;
}

std::string results_body(const std::vector<storage::Document>& docs, bool only_metadata) {
  std::string body = "{\"Results\":[";
  for (size_t i = 0; i < docs.size(); ++i) {
    if (i) body.push_back(',');
    append_revision(body, docs[i], only_metadata);
  }
  body += "]";
  return body;
}

void handle_configure(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  auto configuration = storage::RevisionsConfiguration::from_json(body.value());
  if (!configuration.ok()) return respond_error(respond, configuration.status(), req);
  rachis::cluster::EditRevisionsConfigurationCommand cmd;
  cmd.name = db->name();
  cmd.configuration = std::make_shared<const storage::RevisionsConfiguration>(std::move(configuration).value());
  store.cluster().execute(cmd, [&store, db, respond, url = req.target](rachis::cluster::CommandResult r,
                                                                        rachis::core::Index index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    // Answer once every member's observer handed the configuration to its
    // copy (this node's too), so the client's next write keeps revisions
    // whichever member it reaches.
    const auto record = store.cluster().state().record(db->name());
    const auto members = record ? record->topology.all_nodes() : std::vector<std::string>{};
    const bool started = store.cluster().run_async([&store, respond, members, index] {
      wait_for_members(store, members, index);
      store.cluster().feed().when_processed(index, [respond, index] {
        respond(http::Response::json(200, json::serialize(json::object{{"RaftCommandIndex", index}})));
      });
    });
    if (!started) {
      respond(http::error_response(
          Status::Busy("too many cluster requests in flight; the configuration was applied at index " +
                       std::to_string(index)),
          url));
    }
  });
}

void handle_get(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  const auto& storage = db->storage();
  const bool only_metadata = req.query.get("metadataOnly").value_or("") == "true";

  const std::vector<std::string> change_vectors = req.query.get_all("changeVector");
  if (!change_vectors.empty()) {
    // A change vector is only looked up, never parsed: like RavenDB, any
    // string naming no revision is "not found" (the client's tests ask for
    // "NotExistsChangeVector" and expect null). An empty one is a mistake.
    for (const auto& cv : change_vectors) {
      if (cv.empty()) return respond_error(respond, Status::InvalidArgument("changeVector must not be empty"), req);
    }
    auto found = storage::RevisionsStorage::get_by_change_vectors(storage, change_vectors);
    if (!found.ok()) return respond_error(respond, found.status(), req);
    // One change vector that names nothing is "not found" (the client's
    // get(cv) returns null); several answer null in its place.
    if (change_vectors.size() == 1 && !found.value()[0]) return respond(http::Response::empty(404));
    std::string body = "{\"Results\":[";
    for (size_t i = 0; i < found->size(); ++i) {
      if (i) body.push_back(',');
      if (const auto& rev = found.value()[i]) {
        append_revision(body, *rev, only_metadata);
      } else {
        body += "null";
      }
    }
    body += "]}";
    return respond(http::Response::json(200, std::move(body)));
  }

  auto id = required_query(req, "id");
  if (!id.ok()) {
    return respond_error(respond, Status::InvalidArgument("Query string parameter 'id' or 'changeVector' is required"),
                         req);
  }
  if (auto before = req.query.get("before")) {
    const auto before_us = storage::parse_iso8601(*before);
    if (!before_us) {
      return respond_error(respond, Status::InvalidArgument("'before' is not an ISO 8601 date: '" + *before + "'"),
                           req);
    }
    auto rev = storage::RevisionsStorage::get_before(storage, *id, *before_us);
    if (!rev.ok()) return respond_error(respond, rev.status(), req);
    if (!rev.value()) return respond(http::Response::empty(404));
    return respond(http::Response::json(200, results_body({*rev.value()}, only_metadata) + "}"));
  }
  auto paging = query_paging(req, kDefaultPageSize);
  if (!paging.ok()) return respond_error(respond, paging.status(), req);
  auto page = storage::RevisionsStorage::get_for(storage, *id, paging->start, paging->page_size);
  if (!page.ok()) return respond_error(respond, page.status(), req);
  respond(http::Response::json(200, results_body(page->revisions, only_metadata) +
                                        ",\"TotalResults\":" + std::to_string(page->total) + "}"));
}

void handle_count(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto id = required_query(req, "id");
  if (!id.ok()) return respond_error(respond, id.status(), req);
  auto n = storage::RevisionsStorage::count_for(db->storage(), *id);
  if (!n.ok()) return respond_error(respond, n.status(), req);
  respond(http::Response::json(200, "{\"RevisionsCount\":" + std::to_string(*n) + "}"));
}

// RavenDB 6+ pages the bin with start/pageSize; the 5.4 client sends
// `etag` (0 in its tests: from the newest), accepted and validated but not
// needed for paging. The clients (5.4 and 7.2) send "pageSize=undefined" or
// "pageSize=null" exactly when the caller gave none (an inverted check in
// GetRevisionsBinEntryCommand), so on this route those two words mean absent.
void handle_bin(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  const auto given_page_size = req.query.get("pageSize");
  const bool no_page_size = given_page_size && (*given_page_size == "undefined" || *given_page_size == "null");
  auto start = query_uint(req, "start", 0);
  if (!start.ok()) return respond_error(respond, start.status(), req);
  auto page_size = no_page_size ? Result<uint64_t>(kDefaultPageSize) : query_uint(req, "pageSize", kDefaultPageSize);
  if (!page_size.ok()) return respond_error(respond, page_size.status(), req);
  const Paging paging{start.value(), page_size.value()};
  auto etag = query_uint(req, "etag", 0);
  if (!etag.ok()) return respond_error(respond, etag.status(), req);
  auto entries = storage::RevisionsStorage::bin(db->storage(), paging.start, paging.page_size);
  if (!entries.ok()) return respond_error(respond, entries.status(), req);
  respond(http::Response::json(200, results_body(entries.value(), false) + "}"));
}

}  // namespace

void register_revisions_routes(http::Router& router, ServerStore& store) {
  router.add(verb::post, "/databases/{db}/admin/revisions/config", http::RouteAccess::DatabaseAdmin, "revisions_config",
             [&store](const http::Request& req, http::Respond respond) { handle_configure(store, req, respond); });
  router.add(verb::get, "/databases/{db}/revisions", http::RouteAccess::DatabaseRead, "revisions_get",
             [&store](const http::Request& req, http::Respond respond) { handle_get(store, req, respond); });
  router.add(verb::get, "/databases/{db}/revisions/count", http::RouteAccess::DatabaseRead, "revisions_count",
             [&store](const http::Request& req, http::Respond respond) { handle_count(store, req, respond); });
  router.add(verb::get, "/databases/{db}/revisions/bin", http::RouteAccess::DatabaseRead, "revisions_bin",
             [&store](const http::Request& req, http::Respond respond) { handle_bin(store, req, respond); });
}

}  // namespace corvus::server::handlers
