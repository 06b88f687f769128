// PATCH /databases/{db}/queries: patch by query (RavenDB's
// PatchByQueryOperation), body {"Query": {Query, QueryParameters}} with an RQL
// query ending in `update { <script> }`. Answers {OperationId,
// OperationNodeTag} at once and runs as a long-running operation on a worker
// thread (DatabaseOperations: /operations/state, progress {Processed, Total},
// kill): the query's ids are collected, then patched in transactions of
// kPatchBatch documents, each script run before its transaction
// (document_patch.h), a batch prepared again when a document changed under it.
// A failing script faults the operation with JavaScriptException; the batches
// already written stay written (as in RavenDB, a patch by query is not one
// transaction).
//
// In the script `this` is the document (also the query's alias, if it has
// one) and `$name` reads query parameter `name` (RavenDB's syntax; the
// parameters are also `args`).

#include <memory>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "query/rql_parser.h"
#include "server/handlers/document_patch.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/query_request.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/clock.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;

constexpr size_t kPatchBatch = 256;
constexpr std::string_view kJavaScriptExceptionType = "Raven.Client.Exceptions.Documents.Patching.JavaScriptException";

bool identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

// The update script as JavaScript: `$name` outside string literals and
// comments becomes `args.name`; an alias is bound to `this`.
std::string update_script_as_javascript(const std::string& script, const std::string& alias) {
  std::string out;
  if (!alias.empty()) out += "var " + alias + " = this; ";
  for (size_t i = 0; i < script.size(); ++i) {
    char c = script[i];
    if (c == '\'' || c == '"' || c == '`') {
      size_t j = i + 1;
      while (j < script.size() && script[j] != c) j += script[j] == '\\' ? 2 : 1;
      out.append(script, i, std::min(j + 1, script.size()) - i);
      i = std::min(j, script.size());
      continue;
    }
    if (c == '/' && i + 1 < script.size() && (script[i + 1] == '/' || script[i + 1] == '*')) {
      size_t end = script[i + 1] == '/' ? script.find('\n', i) : script.find("*/", i + 2);
      end = end == std::string::npos ? script.size() : end + (script[i + 1] == '/' ? 0 : 2);
      out.append(script, i, end - i);
      i = end - 1;
      continue;
    }
    if (c == '$' && i + 1 < script.size() && identifier_char(script[i + 1]) && script[i + 1] != '$' &&
        (i == 0 || !identifier_char(script[i - 1]))) {
      out += "args.";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

struct PatchByQuery {
  std::shared_ptr<DocumentDatabase> db;
  std::shared_ptr<QueryRequest> query;
  PatchRequest patch;
  uint64_t id = 0;
  std::shared_ptr<DatabaseOperations::Operation> operation;
};

// Patches `ids`; a document changed under its script is prepared again (the
// whole batch), up to kMaxPatchAttempts times. Returns how many were patched.
Result<uint64_t> patch_batch(DocumentDatabase& db, const PatchRequest& patch, const std::vector<std::string>& ids) {
  std::vector<std::optional<KnownVersion>> latest(ids.size());
  for (int attempt = 1;; ++attempt) {
    std::vector<PreparedPatch> prepared;
    prepared.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto& doc_id = ids[i];
      auto p = prepare_patch(db.storage(), doc_id, patch, std::nullopt, false, latest[i] ? &*latest[i] : nullptr);
      if (!p.ok()) return p.status();
      prepared.push_back(std::move(p).value());
    }
    uint64_t patched = 0;
    Status s = db.storage().write([&](storage::WriteTransaction& txn) -> Status {
      for (auto& p : prepared) {
        auto applied = apply_prepared_patch(txn, p);
        if (!applied.ok()) return applied.status();
        if (p.status == PatchStatus::Patched) ++patched;
      }
      return Status::Ok();
    });
    if (s.ok()) return patched;
    bool raced = false;
    for (size_t i = 0; i < prepared.size(); ++i) {
      if (!prepared[i].raced) continue;
      raced = true;
      latest[i] = KnownVersion{prepared[i].latest};
    }
    if (!raced || attempt >= kMaxPatchAttempts) return s;
  }
}

void run_patch_by_query(const PatchByQuery& job) {
  auto& db = *job.db;
  auto fail = [&](const Status& s) {
    if (s.is_invalid_argument()) return db.operations().fault(job.id, s.message(), std::string(kJavaScriptExceptionType));
    db.operations().fault(job.id, s.to_string());
  };
  auto runner = query::QueryRunner::start(*job.query->query, job.query->options, db.storage(), db.indexes());
  if (!runner.ok()) return fail(runner.status());
  if (Status s = runner.value()->execute(); !s.ok()) return fail(s);
  if (job.query->options.wait_for_non_stale && runner.value()->statistics().is_stale) {
    return fail(Status::Timeout("Cannot perform bulk operation. Index '" + runner.value()->statistics().index_name +
                                "' is stale and staleTimeout was reached"));
  }
  // Ids first: the patches write the very documents the query walks.
  std::vector<std::string> ids;
  for (;;) {
    if (job.operation->killed()) return;
    auto next = runner.value()->next();
    if (!next.ok()) return fail(next.status());
    if (!next.value()) break;
    ids.push_back(runner.value()->last_id());
  }
  uint64_t processed = 0;
  for (size_t start = 0; start < ids.size(); start += kPatchBatch) {
    if (job.operation->killed()) return;
    std::vector<std::string> batch(ids.begin() + static_cast<std::ptrdiff_t>(start),
                                   ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), start + kPatchBatch)));
    auto patched = patch_batch(db, job.patch, batch);
    if (!patched.ok()) return fail(patched.status());
    processed += batch.size();
    job.operation->set_progress(json::object{{"Processed", processed}, {"Total", ids.size()}});
  }
  db.operations().complete(job.id, json::object{{"Total", processed},
                                                {"DocumentsProcessed", processed},
                                                {"AttachmentsProcessed", 0},
                                                {"CountersProcessed", 0},
                                                {"TimeSeriesProcessed", 0},
                                                {"Query", job.query->text},
                                                {"Details", json::array()}});
}

