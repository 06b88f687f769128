// POST /databases/{db}/bulk_docs: a batch of commands (batch_commands.h) applied as
// one ACID transaction through the database's transaction merger. Every
// command is validated before anything is submitted, so bad input changes
// nothing; a concurrency failure rolls the whole batch back (409). Identity
// ids ("users|") get their numbers from the cluster first.
//
// With "TransactionMode": "ClusterWide" the batch is a cluster-wide
// transaction instead (REST.md §3.3): one Rachis command holding documents
// and compare-exchange changes, checked at apply (compare-exchange indexes,
// atomic guards) and answered once this node applied its documents.

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "server/handlers/batch_commands.h"
#include "server/handlers/cluster_identities.h"
#include "server/handlers/document_patch.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/multipart_batch.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/scripting/script_limits.h"
#include "failpoints/failpoints.h"
#include "rachis/cluster/commands/cluster_transaction_command.h"
#include "server/server_store.h"
#include "storage/clock.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;
namespace rc = rachis::cluster;

// The "Commands" array of a batch body.
Result<const json::array*> commands_of(const json::object& root) {
  const auto* commands = root.if_contains("Commands");
  if (!commands || !commands->is_array()) return Status::InvalidArgument("Batch body must contain a \"Commands\" array");
  return &commands->as_array();
}

using Commands = std::vector<std::unique_ptr<BatchCommand>>;

// Parses and validates the body; InvalidArgument names the command at fault.
Result<Commands> parse_commands(const boost::json::value& body, BatchParseContext& context) {
  if (!body.is_object()) return Status::InvalidArgument("Batch body must be a JSON object with \"Commands\"");
  auto commands = commands_of(body.as_object());
  if (!commands.ok()) return commands.status();
  Commands out;
  out.reserve((*commands)->size());
  size_t index = 0;
  for (const auto& c : **commands) {
    auto view = command_at(c, index++);
    if (!view.ok()) return view.status();
    auto parser = batch_command_parser(view->type);
    if (!parser) {
      return Status::InvalidArgument(view->where + ": command type '" + view->type +
                                     "' is not supported by this server yet (supported: " +
                                     supported_batch_commands() + ")");
    }
    auto cmd = parser(view.value(), context);
    if (!cmd.ok()) return cmd.status();
    out.push_back(std::move(cmd).value());
  }
  return out;
}

bool is_cluster_wide(const json::value& body) {
  if (!body.is_object()) return false;
  const auto* mode = body.as_object().if_contains("TransactionMode");
  return mode && mode->is_string() && mode->as_string() == "ClusterWide";
}

// A batch with PATCH commands whose documents changed between their scripts
// and the transaction runs again from its body, up to kMaxPatchAttempts times.
struct BatchRetry {
  ServerStore& store;
  std::shared_ptr<DocumentDatabase> db;
  std::shared_ptr<const json::value> body;  // JSON batches only (multipart parts are consumed)
  http::Respond respond;
  std::string url;
  size_t size_hint = 0;
  int attempts = 1;
};

void resolve_identities_then_submit(ServerStore& store, std::shared_ptr<DocumentDatabase> db, Commands commands,
                                    const http::Respond& respond, const std::string& url, size_t size_hint,
                                    std::shared_ptr<BatchRetry> retry);

// Parses the body again and resubmits (on a script thread: never the writer's).
void retry_batch(std::shared_ptr<BatchRetry> r) {
  ++r->attempts;
  BatchParseContext context;
  auto parsed = parse_commands(*r->body, context);
  if (!parsed.ok()) return r->respond(http::error_response(parsed.status(), r->url));
  resolve_identities_then_submit(r->store, r->db, std::move(parsed).value(), r->respond, r->url, r->size_hint, r);
}

