// Index administration as the clients send it: GET /databases/{db}/indexes
// (definitions, or names with namesOnly=true), /indexes/stats, /indexes/errors,
// /indexes/status, DELETE /indexes?name=, POST /admin/indexes/stop|start
// [?name=], and delete by query (DELETE /databases/{db}/queries, a long-running
// operation the clients follow through /operations/state). Only automatic
// indexes exist: static index definitions are a later issue.

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "query/query_runner.h"
#include "server/handlers/compare_exchange_includes.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/query_request.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/clock.h"
#include "storage/revisions_configuration.h"

namespace corvus::server::handlers {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;

json::value iso_or_null(int64_t us) { return us == 0 ? json::value(nullptr) : json::value(storage::format_iso8601(us)); }

json::object definition_json(const query::AutoIndex& index) {
  json::object fields;
  std::string map = "from doc in docs" +
                    (index.definition().collection.empty() ? std::string() : "." + index.definition().collection) +
                    " select new { ";
  for (size_t i = 0; i < index.definition().fields.size(); ++i) {
    const auto& f = index.definition().fields[i];
    fields[f.text] = json::object{{"Indexing", "Default"}, {"Storage", "No"}};
    map += (i > 0 ? ", " : "") + f.text;
  }
  map += " }";
  return {{"Name", index.name()},
          {"Type", "AutoMap"},
          {"SourceType", "Documents"},
          {"LockMode", "Unlock"},
          {"Priority", "Normal"},
          {"State", "Normal"},
          {"Maps", json::array{json::string(map)}},
          {"Reduce", nullptr},
          {"Fields", std::move(fields)},
          {"Configuration", json::object()},
          {"AdditionalSources", json::object()},
          {"AdditionalAssemblies", json::array()},
          {"Collection", index.definition().collection.empty() ? json::value(nullptr)
                                                               : json::value(index.definition().collection)}};
}

std::vector<std::shared_ptr<query::AutoIndex>> selected(DocumentDatabase& db, const http::Request& req,
                                                        Status& status) {
  auto name = req.query.get("name");
  if (!name) return db.indexes().list();
  auto index = db.indexes().find(*name);
  if (!index) {
    status = Status::NotFound("Index '" + *name + "' does not exist");
    return {};
  }
  return {index};
}

std::string running_status(DocumentDatabase& db, const query::AutoIndex& index) {
  if (!db.indexes().error_of(index).empty()) return "Disabled";
  return db.indexes().paused(index) ? "Paused" : "Running";
}

void handle_list(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  Status status;
  auto indexes = selected(*db, req, status);
  if (!status.ok()) return respond(query_error_response(status, req));
  auto paging = query_paging(req, 1u << 30);
  if (!paging.ok()) return respond_error(respond, paging.status(), req);
  const bool names_only = req.query.get("namesOnly") == std::optional<std::string>("true");
  json::array results;
  for (size_t i = paging->start; i < indexes.size() && results.size() < paging->page_size; ++i)
    results.push_back(names_only ? json::value(indexes[i]->name()) : json::value(definition_json(*indexes[i])));
  respond(http::Response::json(200, json::serialize(json::object{{"Results", std::move(results)}})));
}

void handle_stats(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  Status status;
  auto indexes = selected(*db, req, status);
  if (!status.ok()) return respond(query_error_response(status, req));
  const uint64_t last = db->storage().published().last_etag;
  json::array results;
  for (const auto& index : indexes) {
    const std::string error = db->indexes().error_of(*index);
    const uint64_t etag = index->last_indexed_etag();
    json::object collections;
    collections[index->definition().collection.empty() ? "@all_docs" : index->definition().collection] =
        json::object{{"LastProcessedDocumentEtag", etag},
                     {"LastProcessedTombstoneEtag", etag},
                     {"DocumentLag", last > etag ? last - etag : 0},
                     {"TombstoneLag", last > etag ? last - etag : 0}};
    json::object o{{"Name", index->name()},
                   {"Type", "AutoMap"},
                   {"SourceType", "Documents"},
                   {"State", error.empty() ? "Normal" : "Error"},
                   {"Status", running_status(*db, *index)},
                   {"Priority", "Normal"},
                   {"LockMode", "Unlock"},
                   {"IsStale", etag < last},
                   {"EntriesCount", index->documents_count()},
                   {"ErrorsCount", error.empty() ? 0 : 1},
                   {"Collections", std::move(collections)},
                   {"IsTestIndex", false}};
    o["LastIndexingTime"] = iso_or_null(index->last_indexing_time_us());
    results.push_back(std::move(o));
  }
  respond(http::Response::json(200, json::serialize(json::object{{"Results", std::move(results)}})));
}

void handle_errors(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  Status status;
  auto indexes = selected(*db, req, status);
  if (!status.ok()) return respond(query_error_response(status, req));
  json::array results;
  for (const auto& index : indexes) {
    json::array errors;
    if (std::string e = db->indexes().error_of(*index); !e.empty())
      errors.push_back(json::object{{"Error", e}, {"Action", "Map"}, {"Document", nullptr}});
    results.push_back(json::object{{"Name", index->name()}, {"Errors", std::move(errors)}});
  }
  respond(http::Response::json(200, json::serialize(json::object{{"Results", std::move(results)}})));
}

void handle_clear_errors(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  for (const auto& name : req.query.get_all("name").empty() ? std::vector<std::string>{""} : req.query.get_all("name"))
    if (Status s = db->indexes().clear_errors(name); !s.ok()) return respond(query_error_response(s, req));
  respond(http::Response::empty(204));
}

void handle_terms(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  auto field = required_query(req, "field");
  if (!field.ok()) return respond_error(respond, field.status(), req);
  auto page_size = query_uint(req, "pageSize", 1024);
  if (!page_size.ok()) return respond_error(respond, page_size.status(), req);
  auto index = db->indexes().find(name.value());
  if (!index) return respond(query_error_response(Status::NotFound("Index '" + name.value() + "' does not exist"), req));
  const int number = index->definition().field_number(field.value());
  if (number < 0)
    return respond_error(respond,
                         Status::InvalidArgument("Index '" + index->name() + "' has no field '" + field.value() + "'"),
                         req);
  auto terms = index->terms(static_cast<uint8_t>(number), req.query.get("fromValue").value_or(""),
                            std::max<uint64_t>(1, page_size.value()));
  if (!terms.ok()) return respond_error(respond, terms.status(), req);
  json::array out;
  for (auto& t : terms.value()) out.emplace_back(std::move(t));
  respond(http::Response::json(
      200, json::serialize(json::object{{"IndexName", index->name()},
                                        {"ResultEtag", index->last_indexed_etag()},
                                        {"Terms", std::move(out)}})));
}

void handle_status(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  json::array indexes;
  for (const auto& index : db->indexes().list())
    indexes.push_back(json::object{{"Name", index->name()}, {"Status", running_status(*db, *index)}});
  respond(http::Response::json(
      200, json::serialize(json::object{{"Status", db->indexes().all_paused() ? "Paused" : "Running"},
                                        {"Indexes", std::move(indexes)}})));
}

void handle_delete(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  if (Status s = db->indexes().remove(name.value()); !s.ok()) return respond(query_error_response(s, req));
  respond(http::Response::empty(204));
}

// RESET /indexes?name=: the index forgets its entries and indexes again from etag 0.
void handle_reset(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  if (Status s = db->indexes().reset(name.value()); !s.ok()) return respond(query_error_response(s, req));
  respond(http::Response::empty(204));
}

void handle_pause(ServerStore& store, const http::Request& req, const http::Respond& respond, bool pause) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  const std::string name = req.query.get("name").value_or("");
  Status s = pause ? db->indexes().pause(name) : db->indexes().resume(name);
  if (!s.ok()) return respond(query_error_response(s, req));
  respond(http::Response::empty(204));
}

