// /databases/{db}/attachments?id=&name=: PUT (streamed upload), GET and HEAD
// (streamed download, single byte Range), DELETE. REST.md §5.2.
//
// An upload streams into the BlobStore (hashing as it goes) on the connection's
// strand, chunk by chunk as the client sends; only the transaction that adds
// the reference, submitted once the bytes are durable, makes it visible. A body
// that fails part way leaves nothing: its temp file is deleted and no
// transaction is submitted. Downloads read the blob file as the client takes it.

#include <boost/beast/http/verb.hpp>

#include "server/handlers/attachment_batch_commands.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/attachments_storage.h"
#include "storage/blob_store.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;

struct AttachmentTarget {
  std::string id;
  std::string name;
};

Result<AttachmentTarget> attachment_target(const http::Request& req) {
  auto id = required_query(req, "id");
  if (!id.ok()) return id.status();
  auto name = required_query(req, "name");
  if (!name.ok()) return name.status();
  if (Status s = storage::validate_attachment_name(*name); !s.ok()) return s;
  return AttachmentTarget{std::move(id).value(), std::move(name).value()};
}

// ---- PUT --------------------------------------------------------------------

struct Upload {
  std::shared_ptr<DocumentDatabase> db;
  http::Respond respond;
  http::BodyReader* reader = nullptr;
  std::string url;
  AttachmentTarget target;
  std::string content_type;
  std::optional<std::string> expected_change_vector;
  std::unique_ptr<storage::BlobStore::Upload> file;
};

void commit_upload(std::shared_ptr<Upload> up) {
  auto stored = up->file->finish();
  up->file.reset();
  if (!stored.ok()) return up->respond(http::error_response(stored.status(), up->url));
  auto st = std::make_shared<storage::BlobStore::Upload::Stored>(std::move(stored).value());
  auto result = std::make_shared<storage::AttachmentWriteResult>();
  up->db->storage().submit(
      [up, st, result](storage::WriteTransaction& txn) -> Status {
        auto r = storage::put_attachment(txn, up->target.id, up->target.name, up->content_type, st->hash, st->size,
                                         up->expected_change_vector);
        if (!r.ok()) return r.status();
        *result = std::move(r).value();
        return Status::Ok();
      },
      [up, st, result](Status s) mutable {
        // The pin goes with `st` once this answer is sent: the reference is
        // committed, or (failure) the unreferenced bytes are collected.
        if (!s.ok()) return up->respond(http::error_response(s, up->url));
        up->respond(http::Response::json(201, attachment_details_json(result->attachment)));
      },
      256);
}

void read_next(std::shared_ptr<Upload> up) {
  up->reader->read([up](bool ok, std::string_view chunk, bool done) {
    if (!ok) {
      up->file.reset();  // deletes the temp file
      return up->respond(http::error_response(Status::InvalidArgument("attachment upload was cut off"), up->url));
    }
    if (!chunk.empty()) {
      if (Status s = up->file->append(chunk); !s.ok()) {
        up->file.reset();
        return up->respond(http::error_response(s, up->url));
      }
    }
    if (done) return commit_upload(up);
    read_next(up);
  });
}

void handle_put(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto target = attachment_target(req);
  if (!target.ok()) return respond_error(respond, target.status(), req);
  auto expected = if_match_change_vector(req);
  if (!expected.ok()) return respond_error(respond, expected.status(), req);
  if (!req.body_reader) return respond_error(respond, Status::Internal("attachment PUT route is not streaming"), req);
  // Refuse before reading the body when the document is missing (checked again in the transaction).
  auto doc = db->storage().get(target->id);
  if (!doc.ok()) {
    if (doc.status().is_not_found()) {
      return respond_error(respond, Status::NotFound("Document '" + target->id + "' does not exist"), req);
    }
    return respond_error(respond, doc.status(), req);
  }
  auto file = db->storage().blob_store()->begin_upload();
  if (!file.ok()) return respond_error(respond, file.status(), req);
  auto up = std::make_shared<Upload>();
  up->db = std::move(db);
  up->respond = respond;
  up->reader = req.body_reader;
  up->url = req.target;
  up->target = std::move(target).value();
  up->content_type = std::string(req.query.get("contentType").value_or(""));
  up->expected_change_vector = std::move(expected).value();
  up->file = std::move(file).value();
  read_next(std::move(up));
}

// ---- GET / HEAD ---------------------------------------------------------------

class BlobSource final : public http::BodySource {
 public:
  BlobSource(std::unique_ptr<storage::BlobStore::Reader> reader, uint64_t offset)
      : reader_(std::move(reader)), offset_(offset) {}
  int64_t read(char* out, size_t n) override {
    auto r = reader_->read_at(offset_, out, n);
    if (!r.ok()) return -1;
    offset_ += *r;
    return static_cast<int64_t>(*r);
  }

 private:
  std::unique_ptr<storage::BlobStore::Reader> reader_;
  uint64_t offset_;
};

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};