// Prepares the commands (PATCH scripts run here, on this thread), submits the
// batch to the database's transaction merger and answers.
void submit_batch(std::shared_ptr<DocumentDatabase> db, Commands commands, const http::Respond& respond,
                  const std::string& url, size_t size_hint, std::shared_ptr<BatchRetry> retry) {
  BatchPrepareContext prepare;
  for (const auto& cmd : commands) prepare.track |= cmd->reads_batch_writes();
  for (auto& cmd : commands) {
    if (Status s = cmd->prepare(db->storage(), prepare); !s.ok()) return respond(patch_error_response(s, url));
  }
  struct State {
    Commands commands;
    std::string results;
  };
  auto state = std::make_shared<State>();
  state->commands = std::move(commands);
  db->storage().submit_or_run(
      [state](storage::WriteTransaction& txn) -> Status {
        std::string& out = state->results;
        out = "{\"Results\":[";
        bool first = true;
        for (auto& cmd : state->commands) {
          if (!first) out.push_back(',');
          first = false;
          if (Status s = cmd->apply(txn, out); !s.ok()) return s;
        }
        out += "]}";
        return Status::Ok();
      },
      [db, state, respond, url, retry](Status s) {
        if (!s.ok()) {
          bool raced = false;
          for (const auto& cmd : state->commands) raced |= cmd->raced();
          if (raced && retry && retry->attempts < kMaxPatchAttempts &&
              scripting::post_script_work([retry] { retry_batch(retry); })) {
            return;
          }
          return respond(http::error_response(s, url));
        }
        respond(http::Response::json(201, std::move(state->results)));
      },
      size_hint);
}

// Identity ids ("users|") take their numbers from the cluster first.
void resolve_identities_then_submit(ServerStore& store, std::shared_ptr<DocumentDatabase> db, Commands commands,
                                    const http::Respond& respond, const std::string& url, size_t size_hint,
                                    std::shared_ptr<BatchRetry> retry) {
  auto shared = std::make_shared<Commands>(std::move(commands));
  std::vector<std::string*> ids;
  for (auto& c : *shared) {
    if (std::string* id = c->identity_id()) ids.push_back(id);
  }
  resolve_cluster_identities(store, db->name(), std::move(ids),
                             [db, shared, respond, url, size_hint, retry](Status s) mutable {
                               if (!s.ok()) return respond(http::error_response(s, url));
                               submit_batch(std::move(db), std::move(*shared), respond, url, size_hint, retry);
                             });
}

// True when the batch has a PATCH command (it may have to run again).
bool has_patch_command(const json::value& body) {
  const auto* commands = body.as_object().if_contains("Commands");
  for (const auto& c : commands->as_array()) {
    const auto* type = c.as_object().if_contains("Type");
    if (type && type->is_string() && (type->as_string() == "PATCH" || type->as_string() == "BatchPATCH")) return true;
  }
  return false;
}