// Deletes what the query returns, in batches of this many documents per transaction.
constexpr size_t kDeleteBatch = 1024;

void delete_by_query(std::shared_ptr<DocumentDatabase> db, std::shared_ptr<QueryRequest> request, uint64_t id,
                     std::shared_ptr<DatabaseOperations::Operation> operation) {
  auto fail = [&](const Status& s) { db->operations().fault(id, s.to_string()); };
  auto runner = query::QueryRunner::start(*request->query, request->options, db->storage(), db->indexes());
  if (!runner.ok()) return fail(runner.status());
  if (Status s = runner.value()->execute(); !s.ok()) return fail(s);
  if (request->options.wait_for_non_stale && runner.value()->statistics().is_stale)
    return fail(Status::Timeout("Cannot perform bulk operation. Index '" + runner.value()->statistics().index_name +
                                "' is stale and staleTimeout was reached"));
  uint64_t deleted = 0;
  std::vector<std::string> ids;
  auto flush = [&]() -> Status {
    Status s = db->storage().write([&](storage::WriteTransaction& txn) -> Status {
      for (const auto& doc_id : ids)
        if (auto r = txn.remove(doc_id, std::nullopt); !r.ok()) return r.status();
      return Status::Ok();
    });
    deleted += ids.size();
    ids.clear();
    operation->set_progress(json::object{{"Processed", deleted}, {"Total", runner.value()->statistics().total_results}});
    return s;
  };
  for (;;) {
    if (operation->killed()) return;
    auto next = runner.value()->next();
    if (!next.ok()) return fail(next.status());
    if (!next.value()) break;
    ids.push_back(runner.value()->last_id());
    if (ids.size() >= kDeleteBatch)
      if (Status s = flush(); !s.ok()) return fail(s);
  }
  if (Status s = flush(); !s.ok()) return fail(s);
  db->operations().complete(id, json::object{{"Total", deleted},
                                             {"DocumentsProcessed", deleted},
                                             {"AttachmentsProcessed", 0},
                                             {"CountersProcessed", 0},
                                             {"TimeSeriesProcessed", 0},
                                             {"Query", request->text},
                                             {"Details", json::array()}});
}