void handle_patch_by_query(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  const json::object* inner = nullptr;
  if (const auto* o = body->if_object()) {
    if (const auto* q = o->if_contains("Query")) inner = q->if_object();
  }
  if (!inner) return respond_error(respond, Status::InvalidArgument("The body must be {\"Query\": {\"Query\": ...}}"), req);
  auto request = query_request_from_json(*inner);
  if (!request.ok()) return respond(query_error_response(request.status(), req));
  auto job = std::make_shared<PatchByQuery>();
  job->db = db;
  job->query = std::make_shared<QueryRequest>(std::move(request).value());
  if (!job->query->query->update_script) {
    return respond(query_error_response(Status::InvalidArgument("Patch by query needs an 'update { ... }' clause"), req));
  }
  job->patch.patch.script = update_script_as_javascript(*job->query->query->update_script, job->query->query->alias);
  // The query runner selects; the update is ours (the query, not copyable, is parsed again without it).
  auto selecting = query::parse_rql(job->query->text);
  if (!selecting.ok()) return respond(query_error_response(selecting.status(), req));
  selecting->update_script.reset();
  job->query->query = std::make_shared<const query::Query>(std::move(selecting).value());
  job->patch.patch.values = job->query->options.parameters;
  // allowStale=false (the clients' default): wait for the index, up to staleTimeout.
  if (req.query.get("allowStale") != std::optional<std::string>("true")) {
    job->query->options.wait_for_non_stale = true;
    if (auto timeout = req.query.get("staleTimeout")) {
      auto micros = storage::parse_timespan(*timeout);
      if (!micros.ok()) return respond_error(respond, micros.status(), req);
      job->query->options.wait_timeout = std::chrono::milliseconds(micros.value() / 1000);
    }
  }
  job->id = db->operations().next_id();
  job->operation = db->operations().start(job->id);
  if (!job->operation) return respond_error(respond, Status::Internal("operation id in use"), req);
  if (!store.cluster().run_async([job] { run_patch_by_query(*job); })) {
    db->operations().fault(job->id, "too many operations running");
    return respond_error(respond, Status::Busy("too many operations running on this node; retry shortly"), req);
  }
  respond(http::Response::json(
      200, json::serialize(json::object{{"OperationId", job->id}, {"OperationNodeTag", store.node_tag()}})));
}

}  // namespace

void register_patch_by_query_routes(http::Router& router, ServerStore& store) {
  router.add(verb::patch, "/databases/{db}/queries", http::RouteAccess::DatabaseReadWrite, "patch_by_query",
             [&store](const http::Request& req, http::Respond respond) { handle_patch_by_query(store, req, respond); });
}

}  // namespace corvus::server::handlers