// Parses a ClusterWide batch into the command; InvalidArgument names the command at fault.
// `refused_key` is set when the failure is a compare-exchange key the cluster refuses.
Result<rc::ClusterTransactionCommand> parse_cluster_transaction(const json::object& root, const std::string& database,
                                                                std::string* refused_key) {
  auto commands = commands_of(root);
  if (!commands.ok()) return commands.status();
  rc::ClusterTransactionCommand cmd;
  cmd.database = database;
  size_t index = 0;
  for (const auto& c : **commands) {
    auto view = command_at(c, index++);
    if (!view.ok()) return view.status();
    const std::string& where = view->where;
    const auto& o = *view->o;
    const auto* id = o.if_contains("Id");
    if (!id || !id->is_string() || id->as_string().empty()) return Status::InvalidArgument(where + " needs a non-empty \"Id\"");
    const std::string& t = view->type;
    rc::ClusterTransactionItem item;
    if (t == "PUT" || t == "DELETE") {
      item.kind = t == "PUT" ? rc::ClusterTransactionItem::Kind::PutDocument : rc::ClusterTransactionItem::Kind::DeleteDocument;
      item.id = std::string(id->as_string());
      if (item.id.back() == '/' || item.id.back() == '|') {
        return Status::InvalidArgument(where + ": a cluster-wide transaction needs complete ids, got '" + item.id + "'");
      }
      if (const auto* cv = o.if_contains("ChangeVector"); cv && !cv->is_null()) {
        return Status::InvalidArgument(where + ": optimistic concurrency (ChangeVector) is not supported in a "
                                               "cluster-wide transaction; the atomic guards check concurrency");
      }
      if (const auto* cv = o.if_contains("OriginalChangeVector"); cv && cv->is_string()) {
        item.original_change_vector = std::string(cv->as_string());
      }
      if (item.kind == rc::ClusterTransactionItem::Kind::PutDocument) {
        const auto* doc = o.if_contains("Document");
        if (!doc || !doc->is_object()) return Status::InvalidArgument(where + ": PUT needs a \"Document\" object");
        item.document = doc->as_object();
      }
    } else if (t == "CompareExchangePUT" || t == "CompareExchangeDELETE") {
      item.kind = rc::ClusterTransactionItem::Kind::CompareExchange;
      item.op.kind = t == "CompareExchangePUT" ? rc::CompareExchangeOp::Kind::Put : rc::CompareExchangeOp::Kind::Delete;
      item.op.key = std::string(id->as_string());
      if (Status s = rc::validate_compare_exchange_key(item.op.key); !s.ok()) {
        *refused_key = item.op.key;
        return Status::InvalidArgument(where + ": " + s.message());
      }
      if (storage::lower_id(item.op.key).starts_with(rc::kAtomicGuardPrefix)) {
        // Guards belong to the documents; the session may not forge them.
        return Status::InvalidArgument("You cannot manipulate the atomic guard '" + item.op.key +
                                       "' via the cluster-wide session");
      }
      const auto* idx = o.if_contains("Index");
      if (!idx || !(idx->is_int64() || idx->is_uint64()) || (idx->is_int64() && idx->as_int64() < 0)) {
        return Status::InvalidArgument(where + ": needs a non-negative \"Index\"");
      }
      item.op.expected_index = idx->to_number<std::uint64_t>();
      if (item.op.kind == rc::CompareExchangeOp::Kind::Put) {
        const auto* doc = o.if_contains("Document");
        if (!doc || !doc->is_object()) return Status::InvalidArgument(where + ": CompareExchangePUT needs a \"Document\"");
        item.op.value_json = json::serialize(*doc);
      }
    } else {
      return Status::InvalidArgument(where + ": command type '" + t +
                                     "' is not allowed in a cluster-wide transaction (PUT, DELETE, "
                                     "CompareExchangePUT, CompareExchangeDELETE)");
    }
    cmd.items.push_back(std::move(item));
  }
  return cmd;
}

void handle_cluster_transaction(ServerStore& store, std::shared_ptr<DocumentDatabase> db, const json::object& root,
                                const http::Request& req, const http::Respond& respond) {
  std::string refused_key;
  auto parsed = parse_cluster_transaction(root, db->name(), &refused_key);
  if (!parsed.ok()) {
    // A key the cluster refuses gets RavenDB's own exception.
    if (!refused_key.empty()) return respond(compare_exchange_key_refused(refused_key, parsed.status(), req.target));
    return respond_error(respond, parsed.status(), req);
  }
  auto cmd = std::make_shared<rc::ClusterTransactionCommand>(std::move(parsed).value());
  cmd->disable_atomic_document_writes = req.query.get("disableAtomicDocumentWrites").value_or("") == "true";
  cmd->last_modified_us = storage::SystemClock().now_micros();
  bool has_documents = false;
  for (const auto& it : cmd->items) has_documents |= it.kind != rc::ClusterTransactionItem::Kind::CompareExchange;
  store.cluster().execute(*cmd, [db, cmd, has_documents, respond, url = req.target](rc::CommandResult r,
                                                                                    rachis::core::Index index) {
    if (r.status.is_concurrency_conflict()) {
      return respond(http::error_response(409, "Raven.Client.Exceptions.ClusterTransactionConcurrencyException",
                                          r.status.message(), url));
    }
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    json::object out = r.value.as_object();
    // The session merges every key of a PUT entry into the entity's metadata.
    auto& results = out["Results"].as_array();
    for (size_t i = 0; i < results.size() && i < cmd->items.size(); ++i) {
      const auto& item = cmd->items[i];
      if (item.kind != rc::ClusterTransactionItem::Kind::PutDocument) continue;
      auto& entry = results[i].as_object();
      entry["@last-modified"] = storage::format_iso8601(cmd->last_modified_us);
      if (const auto* m = item.document.if_contains("@metadata"); m && m->is_object()) {
        if (const auto* c = m->as_object().if_contains("@collection")) entry["@collection"] = *c;
      }
    }
    out["TransactionIndex"] = index;
    auto answer = [respond, body = json::serialize(out)] {
      CORVUS_FAILPOINT("cluster-tx.before-respond");
      respond(http::Response::json(201, body));
    };
    // Answer once this node's copy has the documents: the client reads its write here next.
    if (has_documents) return db->cluster_transactions().when_reached(index, answer);
    answer();
  });
}

