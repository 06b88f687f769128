// POST /databases/{db}/bulk_docs: a batch of PUT and DELETE commands applied as
// one ACID transaction through the database's transaction merger. Every
// command is validated before anything is submitted, so bad input changes
// nothing; a concurrency failure rolls the whole batch back (409).

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/clock.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;

struct BatchCommand {
  enum class Kind { Put, Delete } kind;
  std::string id;
  std::optional<std::string> expected_change_vector;  // absent/null: no check; "": must be new
  boost::json::object document;                       // PUT only
};

// Parses and validates the body; InvalidArgument names the command at fault.
Result<std::vector<BatchCommand>> parse_commands(const boost::json::value& body) {
  if (!body.is_object()) return Status::InvalidArgument("Batch body must be a JSON object with \"Commands\"");
  const auto& root = body.as_object();
  if (const auto* mode = root.if_contains("TransactionMode");
      mode && mode->is_string() && mode->as_string() == "ClusterWide") {
    return Status::InvalidArgument("Cluster-wide transactions are not supported by this server yet");
  }
  const auto* commands = root.if_contains("Commands");
  if (!commands || !commands->is_array())
    return Status::InvalidArgument("Batch body must contain a \"Commands\" array");
  std::vector<BatchCommand> out;
  out.reserve(commands->as_array().size());
  size_t index = 0;
  for (const auto& c : commands->as_array()) {
    const std::string where = "Command #" + std::to_string(index++);
    if (!c.is_object()) return Status::InvalidArgument(where + " must be a JSON object");
    const auto& o = c.as_object();
    const auto* type = o.if_contains("Type");
    if (!type || !type->is_string()) return Status::InvalidArgument(where + " has no \"Type\"");
    BatchCommand cmd;
    if (type->as_string() == "PUT") {
      cmd.kind = BatchCommand::Kind::Put;
    } else if (type->as_string() == "DELETE") {
      cmd.kind = BatchCommand::Kind::Delete;
    } else {
      return Status::InvalidArgument(where + ": command type '" + std::string(type->as_string()) +
                                     "' is not supported by this server yet (supported: PUT, DELETE)");
    }
    const auto* id = o.if_contains("Id");
    if (!id || !id->is_string()) return Status::InvalidArgument(where + " has no string \"Id\"");
    cmd.id = std::string(id->as_string());
    if (cmd.kind == BatchCommand::Kind::Delete && cmd.id.empty())
      return Status::InvalidArgument(where + ": DELETE needs a non-empty \"Id\"");
    if (const auto* cv = o.if_contains("ChangeVector"); cv && !cv->is_null()) {
      if (!cv->is_string()) return Status::InvalidArgument(where + ": \"ChangeVector\" must be a string or null");
      if (Status s = validate_change_vector(cv->as_string()); !s.ok())
        return Status::InvalidArgument(where + ": " + s.message());
      cmd.expected_change_vector = std::string(cv->as_string());
    }
    if (cmd.kind == BatchCommand::Kind::Put) {
      const auto* doc = o.if_contains("Document");
      if (!doc || !doc->is_object()) return Status::InvalidArgument(where + ": PUT needs a \"Document\" object");
      cmd.document = doc->as_object();
    }
    out.push_back(std::move(cmd));
  }
  return out;
}

void append_put_result(std::string& out, const storage::PutResult& r) {
  out += "{\"Type\":\"PUT\",\"@id\":";
  out += json_string(r.id);
  if (!r.collection.empty()) {
    out += ",\"@collection\":";
    out += json_string(r.collection);
  }
  out += ",\"@change-vector\":";
  out += json_string(r.change_vector);
  out += ",\"@last-modified\":\"";
  out += storage::format_iso8601(r.last_modified_us);
  out += "\"";
  if (std::string flags = storage::flags_to_string(r.flags); !flags.empty()) {
    out += ",\"@flags\":";
    out += json_string(flags);
  }
  out += "}";
}

void handle_batch(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  if (req.header("Content-Type").starts_with("multipart/")) {
    return respond_error(respond,
                         Status::InvalidArgument("Batches with attachment streams (multipart) are not supported "
                                                 "by this server yet"),
                         req);
  }
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  auto parsed = parse_commands(body.value());
  if (!parsed.ok()) return respond_error(respond, parsed.status(), req);

  struct State {
    std::vector<BatchCommand> commands;
    std::string results;
  };
  auto state = std::make_shared<State>();
  state->commands = std::move(parsed).value();
  db->storage().submit(
      [state](storage::WriteTransaction& txn) -> Status {
        std::string& out = state->results;
        out = "{\"Results\":[";
        bool first = true;
        for (auto& cmd : state->commands) {
          if (!first) out.push_back(',');
          first = false;
          if (cmd.kind == BatchCommand::Kind::Put) {
            auto r = txn.put(cmd.id, std::move(cmd.document), cmd.expected_change_vector);
            if (!r.ok()) return r.status();
            append_put_result(out, r.value());
          } else {
            auto r = txn.remove(cmd.id, cmd.expected_change_vector);
            if (!r.ok()) return r.status();
            out += "{\"Type\":\"DELETE\",\"@id\":" + json_string(cmd.id) + ",\"Id\":" + json_string(cmd.id) +
                   ",\"Deleted\":" + (r->deleted ? "true" : "false") + "}";
          }
        }
        out += "]}";
        return Status::Ok();
      },
      [db, state, respond, url = req.target](Status s) {
        if (!s.ok()) return respond(http::error_response(s, url));
        respond(http::Response::json(201, std::move(state->results)));
      },
      req.body.size());
}

}  // namespace

void register_batch_routes(http::Router& router, ServerStore& store) {
  router.add(verb::post, "/databases/{db}/bulk_docs", "bulk_docs",
             [&store](const http::Request& req, http::Respond respond) { handle_batch(store, req, respond); });
}

}  // namespace corvus::server::handlers
