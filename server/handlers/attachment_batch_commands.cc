#include "server/handlers/attachment_batch_commands.h"

#include "server/handlers/handler_support.h"

namespace corvus::server::handlers {
namespace {

// "Name":..,"ContentType":..,"Hash":..,"Size":..,"ChangeVector":.. (no braces).
std::string attachment_fields(const storage::AttachmentInfo& a) {
  return "\"Name\":" + json_string(a.name) + ",\"ContentType\":" + json_string(a.content_type) +
         ",\"Hash\":" + json_string(a.hash) + ",\"Size\":" + std::to_string(a.size) +
         ",\"ChangeVector\":" + json_string(a.change_vector);
}

Result<std::string> required_name(const CommandView& c, const char* field) {
  auto v = required_string(c, field);
  if (!v.ok()) return v.status();
  if (Status s = storage::validate_attachment_name(*v); !s.ok()) return Status::InvalidArgument(c.where + ": " + s.message());
  return v;
}

Result<std::string> required_id(const CommandView& c, const char* field) {
  auto v = required_string(c, field);
  if (!v.ok()) return v.status();
  if (v->empty()) return Status::InvalidArgument(c.where + ": \"" + field + "\" must not be empty");
  return v;
}

class AttachmentPutCommand final : public BatchCommand {
 public:
  AttachmentPutCommand(std::string id, std::string name, std::string content_type,
                       std::optional<std::string> expected, storage::BlobStore::Upload::Stored stream)
      : id_(std::move(id)), name_(std::move(name)), content_type_(std::move(content_type)),
        expected_(std::move(expected)), stream_(std::move(stream)) {}
  Status apply(storage::WriteTransaction& txn, std::string& out) override {
    auto r = storage::put_attachment(txn, id_, name_, content_type_, stream_.hash, stream_.size, expected_);
    if (!r.ok()) return r.status();
    out += "{\"Type\":\"AttachmentPUT\",\"Id\":" + json_string(r->attachment.document_id) + "," +
           attachment_fields(r->attachment) + ",\"DocumentChangeVector\":" + json_string(r->document_change_vector) +
           "}";
    return Status::Ok();
  }

 private:
  std::string id_, name_, content_type_;
  std::optional<std::string> expected_;
  storage::BlobStore::Upload::Stored stream_;  // its pin lives as long as the batch
};

class AttachmentDeleteCommand final : public BatchCommand {
 public:
  AttachmentDeleteCommand(std::string id, std::string name, std::optional<std::string> expected)
      : id_(std::move(id)), name_(std::move(name)), expected_(std::move(expected)) {}
  Status apply(storage::WriteTransaction& txn, std::string& out) override {
    auto r = storage::delete_attachment(txn, id_, name_, expected_);
    if (!r.ok()) return r.status();
    out += "{\"Type\":\"AttachmentDELETE\",\"@id\":" + json_string(id_) + ",\"Name\":" + json_string(name_);
    if (r.value()) out += ",\"DocumentChangeVector\":" + json_string(*r.value());
    out += "}";
    return Status::Ok();
  }

 private:
  std::string id_, name_;
  std::optional<std::string> expected_;
};

// COPY, and MOVE (= COPY then delete the source).
class AttachmentCopyCommand final : public BatchCommand {
 public:
  AttachmentCopyCommand(bool move, std::string id, std::string name, std::string destination_id,
                        std::string destination_name, std::optional<std::string> expected)
      : move_(move), id_(std::move(id)), name_(std::move(name)), destination_id_(std::move(destination_id)),
        destination_name_(std::move(destination_name)), expected_(std::move(expected)) {}
  Status apply(storage::WriteTransaction& txn, std::string& out) override {
    if (move_ && storage::lower_id(id_) == storage::lower_id(destination_id_) &&
        storage::lower_id(name_) == storage::lower_id(destination_name_)) {
      return Status::InvalidArgument("Cannot move attachment '" + name_ + "' of '" + id_ + "' onto itself");
    }
    // The expected change vector is the source attachment's (checked by the copy).
    auto r = storage::copy_attachment(txn, id_, name_, destination_id_, destination_name_, expected_);
    if (!r.ok()) return r.status();
    const storage::AttachmentInfo& copied = r->attachment;
    const std::string attachment_fields = ",\"ChangeVector\":" + json_string(copied.change_vector) +
                                          ",\"Hash\":" + json_string(copied.hash) +
                                          ",\"Size\":" + std::to_string(copied.size) +
                                          ",\"ContentType\":" + json_string(copied.content_type);
    if (!move_) {
      // RavenDB's reply names the copy (the client files it under Id/Name).
      out += "{\"Type\":\"AttachmentCOPY\",\"Id\":" + json_string(copied.document_id) +
             ",\"Name\":" + json_string(copied.name) + attachment_fields +
             ",\"DocumentChangeVector\":" + json_string(r->document_change_vector) + "}";
      return Status::Ok();
    }
    auto d = storage::delete_attachment(txn, id_, name_, std::nullopt);
    if (!d.ok()) return d.status();
    // The source document's version after the delete; a move within one
    // document (a rename) leaves that one version for both.
    const std::string source_cv = d.value().value_or(r->document_change_vector);
    const bool same_document = storage::lower_id(id_) == storage::lower_id(destination_id_);
    out += "{\"Type\":\"AttachmentMOVE\",\"Id\":" + json_string(id_) + ",\"Name\":" + json_string(name_) +
           ",\"DestinationId\":" + json_string(copied.document_id) +
           ",\"DestinationName\":" + json_string(copied.name) + attachment_fields +
           ",\"DocumentChangeVector\":" + json_string(source_cv) + ",\"DestinationDocumentChangeVector\":" +
           json_string(same_document ? source_cv : r->document_change_vector) + "}";
    return Status::Ok();
  }

