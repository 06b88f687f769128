#include "server/handlers/patch_batch_command.h"

#include "server/handlers/document_patch.h"
#include "server/handlers/handler_support.h"
#include "storage/clock.h"

namespace corvus::server::handlers {
namespace {

class PatchCommand final : public BatchCommand {
 public:
  PatchCommand(std::string id, std::optional<std::string> expected, PatchRequest request, bool return_document)
      : id_(std::move(id)), expected_(std::move(expected)), request_(std::move(request)),
        return_document_(return_document) {}

  Status prepare(const storage::DocumentsStorage& storage) override {
    auto p = prepare_patch(storage, id_, request_, expected_, false);
    if (!p.ok()) return p.status();
    prepared_ = std::move(p).value();
    return Status::Ok();
  }

  Status apply(storage::WriteTransaction& txn, std::string& out) override {
    auto applied = apply_prepared_patch(txn, prepared_);
    if (!applied.ok()) return applied.status();
    const auto& doc = applied->document;
    out += "{\"Type\":\"PATCH\",\"Id\":" + json_string(id_);
    if (doc) {
      out += ",\"ChangeVector\":" + json_string(doc->change_vector);
      out += ",\"LastModified\":\"" + storage::format_iso8601(doc->last_modified_us) + "\"";
    } else {
      out += ",\"ChangeVector\":null,\"LastModified\":null";
    }
    out += ",\"PatchStatus\":\"";
    out += patch_status_name(prepared_.status);
    out += "\",\"Debug\":null";
    if (return_document_ && (prepared_.status == PatchStatus::Patched || prepared_.status == PatchStatus::Created)) {
      out += ",\"ModifiedDocument\":";
      append_document(out, doc);
    }
    out += "}";
    return Status::Ok();
  }

  bool raced() const override { return prepared_.raced; }

 private:
  std::string id_;
  std::optional<std::string> expected_;
  PatchRequest request_;
  bool return_document_;
  PreparedPatch prepared_;
};

}  // namespace

Result<std::unique_ptr<BatchCommand>> parse_patch_command(const CommandView& c, BatchParseContext&) {
  auto id = required_string(c, "Id");
  if (!id.ok()) return id.status();
  if (id->empty()) return Status::InvalidArgument(c.where + ": PATCH needs a non-empty \"Id\"");
  auto expected = optional_change_vector(c);
  if (!expected.ok()) return expected.status();
  auto request = parse_patch_request(*c.o, c.where);
  if (!request.ok()) return request.status();
  bool return_document = false;
  if (const auto* r = c.o->if_contains("ReturnDocument"); r && !r->is_null()) {
    if (!r->is_bool()) return Status::InvalidArgument(c.where + ": \"ReturnDocument\" must be a boolean");
    return_document = r->as_bool();
  }
  return std::unique_ptr<BatchCommand>(
      new PatchCommand(std::move(id).value(), std::move(expected).value(), std::move(request).value(), return_document));
}

}  // namespace corvus::server::handlers
