// PATCH /databases/{db}/docs?id=: runs a patch script on one document
// (REST.md 3.1 PATCH; RavenDB's PatchOperation). Query: test=true (run and
// answer, write nothing), debug=true (the script's output in "Debug"),
// skipPatchIfChangeVectorMismatch=true (answer 304 instead of 409 when the
// If-Match change vector is not the document's). The script runs on the
// request's thread (document_patch.h); its writes go through the merger with
// the change vector it saw; if the document changed meanwhile it runs again
// on a script thread (scripting::post_script_work), up to kMaxPatchAttempts
// times, then 409.
//
// Answers: 200 {Status: Patched|NotModified, ModifiedDocument,
// OriginalDocument, Debug, ChangeVector, LastModified, Collection}; 201 when
// PatchIfMissing created it; 404 (empty) when it does not exist;
// 304 (empty) when skipped; 400 JavaScriptException when the script fails.

#include <memory>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "server/handlers/document_patch.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/scripting/script_limits.h"
#include "server/server_store.h"
#include "storage/clock.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;

bool query_flag(const http::Request& req, std::string_view key) { return req.query.get(key).value_or("") == "true"; }

// The Debug object: the script's output().
void append_debug(std::string& out, const PreparedPatch& p) {
  out += "{\"Output\":[";
  bool first = true;
  for (const auto& line : p.run.output) {
    if (!first) out += ',';
    first = false;
    out += json_string(line);
  }
  out += "],\"Actions\":null}";
}

std::string patch_answer(const PreparedPatch& p, const std::optional<storage::Document>& stored,
                         const std::optional<json::object>& unsaved, bool with_original, bool debug) {
  std::string out = "{\"Status\":\"";
  out += patch_status_name(p.status);
  out += "\",\"ModifiedDocument\":";
  if (unsaved) {
    out += json::serialize(*unsaved);
  } else {
    append_document(out, stored);
  }
  out += ",\"OriginalDocument\":";
  out += with_original && !p.original_json.empty() ? p.original_json : "null";
  out += ",\"Debug\":";
  if (debug) {
    append_debug(out, p);
  } else {
    out += "null";
  }
  if (stored) {
    out += ",\"ChangeVector\":" + json_string(stored->change_vector);
    out += ",\"LastModified\":\"" + storage::format_iso8601(stored->last_modified_us) + "\"";
    out += ",\"Collection\":" + json_string(stored->collection.empty() ? "@empty" : stored->collection);
  }
  out += "}";
  return out;
}

// One PATCH request, kept alive across its attempts.
struct PatchJob : std::enable_shared_from_this<PatchJob> {
  std::shared_ptr<DocumentDatabase> db;
  std::string id;
  PatchRequest request;
  std::optional<std::string> client_change_vector;
  bool skip_if_mismatch = false;
  bool test = false;
  bool debug = false;
  http::Respond respond;
  std::string url;
  int attempts = 0;
  std::optional<KnownVersion> latest;  // after a race: the version that won

  // Any thread but the merger's writer.
  void run() {
    ++attempts;
    auto prepared = prepare_patch(db->storage(), id, request, client_change_vector, skip_if_mismatch,
                                  latest ? &*latest : nullptr);
    if (!prepared.ok()) return respond(patch_error_response(prepared.status(), url));
    auto p = std::make_shared<PreparedPatch>(std::move(prepared).value());
    if (p->status == PatchStatus::DocumentDoesNotExist) return respond(http::Response::empty(404));
    if (p->status == PatchStatus::Skipped) return respond(http::Response::empty(304));
    const unsigned code = p->status == PatchStatus::Created ? 201 : 200;
    if (test) {
      std::optional<json::object> shown = p->document ? p->document : std::optional<json::object>(p->run.document);
      return respond(http::Response::json(code, patch_answer(*p, std::nullopt, shown, true, true)));
    }
    auto applied = std::make_shared<AppliedPatch>();
    db->storage().submit_or_run(
        [p, applied](storage::WriteTransaction& txn) -> Status {
          auto r = apply_prepared_patch(txn, *p);
          if (!r.ok()) return r.status();
          *applied = std::move(r).value();
          return Status::Ok();
        },
        [self = shared_from_this(), p, applied, code](Status s) {
          if (s.ok()) {
            return self->respond(http::Response::json(
                code, patch_answer(*p, applied->document, std::nullopt, self->debug, self->debug)));
          }
          // The document changed after the script read it: run it again on
          // the new version, off the writer thread this completion may be on.
          if (p->raced && self->attempts < kMaxPatchAttempts) {
            self->latest = KnownVersion{p->latest};
            if (scripting::post_script_work([self] { self->run(); })) return;
          }
          self->respond(http::error_response(s, self->url));
        });
  }
};

void handle_patch(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto id = required_query(req, "id");
  if (!id.ok()) return respond_error(respond, id.status(), req);
  // If-Match is only compared with the document's change vector: one that
  // cannot be anybody's is a 409 (or a skip) when the patch runs, as in RavenDB.
  std::optional<std::string> expected;
  if (std::string_view v = req.header("If-Match"); !v.empty()) expected = std::string(unquote(v));
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  if (!body->is_object()) return respond_error(respond, Status::InvalidArgument("The patch body must be a JSON object"), req);
  auto request = parse_patch_request(body->as_object(), "The patch");
  if (!request.ok()) return respond_error(respond, request.status(), req);
  auto job = std::make_shared<PatchJob>();
  job->db = std::move(db);
  job->id = std::move(id).value();
  job->request = std::move(request).value();
  job->client_change_vector = std::move(expected);
  job->skip_if_mismatch = query_flag(req, "skipPatchIfChangeVectorMismatch");
  job->test = query_flag(req, "test");
  job->debug = query_flag(req, "debug");
  job->respond = respond;
  job->url = req.target;
  job->run();
}

}  // namespace

void register_patch_routes(http::Router& router, ServerStore& store) {
  router.add(verb::patch, "/databases/{db}/docs", http::RouteAccess::DatabaseReadWrite, "docs_patch",
             [&store](const http::Request& req, http::Respond respond) { handle_patch(store, req, respond); });
}

}  // namespace corvus::server::handlers
