#include "server/handlers/document_batch_commands.h"

#include "server/handlers/handler_support.h"
#include "server/handlers/revision_batch_commands.h"
#include "storage/clock.h"

namespace corvus::server::handlers {
namespace {

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

class PutCommand final : public BatchCommand {
 public:
  PutCommand(std::string id, std::optional<std::string> expected, boost::json::object document, bool revision_before,
             bool result_unread)
      : id_(std::move(id)), expected_(std::move(expected)), document_(std::move(document)),
        revision_before_(revision_before), result_unread_(result_unread) {}
  std::string* identity_id() override { return &id_; }
  Status prepare(const storage::DocumentsStorage&, BatchPrepareContext& context) override {
    // A generated id ("users/") is not known before the write: no PATCH can name it.
    if (context.track && !id_.empty() && id_.back() != '/' && id_.back() != '|') {
      context.pending[storage::lower_id(id_)] = document_;
    }
    return Status::Ok();
  }
  Status apply(storage::WriteTransaction& txn, std::string& out) override {
    if (revision_before_) {
      auto checked = force_revision_before_put(txn, id_, expected_);
      if (!checked.ok()) return checked.status();
      expected_ = std::move(checked).value();
    }
    auto r = txn.put(id_, std::move(document_), expected_);
    if (!r.ok()) return r.status();
    if (!result_unread_) append_put_result(out, r.value());
    return Status::Ok();
  }

 private:
  std::string id_;  // "" (or absent in the request): the server generates one
  std::optional<std::string> expected_;
  boost::json::object document_;
  bool revision_before_;  // ForceRevisionCreationStrategy "Before"
  bool result_unread_;    // CommandView::results_unread: rendering it was 3% of a bulk insert's writer
};

class DeleteCommand final : public BatchCommand {
 public:
  DeleteCommand(std::string id, std::optional<std::string> expected) : id_(std::move(id)), expected_(std::move(expected)) {}
  Status prepare(const storage::DocumentsStorage&, BatchPrepareContext& context) override {
    if (context.track) context.pending[storage::lower_id(id_)] = std::nullopt;
    return Status::Ok();
  }
  Status apply(storage::WriteTransaction& txn, std::string& out) override {
    auto r = txn.remove(id_, expected_);
    if (!r.ok()) return r.status();
    out += "{\"Type\":\"DELETE\",\"@id\":" + json_string(id_) + ",\"Id\":" + json_string(id_) +
           ",\"Deleted\":" + (r->deleted ? "true" : "false") + "}";
    return Status::Ok();
  }

 private:
  std::string id_;
  std::optional<std::string> expected_;
};

}  // namespace

Result<std::unique_ptr<BatchCommand>> parse_put_command(const CommandView& c, BatchParseContext&) {
  // A missing or null Id asks the server for one, as an empty one does.
  std::string id;
  if (const auto* v = c.o->if_contains("Id"); v && !v->is_null()) {
    if (!v->is_string()) return Status::InvalidArgument(c.where + ": \"Id\" must be a string or null");
    id = std::string(v->as_string());
  }
  auto expected = optional_change_vector(c);
  if (!expected.ok()) return expected.status();
  const auto* doc = c.o->if_contains("Document");
  if (!doc || !doc->is_object()) return Status::InvalidArgument(c.where + ": PUT needs a \"Document\" object");
  auto revision_before = parse_force_revision_before(c);
  if (!revision_before.ok()) return revision_before.status();
  boost::json::object document = c.take ? std::move(c.take->at("Document").as_object()) : doc->as_object();
  return std::unique_ptr<BatchCommand>(
      new PutCommand(std::move(id), std::move(expected).value(), std::move(document), revision_before.value(),
                     c.results_unread));
}

Result<std::unique_ptr<BatchCommand>> parse_delete_command(const CommandView& c, BatchParseContext&) {
  auto id = required_string(c, "Id");
  if (!id.ok()) return id.status();
  if (id->empty()) return Status::InvalidArgument(c.where + ": DELETE needs a non-empty \"Id\"");
  auto expected = optional_change_vector(c);
  if (!expected.ok()) return expected.status();
  return std::unique_ptr<BatchCommand>(new DeleteCommand(std::move(id).value(), std::move(expected).value()));
}

}  // namespace corvus::server::handlers