void handle_delete_by_query(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto request = read_query_request(req);
  if (!request.ok()) return respond(query_error_response(request.status(), req));
  auto shared = std::make_shared<QueryRequest>(std::move(request).value());
  if (Status s = bind_compare_exchange_values(store, db->name(), *shared->query, shared->options.parameters);
      !s.ok())
    return respond(query_error_response(s, req));
  if (shared->query->source == query::SourceKind::AllDocs && !shared->query->where)
    return respond(query_error_response(Status::InvalidArgument("Delete by query on @all_docs needs a where clause"), req));
  // allowStale=false (the clients' default): wait for the index, up to staleTimeout.
  if (req.query.get("allowStale") != std::optional<std::string>("true")) {
    shared->options.wait_for_non_stale = true;
    if (auto timeout = req.query.get("staleTimeout")) {
      auto micros = storage::parse_timespan(*timeout);
      if (!micros.ok()) return respond_error(respond, micros.status(), req);
      shared->options.wait_timeout = std::chrono::milliseconds(micros.value() / 1000);
    }
  }
  const uint64_t id = db->operations().next_id();
  auto operation = db->operations().start(id);
  if (!operation) return respond_error(respond, Status::Internal("operation id in use"), req);
  bool started = store.cluster().run_async([db, shared, id, operation] { delete_by_query(db, shared, id, operation); });
  if (!started) {
    db->operations().fault(id, "too many operations running");
    return respond_error(respond, Status::Busy("too many operations running on this node; retry shortly"), req);
  }
  respond(http::Response::json(
      200, json::serialize(json::object{{"OperationId", id}, {"OperationNodeTag", store.node_tag()}})));
}

}  // namespace

void register_index_routes(http::Router& router, ServerStore& store) {
  router.add(verb::get, "/databases/{db}/indexes", http::RouteAccess::DatabaseRead, "indexes",
             [&store](const http::Request& req, http::Respond respond) { handle_list(store, req, respond); });
  router.add(verb::get, "/databases/{db}/indexes/stats", http::RouteAccess::DatabaseRead, "index_stats",
             [&store](const http::Request& req, http::Respond respond) { handle_stats(store, req, respond); });
  router.add(verb::get, "/databases/{db}/indexes/errors", http::RouteAccess::DatabaseRead, "index_errors",
             [&store](const http::Request& req, http::Respond respond) { handle_errors(store, req, respond); });
  router.add(verb::delete_, "/databases/{db}/indexes/errors", http::RouteAccess::DatabaseAdmin, "index_errors_delete",
             [&store](const http::Request& req, http::Respond respond) { handle_clear_errors(store, req, respond); });
  router.add(verb::get, "/databases/{db}/indexes/terms", http::RouteAccess::DatabaseRead, "index_terms",
             [&store](const http::Request& req, http::Respond respond) { handle_terms(store, req, respond); });
  router.add(verb::get, "/databases/{db}/indexes/status", http::RouteAccess::DatabaseRead, "index_status",
             [&store](const http::Request& req, http::Respond respond) { handle_status(store, req, respond); });
  router.add(verb::delete_, "/databases/{db}/indexes", http::RouteAccess::DatabaseAdmin, "index_delete",
             [&store](const http::Request& req, http::Respond respond) { handle_delete(store, req, respond); });
  router.add_extension_method("RESET", "/databases/{db}/indexes", http::RouteAccess::DatabaseAdmin, "index_reset",
                              [&store](const http::Request& req, http::Respond respond) { handle_reset(store, req, respond); });
  router.add(verb::post, "/databases/{db}/admin/indexes/stop", http::RouteAccess::DatabaseAdmin, "indexes_stop",
             [&store](const http::Request& req, http::Respond respond) { handle_pause(store, req, respond, true); });
  router.add(verb::post, "/databases/{db}/admin/indexes/start", http::RouteAccess::DatabaseAdmin, "indexes_start",
             [&store](const http::Request& req, http::Respond respond) { handle_pause(store, req, respond, false); });
  router.add(verb::delete_, "/databases/{db}/queries", http::RouteAccess::DatabaseReadWrite, "delete_by_query",
             [&store](const http::Request& req, http::Respond respond) { handle_delete_by_query(store, req, respond); });
}

}  // namespace corvus::server::handlers
