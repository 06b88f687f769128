// Replication conflicts over HTTP: the database's conflict solver through the
// cluster (POST /admin/replication/conflicts/solver?name=, a
// ModifyConflictSolver command, what ModifyConflictSolverOperation sends;
// GET /databases/{db}/replication/conflicts/solver reads it back) and
// the documents in conflict (GET /databases/{db}/replication/conflicts: one
// document's conflicting versions with ?docId=, else the conflicted documents
// with paging), read from storage snapshots (document_conflicts.h); and what
// this node's replication of a database is doing
// (GET /databases/{db}/replication/performance: per outgoing connection the
// destination, positions sent and acknowledged, lag in etags and
// milliseconds, recent batches; per incoming one the source, its position,
// conflicts met, recent batches; Corvus's own shape).

#include <limits>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "rachis/cluster/commands/conflict_solver_commands.h"
#include "server/handlers/document_conflicts.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/clock.h"
#include "storage/conflicts_storage.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;
namespace rc = rachis::cluster;

// RavenDB pages this listing by int.MaxValue when the client gives no pageSize.
constexpr uint64_t kDefaultPageSize = std::numeric_limits<int32_t>::max();

void handle_modify_solver(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  auto record = store.cluster().state().record(*name);
  if (!record || !record->active()) return respond(database_missing(*name, req.target));
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  auto solver = rc::ConflictSolverConfig::from_json(body.value());
  if (!solver.ok()) return respond_error(respond, solver.status(), req);
  rc::ModifyConflictSolverCommand cmd;
  cmd.name = record->name;
  cmd.solver = std::make_shared<const rc::ConflictSolverConfig>(std::move(solver).value());
  store.cluster().execute(cmd, [&store, respond, key = *name, url = req.target](rc::CommandResult r,
                                                                                 rachis::core::Index index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    // Answer once every member's observer handed the new policy to its copy
    // (this node's too), so the next conflict anywhere is decided by it.
    const auto now = store.cluster().state().record(key);
    const auto members = now ? now->topology.all_nodes() : std::vector<std::string>{};
    const bool started = store.cluster().run_async([&store, respond, members, index, key, solver = r.value] {
      wait_for_members(store, members, index);
      store.cluster().feed().when_processed(index, [respond, index, key, solver] {
        // RavenDB's answer: 201 {RaftCommandIndex, Key, ConflictSolverConfig}.
        respond(http::Response::json(
            201, json::serialize(json::object{
                     {"RaftCommandIndex", index}, {"Key", key}, {"ConflictSolverConfig", solver}})));
      });
    });
    if (!started) {
      respond(http::error_response(
          Status::Busy("too many cluster requests in flight; the conflict solver was applied at index " +
                       std::to_string(index)),
          url));
    }
  });
}

// The record's solver ({ResolveToLatest, ResolveByCollection}); 404 when
// the record has none, as RavenDB answers.
void handle_get_solver(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  const auto record = store.cluster().state().record(db->name());
  if (!record || !record->conflict_solver) return respond(http::Response::empty(404));
  respond(http::Response::json(200, json::serialize(record->conflict_solver->to_json())));
}

// {"Id", "LargestEtag", "Results": [{"ChangeVector", "Doc", "LastModified"}]};
// a document not in conflict has no results (and LargestEtag 0), as in RavenDB.
void respond_document_conflicts(const storage::DocumentsStorage& storage, const std::string& id,
                                const http::Request& req, const http::Respond& respond) {
  auto versions = storage::ConflictsStorage::get_for(storage, id);
  if (!versions.ok()) return respond_error(respond, versions.status(), req);
  uint64_t largest_etag = 0;
  json::array results;
  for (const auto& v : versions.value()) {
    largest_etag = std::max(largest_etag, v.etag);
    json::value doc = nullptr;  // a deletion
    if (!v.json.empty()) {
      boost::system::error_code ec;
      doc = json::parse(v.json, ec);
      if (ec) return respond_error(respond, Status::Corruption("stored conflict of '" + id + "' is not JSON"), req);
    }
    results.push_back(json::object{{"ChangeVector", v.change_vector},
                                   {"Doc", std::move(doc)},
                                   {"LastModified", storage::format_iso8601(v.last_modified_us)}});
  }
  respond(http::Response::json(
      200, json::serialize(json::object{{"Id", id}, {"LargestEtag", largest_etag}, {"Results", std::move(results)}})));
}

void handle_get_conflicts(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  const std::string doc_id = req.query.get("docId").value_or("");
  if (doc_id.find_first_not_of(" \t\r\n") != std::string::npos) {
    return respond_document_conflicts(db->storage(), doc_id, req, respond);
  }
  auto etag = query_uint(req, "etag", 0);
  if (!etag.ok()) return respond_error(respond, etag.status(), req);
  auto paging = query_paging(req, kDefaultPageSize);
  if (!paging.ok()) return respond_error(respond, paging.status(), req);
  auto listed = list_conflicted_documents(db->storage(), *etag, paging->start, paging->page_size);
  if (!listed.ok()) return respond_error(respond, listed.status(), req);
  json::array results;
  for (const auto& d : listed->page) {
    results.push_back(json::object{{"Id", d.id}, {"LastModified", storage::format_iso8601(d.last_modified_us)}});
  }
  respond(http::Response::json(
      200, json::serialize(json::object{{"TotalResults", listed->total}, {"Results", std::move(results)}})));
}

void handle_performance(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto replication = db->replication();
  json::object out = replication ? replication->performance()
                                 : json::object{{"Outgoing", json::array{}}, {"Incoming", json::array{}}};
  respond(http::Response::json(200, json::serialize(out)));
}

}  // namespace

void register_replication_routes(http::Router& router, ServerStore& store) {
  router.add(verb::post, "/admin/replication/conflicts/solver", http::RouteAccess::DatabaseAdmin, "replication_conflict_solver",
             [&store](const http::Request& req, http::Respond respond) { handle_modify_solver(store, req, respond); });
  router.add(verb::get, "/databases/{db}/replication/conflicts/solver", http::RouteAccess::DatabaseRead, "replication_conflict_solver_get",
             [&store](const http::Request& req, http::Respond respond) { handle_get_solver(store, req, respond); });
  router.add(verb::get, "/databases/{db}/replication/conflicts", http::RouteAccess::DatabaseRead, "replication_conflicts",
             [&store](const http::Request& req, http::Respond respond) { handle_get_conflicts(store, req, respond); });
  router.add(verb::get, "/databases/{db}/replication/performance", http::RouteAccess::DatabaseRead, "replication_performance",
             [&store](const http::Request& req, http::Respond respond) { handle_performance(store, req, respond); });
}

}  // namespace corvus::server::handlers