 private:
  bool move_;
  std::string id_, name_, destination_id_, destination_name_;
  std::optional<std::string> expected_;
};

Result<std::unique_ptr<BatchCommand>> parse_copy_or_move(const CommandView& c, bool move) {
  auto id = required_id(c, "Id");
  if (!id.ok()) return id.status();
  auto name = required_name(c, "Name");
  if (!name.ok()) return name.status();
  auto destination_id = required_id(c, "DestinationId");
  if (!destination_id.ok()) return destination_id.status();
  auto destination_name = required_name(c, "DestinationName");
  if (!destination_name.ok()) return destination_name.status();
  auto expected = optional_change_vector(c);
  if (!expected.ok()) return expected.status();
  return std::unique_ptr<BatchCommand>(new AttachmentCopyCommand(
      move, std::move(id).value(), std::move(name).value(), std::move(destination_id).value(),
      std::move(destination_name).value(), std::move(expected).value()));
}

}  // namespace

std::string attachment_details_json(const storage::AttachmentInfo& a) {
  return "{" + attachment_fields(a) + ",\"DocumentId\":" + json_string(a.document_id) + "}";
}

Result<std::unique_ptr<BatchCommand>> parse_attachment_put_command(const CommandView& c, BatchParseContext& context) {
  auto id = required_id(c, "Id");
  if (!id.ok()) return id.status();
  auto name = required_name(c, "Name");
  if (!name.ok()) return name.status();
  std::string content_type;
  if (const auto* ct = c.o->if_contains("ContentType"); ct && !ct->is_null()) {
    if (!ct->is_string()) return Status::InvalidArgument(c.where + ": \"ContentType\" must be a string or null");
    content_type = std::string(ct->as_string());
  }
  auto expected = optional_change_vector(c);
  if (!expected.ok()) return expected.status();
  if (context.next_attachment_stream >= context.attachment_streams.size()) {
    return Status::InvalidArgument(c.where + ": AttachmentPUT needs its bytes as a part of a multipart/form-data "
                                             "batch (one part per AttachmentPUT, in command order)");
  }
  auto& stream = context.attachment_streams[context.next_attachment_stream++];
  return std::unique_ptr<BatchCommand>(new AttachmentPutCommand(std::move(id).value(), std::move(name).value(),
                                                                std::move(content_type), std::move(expected).value(),
                                                                std::move(stream)));
}

Result<std::unique_ptr<BatchCommand>> parse_attachment_delete_command(const CommandView& c, BatchParseContext&) {
  auto id = required_id(c, "Id");
  if (!id.ok()) return id.status();
  auto name = required_name(c, "Name");
  if (!name.ok()) return name.status();
  auto expected = optional_change_vector(c);
  if (!expected.ok()) return expected.status();
  return std::unique_ptr<BatchCommand>(
      new AttachmentDeleteCommand(std::move(id).value(), std::move(name).value(), std::move(expected).value()));
}

Result<std::unique_ptr<BatchCommand>> parse_attachment_copy_command(const CommandView& c, BatchParseContext&) {
  return parse_copy_or_move(c, false);
}

Result<std::unique_ptr<BatchCommand>> parse_attachment_move_command(const CommandView& c, BatchParseContext&) {
  return parse_copy_or_move(c, true);
}

}  // namespace corvus::server::handlers