// "bytes=a-b", "bytes=a-", "bytes=-n" against `size`. nullopt: no usable
// Range (absent, or a form we serve whole: several ranges, other units).
// Unsatisfiable: InvalidArgument.
Result<std::optional<ByteRange>> parse_range(std::string_view header, uint64_t size) {
  if (header.empty()) return std::optional<ByteRange>();
  if (!header.starts_with("bytes=")) return std::optional<ByteRange>();
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return std::optional<ByteRange>();
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::optional<ByteRange>();
  auto number = [](std::string_view s, uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    out = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
  };
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  ByteRange r;
  if (a.empty()) {  // suffix: the last n bytes
    uint64_t n = 0;
    if (!number(b, n)) return std::optional<ByteRange>();
    if (n == 0 || size == 0) return Status::InvalidArgument("unsatisfiable range");
    r.first = n >= size ? 0 : size - n;
    r.last = size - 1;
    return std::optional<ByteRange>(r);
  }
  if (!number(a, r.first)) return std::optional<ByteRange>();
  if (b.empty()) {
    r.last = size == 0 ? 0 : size - 1;
  } else {
    if (!number(b, r.last)) return std::optional<ByteRange>();
    if (r.last < r.first) return std::optional<ByteRange>();  // invalid syntax: ignored (RFC 9110)
    if (r.last >= size) r.last = size - 1;
  }
  if (r.first >= size) return Status::InvalidArgument("unsatisfiable range");
  return std::optional<ByteRange>(r);
}

void handle_get(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  const bool head = req.method == verb::head;
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto target = attachment_target(req);
  if (!target.ok()) return respond_error(respond, target.status(), req);
  auto& blobs = *db->storage().blob_store();
  auto info = storage::read_attachment(db->storage(), target->id, target->name);
  if (!info.ok()) return respond_error(respond, info.status(), req);
  auto not_found = [&] {
    if (head) return respond(http::Response::empty(404));
    respond_error(respond,
                  Status::NotFound("Attachment '" + target->name + "' of document '" + target->id + "' does not exist"),
                  req);
  };
  if (!info.value()) return not_found();
  const storage::AttachmentInfo& a = *info.value();
  const std::string etag = "\"" + a.change_vector + "\"";
  if (auto inm = req.header("If-None-Match"); !inm.empty() && unquote(inm) == a.change_vector) {
    return respond(http::Response::empty(304).with_header("ETag", etag));
  }
  auto reader = blobs.open_blob(a.hash);
  // Deleted (and its last reference collected) between the two reads.
  if (!reader.ok() && reader.status().is_not_found()) return not_found();
  if (!reader.ok()) return respond_error(respond, reader.status(), req);
  const uint64_t size = (*reader)->size();
  auto range = parse_range(req.header("Range"), size);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"ETag", etag}, {"Attachment-Hash", a.hash}, {"Attachment-Size", std::to_string(a.size)},
      {"Accept-Ranges", "bytes"}};
  if (!range.ok()) {
    http::Response r = http::error_response(416, "Raven.Client.Exceptions.BadRequestException",
                                            "Range '" + std::string(req.header("Range")) +
                                                "' is not satisfiable for an attachment of " + std::to_string(size) +
                                                " bytes",
                                            req.target);
    r.with_header("Content-Range", "bytes */" + std::to_string(size));
    return respond(std::move(r));
  }
  uint64_t first = 0, length = size;
  unsigned status = 200;
  if (range.value()) {
    first = range.value()->first;
    length = range.value()->last - first + 1;
    status = 206;
    headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" +
                                              std::to_string(range.value()->last) + "/" + std::to_string(size));
  }
  const std::string content_type = a.content_type.empty() ? "application/octet-stream" : a.content_type;
  http::Response r = http::Response::stream(status, content_type,
                                             std::make_shared<BlobSource>(std::move(reader).value(), first), length);
  r.headers = std::move(headers);
  respond(std::move(r));
}

// ---- DELETE -------------------------------------------------------------------

void handle_delete(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto target = attachment_target(req);
  if (!target.ok()) return respond_error(respond, target.status(), req);
  auto expected = if_match_change_vector(req);
  if (!expected.ok()) return respond_error(respond, expected.status(), req);
  auto t = std::make_shared<AttachmentTarget>(std::move(target).value());
  db->storage().submit(
      [t, expected = std::move(expected).value()](storage::WriteTransaction& txn) -> Status {
        auto r = storage::delete_attachment(txn, t->id, t->name, expected);
        return r.ok() ? Status::Ok() : r.status();
      },
      [respond, url = req.target](Status s) {
        if (!s.ok()) return respond(http::error_response(s, url));
        respond(http::Response::empty(204));
      },
      64);
}

}  // namespace

void register_attachment_routes(http::Router& router, ServerStore& store) {
  http::RouteOptions streaming;
  streaming.streaming_body = true;
  router.add(verb::put, "/databases/{db}/attachments", http::RouteAccess::DatabaseReadWrite, "attachments_put",
             [&store](const http::Request& req, http::Respond respond) { handle_put(store, req, respond); },
             streaming);
  router.add(verb::get, "/databases/{db}/attachments", http::RouteAccess::DatabaseRead, "attachments_get",
             [&store](const http::Request& req, http::Respond respond) { handle_get(store, req, respond); });
  router.add(verb::head, "/databases/{db}/attachments", http::RouteAccess::DatabaseRead, "attachments_head",
             [&store](const http::Request& req, http::Respond respond) { handle_get(store, req, respond); });
  router.add(verb::delete_, "/databases/{db}/attachments", http::RouteAccess::DatabaseReadWrite, "attachments_delete",
             [&store](const http::Request& req, http::Respond respond) { handle_delete(store, req, respond); });
}

}  // namespace corvus::server::handlers
