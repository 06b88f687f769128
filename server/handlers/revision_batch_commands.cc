#include "server/handlers/revision_batch_commands.h"

#include "server/handlers/handler_support.h"
#include "storage/clock.h"
#include "storage/revisions_storage.h"

namespace corvus::server::handlers {
namespace {

class ForceRevisionCommand final : public BatchCommand {
 public:
  explicit ForceRevisionCommand(std::string id) : id_(std::move(id)) {}
  Status apply(storage::WriteTransaction& txn, std::string& out) override {
    auto r = storage::RevisionsStorage::force_create(txn, id_);
    if (!r.ok()) return r.status();
    out += "{\"Type\":\"ForceRevisionCreation\",\"RevisionCreated\":";
    if (!r->created) {
      out += "false}";
      return Status::Ok();
    }
    // The document's new metadata: the client updates its tracked entity
    // (change vector, @flags HasRevisions) from these keys.
    const storage::PutResult& d = r->document;
    out += "true,\"@id\":" + json_string(d.id);
    if (!d.collection.empty()) out += ",\"@collection\":" + json_string(d.collection);
    out += ",\"@change-vector\":" + json_string(d.change_vector);
    out += ",\"@last-modified\":\"" + storage::format_iso8601(d.last_modified_us) + "\"";
    if (std::string flags = storage::flags_to_string(d.flags); !flags.empty()) out += ",\"@flags\":" + json_string(flags);
    out += "}";
    return Status::Ok();
  }

 private:
  std::string id_;
};

}  // namespace

Result<std::unique_ptr<BatchCommand>> parse_force_revision_command(const CommandView& c, BatchParseContext&) {
  auto id = required_string(c, "Id");
  if (!id.ok()) return id.status();
  if (id->empty()) return Status::InvalidArgument(c.where + ": ForceRevisionCreation needs a non-empty \"Id\"");
  return std::unique_ptr<BatchCommand>(new ForceRevisionCommand(std::move(id).value()));
}

Result<bool> parse_force_revision_before(const CommandView& c) {
  const auto* v = c.o->if_contains("ForceRevisionCreationStrategy");
  if (!v || v->is_null()) return false;
  if (v->is_string() && v->as_string() == "Before") return true;
  if (v->is_string() && v->as_string() == "None") return false;
  return Status::InvalidArgument(c.where + ": \"ForceRevisionCreationStrategy\" must be \"Before\" or \"None\"");
}

Result<std::optional<std::string>> force_revision_before_put(storage::WriteTransaction& txn, std::string_view id,
                                                             const std::optional<std::string>& expected) {
  // There must be a stored version to keep (RavenDB refuses the same way).
  const auto not_saved = [&] {
    return Status::InvalidArgument("Can't force revision creation - the document was not saved on the server yet. "
                                   "document: " + std::string(id) + ".");
  };
  if (id.empty() || id.back() == '/' || id.back() == '|') return not_saved();
  auto current = txn.get(id);
  if (!current.ok()) return current.status();
  if (!current.value()) return not_saved();
  if (expected && *expected != current.value()->change_vector) return expected;
  auto r = storage::RevisionsStorage::force_create(txn, id);
  if (!r.ok()) return r.status();
  return std::optional<std::string>();
}

}  // namespace corvus::server::handlers