// Validates and runs a parsed (non-cluster-wide or cluster-wide) batch body.
void run_batch(ServerStore& store, std::shared_ptr<DocumentDatabase> db, const json::value& body,
               BatchParseContext& context, const http::Request& req, const http::Respond& respond, size_t size_hint) {
  if (is_cluster_wide(body)) {
    if (!context.attachment_streams.empty()) {
      return respond_error(respond, Status::InvalidArgument("A cluster-wide transaction cannot store attachments"), req);
    }
    return handle_cluster_transaction(store, db, body.as_object(), req, respond);
  }
  auto parsed = parse_commands(body, context);
  if (!parsed.ok()) return respond_error(respond, parsed.status(), req);
  if (context.next_attachment_stream != context.attachment_streams.size()) {
    return respond_error(respond,
                         Status::InvalidArgument("The batch has " + std::to_string(context.attachment_streams.size()) +
                                                 " attachment parts but " +
                                                 std::to_string(context.next_attachment_stream) +
                                                 " AttachmentPUT commands"),
                         req);
  }
  std::shared_ptr<BatchRetry> retry;
  if (context.attachment_streams.empty() && has_patch_command(body)) {
    retry = std::make_shared<BatchRetry>(BatchRetry{store, db, std::make_shared<const json::value>(body), respond,
                                                    req.target, size_hint});
  }
  resolve_identities_then_submit(store, std::move(db), std::move(parsed).value(), respond, req.target, size_hint,
                                 std::move(retry));
}

bool is_multipart(const boost::beast::http::fields& headers) {
  auto it = headers.find(boost::beast::http::field::content_type);
  return it != headers.end() && std::string_view(it->value().data(), it->value().size()).starts_with("multipart/");
}

void handle_batch(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  if (req.body_reader) {
    // multipart/form-data, streamed (REST.md §3.2): the parts' bytes are stored
    // (and pinned) as they arrive, then the commands run as for JSON.
    return read_multipart_batch(db, req, [&store, db, &req, respond](Result<json::value> body,
                                                                     BatchParseContext context, uint64_t bytes) {
      if (!body.ok()) return respond_error(respond, body.status(), req);
      run_batch(store, db, body.value(), context, req, respond, static_cast<size_t>(bytes));
    });
  }
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  BatchParseContext context;
  run_batch(store, std::move(db), body.value(), context, req, respond, req.body.size());
}

}  // namespace

void register_batch_routes(http::Router& router, ServerStore& store) {
  // JSON batches are read whole as before; multipart ones (attachments) stream.
  http::RouteOptions options;
  options.streaming_body_if = is_multipart;
  router.add(verb::post, "/databases/{db}/bulk_docs", http::RouteAccess::DatabaseReadWrite, "bulk_docs",
             [&store](const http::Request& req, http::Respond respond) { handle_batch(store, req, respond); },
             options);
}

}  // namespace corvus::server::handlers
