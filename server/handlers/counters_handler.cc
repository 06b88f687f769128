// /databases/{db}/counters (REST.md §5.1):
//   GET  ?docId=<id>[&counter=<name>...][&full=true]  one, several or all counters
//   POST {Documents: [DocumentCountersOperation], ReplyWithAllNodesValues}
//        increments, deletes and gets for many documents in one transaction.
// Reads use storage snapshots and never wait for the writer; a POST with any
// write goes through the transaction merger and answers once durable. Both
// answer {"Counters": [CounterDetail or null, ...]}.

#include <algorithm>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "server/handlers/counter_batch_command.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/counters_storage.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;

// Appends the CounterDetails of `names` (every existing counter when empty)
// of `doc_id` to `out`, comma-separated; `first` tracks the separator.
Status append_counters(const storage::DocumentsStorage& storage, const std::string& doc_id,
                       const std::vector<std::string>& names, bool full, std::string& out, bool& first) {
  storage::CountersStorage counters(storage);
  auto append = [&](const std::optional<storage::StoredCounter>& c, std::string_view asked) {
    if (!first) out.push_back(',');
    first = false;
    append_counter_detail(out, doc_id, c, full, asked);
  };
  if (names.empty()) {
    auto all = counters.get_all(doc_id);
    if (!all.ok()) return all.status();
    for (auto& c : all.value()) append(std::move(c), {});
  } else {
    auto some = counters.get(doc_id, names);
    if (!some.ok()) return some.status();
    for (size_t i = 0; i < some.value().size(); ++i) append(some.value()[i], names[i]);
  }
  return Status::Ok();
}

void handle_get(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto doc_id = required_query(req, "docId");
  if (!doc_id.ok()) return respond_error(respond, doc_id.status(), req);
  const bool full = req.query.get("full").value_or("") == "true";
  std::vector<std::string> names;
  for (auto& n : req.query.get_all("counter")) {
    // The client asks for each name once; a repeat would be answered twice.
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(std::move(n));
  }
  std::string body = "{\"Counters\":[";
  bool first = true;
  if (Status s = append_counters(db->storage(), *doc_id, names, full, body, first); !s.ok()) {
    return respond_error(respond, s, req);
  }
  body += "]}";
  respond(http::Response::json(200, std::move(body)));
}

struct CounterBatch {
  std::vector<DocumentCountersOperation> documents;
  bool full = false;
  bool has_writes = false;
};

Result<CounterBatch> parse_counter_batch(const json::value& body) {
  if (!body.is_object()) return Status::InvalidArgument("Counter batch body must be a JSON object");
  const auto& o = body.as_object();
  CounterBatch batch;
  if (const auto* r = o.if_contains("ReplyWithAllNodesValues"); r && !r->is_null()) {
    if (!r->is_bool()) return Status::InvalidArgument("\"ReplyWithAllNodesValues\" must be a boolean");
    batch.full = r->as_bool();
  }
  const auto* docs = o.if_contains("Documents");
  if (!docs || !docs->is_array()) return Status::InvalidArgument("Counter batch body needs a \"Documents\" array");
  size_t index = 0;
  for (const auto& d : docs->as_array()) {
    auto op = parse_document_counters_operation(d, "Documents #" + std::to_string(index++));
    if (!op.ok()) return op.status();
    batch.has_writes |= op->has_writes();
    batch.documents.push_back(std::move(op).value());
  }
  // The long-name-list form of GET posts here with ?docId=..., which the body
  // repeats; like RavenDB, the body is what counts.
  return batch;
}

void handle_post(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  auto parsed = parse_counter_batch(body.value());
  if (!parsed.ok()) return respond_error(respond, parsed.status(), req);
  auto batch = std::make_shared<CounterBatch>(std::move(parsed).value());

  if (!batch->has_writes) {
    // Reads only: straight from a snapshot, like GET.
    std::string out = "{\"Counters\":[";
    bool first = true;
    for (const auto& doc : batch->documents) {
      std::vector<std::string> names;
      for (const auto& op : doc.operations) names.push_back(op.name);
      if (names.empty()) continue;
      if (Status s = append_counters(db->storage(), doc.document_id, names, batch->full, out, first); !s.ok()) {
        return respond_error(respond, s, req);
      }
    }
    out += "]}";
    return respond(http::Response::json(200, std::move(out)));
  }

  auto result = std::make_shared<std::string>();
  db->storage().submit(
      [batch, result](storage::WriteTransaction& txn) -> Status {
        std::string details;
        bool first = true;
        for (const auto& doc : batch->documents) {
          auto cv = apply_document_counters_operation(txn, doc, batch->full, details, first);
          if (!cv.ok()) return cv.status();
        }
        *result = "{\"Counters\":[" + details + "]}";
        return Status::Ok();
      },
      [db, respond, result, url = req.target](Status s) {
        if (!s.ok()) return respond(http::error_response(s, url));
        respond(http::Response::json(200, std::move(*result)));
      },
      req.body.size());
}

}  // namespace

void register_counter_routes(http::Router& router, ServerStore& store) {
  router.add(verb::get, "/databases/{db}/counters", http::RouteAccess::DatabaseRead, "counters_get",
             [&store](const http::Request& req, http::Respond respond) { handle_get(store, req, respond); });
  router.add(verb::post, "/databases/{db}/counters", http::RouteAccess::DatabaseReadWrite, "counters_post",
             [&store](const http::Request& req, http::Respond respond) { handle_post(store, req, respond); });
}

}  // namespace corvus::server::handlers
