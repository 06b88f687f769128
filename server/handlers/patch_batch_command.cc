#include "server/handlers/patch_batch_command.h"

#include "server/handlers/document_patch.h"
#include "server/handlers/handler_support.h"
#include "storage/clock.h"

#include <boost/json/serialize.hpp>

namespace corvus::server::handlers {
namespace {

// {"Type":"PATCH","Id",ChangeVector,LastModified,PatchStatus,Debug[,ModifiedDocument]}
void append_patch_entry(std::string& out, const PreparedPatch& p, const std::optional<storage::Document>& doc,
                        bool return_document) {
  out += "{\"Type\":\"PATCH\",\"Id\":" + json_string(p.id);
  if (doc) {
    out += ",\"ChangeVector\":" + json_string(doc->change_vector);
    out += ",\"LastModified\":\"" + storage::format_iso8601(doc->last_modified_us) + "\"";
  } else {
    out += ",\"ChangeVector\":null,\"LastModified\":null";
  }
  out += ",\"PatchStatus\":\"";
  out += patch_status_name(p.status);
  out += "\",\"Debug\":null";
  if (return_document && (p.status == PatchStatus::Patched || p.status == PatchStatus::Created)) {
    out += ",\"ModifiedDocument\":";
    append_document(out, doc);
  }
  out += "}";
}

// prepare_patch on what the batch's earlier commands leave (if they write
// `id`), else on the database; then notes the patch's own result.
Result<PreparedPatch> prepare_in_batch(const storage::DocumentsStorage& storage, BatchPrepareContext& context,
                                       const std::string& id, const PatchRequest& request,
                                       const std::optional<std::string>& expected) {
  const std::string key = storage::lower_id(id);
  std::optional<KnownVersion> known;
  if (auto it = context.pending.find(key); it != context.pending.end()) {
    known = KnownVersion{std::nullopt, true};
    if (it->second) {
      // As the script would see it stored: with its @metadata.@id.
      boost::json::object body = *it->second;
      auto& meta = body["@metadata"];
      if (!meta.is_object()) meta = boost::json::object();
      meta.as_object()["@id"] = id;
      storage::Document doc;
      doc.id = id;
      doc.json = boost::json::serialize(body);
      known->document = std::move(doc);
    }
  }
  auto p = prepare_patch(storage, id, request, expected, false, known ? &*known : nullptr);
  if (p.ok() && context.track && p->document) context.pending[key] = *p->document;
  return p;
}

class PatchCommand final : public BatchCommand {
 public:
  PatchCommand(std::string id, std::optional<std::string> expected, PatchRequest request, bool return_document)
      : id_(std::move(id)), expected_(std::move(expected)), request_(std::move(request)),
        return_document_(return_document) {}

  Status prepare(const storage::DocumentsStorage& storage, BatchPrepareContext& context) override {
    auto p = prepare_in_batch(storage, context, id_, request_, expected_);
    if (!p.ok()) return p.status();
    prepared_ = std::move(p).value();
    return Status::Ok();
  }

  Status apply(storage::WriteTransaction& txn, std::string& out) override {
    auto applied = apply_prepared_patch(txn, prepared_);
    if (!applied.ok()) return applied.status();
    append_patch_entry(out, prepared_, applied->document, return_document_);
    return Status::Ok();
  }

  bool raced() const override { return prepared_.raced; }
  bool reads_batch_writes() const override { return true; }

 private:
  std::string id_;
  std::optional<std::string> expected_;
  PatchRequest request_;
  bool return_document_;
  PreparedPatch prepared_;
};

// BatchPATCH: one script over several documents ({Ids: [{Id, ChangeVector?}], Patch, PatchIfMissing?}).
class BatchPatchCommand final : public BatchCommand {
 public:
  struct Target {
    std::string id;
    std::optional<std::string> expected;
  };
  BatchPatchCommand(std::vector<Target> targets, PatchRequest request)
      : targets_(std::move(targets)), request_(std::move(request)) {}

  Status prepare(const storage::DocumentsStorage& storage, BatchPrepareContext& context) override {
    prepared_.clear();
    for (const auto& t : targets_) {
      auto p = prepare_in_batch(storage, context, t.id, request_, t.expected);
      if (!p.ok()) return p.status();
      prepared_.push_back(std::move(p).value());
    }
    return Status::Ok();
  }

  Status apply(storage::WriteTransaction& txn, std::string& out) override {
    out += "{\"Type\":\"BatchPATCH\",\"Results\":[";
    bool first = true;
    for (auto& p : prepared_) {
      auto applied = apply_prepared_patch(txn, p);
      if (!applied.ok()) return applied.status();
      if (!first) out += ',';
      first = false;
      append_patch_entry(out, p, applied->document, false);
    }
    out += "]}";
    return Status::Ok();
  }

  bool reads_batch_writes() const override { return true; }
  bool raced() const override {
    for (const auto& p : prepared_) {
      if (p.raced) return true;
    }
    return false;
  }

 private:
  std::vector<Target> targets_;
  PatchRequest request_;
  std::vector<PreparedPatch> prepared_;
};

// The ChangeVector a patch expects, as given: it is only compared with the
// document's, so one that cannot be anybody's (RavenDB's tests send
// "invalidCV") is a concurrency failure when the patch runs, not bad input.
Result<std::optional<std::string>> expected_change_vector(const CommandView& c) {
  const auto* cv = c.o->if_contains("ChangeVector");
  if (!cv || cv->is_null()) return std::optional<std::string>();
  if (!cv->is_string()) return Status::InvalidArgument(c.where + ": \"ChangeVector\" must be a string or null");
  return std::optional<std::string>(std::string(cv->as_string()));
}

}  // namespace

Result<std::unique_ptr<BatchCommand>> parse_batch_patch_command(const CommandView& c, BatchParseContext&) {
  const auto* ids = c.o->if_contains("Ids");
  if (!ids || !ids->is_array()) return Status::InvalidArgument(c.where + ": BatchPATCH needs an \"Ids\" array");
  std::vector<BatchPatchCommand::Target> targets;
  for (const auto& entry : ids->as_array()) {
    if (!entry.is_object()) return Status::InvalidArgument(c.where + ": each of \"Ids\" must be {Id, ChangeVector?}");
    CommandView view{c.where, &entry.as_object(), c.type};
    auto id = required_string(view, "Id");
    if (!id.ok()) return id.status();
    if (id->empty()) return Status::InvalidArgument(c.where + ": BatchPATCH needs non-empty ids");
    auto expected = expected_change_vector(view);
    if (!expected.ok()) return expected.status();
    targets.push_back({std::move(id).value(), std::move(expected).value()});
  }
  auto request = parse_patch_request(*c.o, c.where);
  if (!request.ok()) return request.status();
  return std::unique_ptr<BatchCommand>(new BatchPatchCommand(std::move(targets), std::move(request).value()));
}

Result<std::unique_ptr<BatchCommand>> parse_patch_command(const CommandView& c, BatchParseContext&) {
  auto id = required_string(c, "Id");
  if (!id.ok()) return id.status();
  if (id->empty()) return Status::InvalidArgument(c.where + ": PATCH needs a non-empty \"Id\"");
  auto expected = expected_change_vector(c);
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
