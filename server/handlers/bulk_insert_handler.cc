// POST /databases/{db}/bulk_insert?id=<operation id>: many documents, counters
// and attachments in one streamed request (REST.md §3.5), the way
// store.bulkInsert() sends them: a JSON array of commands (PUT, Counters,
// AttachmentPUT followed by its raw bytes, HeartBeat) that is read as it
// arrives (JsonArrayReader), never whole. The array's closing ']' ends the
// operation: the 7.x npm client never ends the request body, it waits for
// the answer after the ']'. Commands go to the transaction
// merger in flushes of kFlushCommands commands or kFlushBytes bytes, at most
// kFlushesInFlight at a time: the merger applies flush N+1 while its syncer
// writes and syncs flush N, and the stream is read and parsed meanwhile. A
// flush applies only if the one before it applied, so what is written is
// always a prefix of the stream. The answer (empty, as the clients expect)
// comes once the last flush is durable. A stream that is cut off, or a
// command that is wrong, ends the operation there: what was flushed stays,
// the commands after the last flush are not written (never half a flush).
// The operation is followed through GET /operations/state and stopped by
// POST /operations/kill (database_operations_handler.cc). With
// skipOverwriteIfUnchanged=true a document stored with the same content is
// not written again (PutUnlessUnchanged).
//
// Runs on the connection's strand. Waiting for the oldest flush in flight
// holds the strand (one fsync at most, while later flushes are applied): the
// body can only be read on the strand, and there is nothing else for this
// connection to do meanwhile.

#include <atomic>
#include <deque>
#include <future>

#include <boost/beast/http/verb.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include "server/handlers/batch_commands.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/json_array_reader.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/document.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;

constexpr size_t kFlushCommands = 1024;
constexpr size_t kFlushBytes = 4u << 20;
// Enough to keep every stage of the merger busy: one being synced, one built
// and waiting for the syncer, one being applied by the writer, one queued.
constexpr size_t kFlushesInFlight = 4;
constexpr size_t kMaxCommandBytes = 64u << 20;
constexpr const char* kAbortedType = "Raven.Client.Exceptions.Documents.BulkInsert.BulkInsertAbortedException";

using Commands = std::vector<std::unique_ptr<BatchCommand>>;

// One flush: its commands, and the arena their JSON was parsed into. Every
// value parsed from the stream lives in the arena of the flush it belongs to
// (json copies keep their source's storage), so a document is never copied
// or freed piece by piece: the arena goes, after the commands, when the
// flush is durable. Nothing parsed may outlive its flush (an AttachmentPUT
// waiting for its bytes is copied out, see begin_attachment).
struct Flush {
  std::unique_ptr<json::monotonic_resource> arena = std::make_unique<json::monotonic_resource>();
  Commands commands;
};

// skipOverwriteIfUnchanged=true: a PUT whose document is already stored with
// the same content (the body without @metadata, in the same collection) is
// not written again, so it gets no new etag or change vector.
class PutUnlessUnchanged final : public BatchCommand {
 public:
  PutUnlessUnchanged(std::string id, json::object document, std::unique_ptr<BatchCommand> put)
      : id_(std::move(id)), document_(std::move(document)), put_(std::move(put)) {
    if (auto* m = document_.if_contains("@metadata"); m && m->is_object())
      if (auto* c = m->as_object().if_contains("@collection"); c && c->is_string()) collection_ = c->as_string();
    document_.erase("@metadata");
  }
  Status apply(storage::WriteTransaction& txn, std::string& out) override {
    auto existing = txn.get(id_);
    if (!existing.ok()) return existing.status();
    if (existing.value() && storage::lower_id(existing.value()->collection) == storage::lower_id(collection_)) {
      boost::system::error_code ec;
      json::value stored = json::parse(existing.value()->json, ec);
      if (ec || !stored.is_object()) return Status::Corruption("stored document '" + id_ + "' is not a JSON object");
      stored.as_object().erase("@metadata");
      if (stored.as_object() == document_) return Status::Ok();
    }
    return put_->apply(txn, out);
  }

 private:
  std::string id_;
  json::object document_;  // without @metadata
  std::string collection_;
  std::unique_ptr<BatchCommand> put_;
};

class BulkInsert final : public JsonArraySink, public std::enable_shared_from_this<BulkInsert> {
 public:
  BulkInsert(std::shared_ptr<DocumentDatabase> db, uint64_t id, std::shared_ptr<DatabaseOperations::Operation> op,
             http::BodyReader* reader, http::Respond respond, std::string url, bool skip_unchanged)
      : db_(std::move(db)), id_(id), op_(std::move(op)), reader_(reader), respond_(std::move(respond)),
        url_(std::move(url)), skip_unchanged_(skip_unchanged) {}

  void read_next() {
    reader_->read([self = shared_from_this()](bool ok, std::string_view chunk, bool done) {
      if (!ok) {
        return self->fail(Status::InvalidArgument("the bulk insert stream was cut off at byte " +
                                                  std::to_string(self->array_.offset() + chunk.size())));
      }
      if (self->op_->killed()) return self->fail(Status::Ok());
      if (Status s = self->array_.feed(chunk, *self); !s.ok()) return self->fail(std::move(s));
      // The clients wait for the answer once the array is closed, some
      // without ending the body: the ']' is the end.
      if (done || self->array_.closed()) return self->finish();
      if (self->pending_.commands.size() >= kFlushCommands || self->pending_bytes_ >= kFlushBytes) {
        if (Status s = self->flush(/*more_follows=*/true); !s.ok()) return self->fail(std::move(s));
      }
      self->read_next();
    });
  }

  Result<uint64_t> element(std::string_view text) override {
    ++index_;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec, json::storage_ptr(pending_.arena.get()));
    if (ec) return Status::InvalidArgument("bulk insert command #" + std::to_string(index_) + " is not JSON: " + ec.message());
    auto view = command_at(v, index_ - 1);
    if (!view.ok()) return view.status();
    // Parsed for this command alone: the PUT may take its document. Not with
    // skipOverwriteIfUnchanged, whose check reads the document after the parser.
    if (!skip_unchanged_) view->take = &v.as_object();
    view->results_unread = true;
    if (view->type == "HeartBeat") return uint64_t{0};
    if (view->type == "AttachmentPUT") return begin_attachment(std::move(v));
    if (view->type != "PUT" && view->type != "Counters") {
      return Status::InvalidArgument(view->where + ": command type '" + view->type +
                                     "' is not supported in a bulk insert by this server (supported: PUT, "
                                     "Counters, AttachmentPUT, HeartBeat)");
    }
    if (Status s = add(view.value(), text.size()); !s.ok()) return s;
    return uint64_t{0};
  }

  Status raw(std::string_view bytes, bool last) override {
    if (Status s = upload_->append(bytes); !s.ok()) return s;
    return last ? end_attachment() : Status::Ok();
  }

 private:
  // Parses a command into the pending flush.
  Status add(const CommandView& view, size_t bytes) {
    auto parser = batch_command_parser(view.type);
    auto cmd = parser(view, context_);
    if (!cmd.ok()) return cmd.status();
    if (std::string* id = cmd.value()->identity_id(); id && !id->empty() && id->back() == '|') {
      return Status::InvalidArgument(view.where + ": identity ids ('" + *id +
                                     "') are not supported in a bulk insert; give the document its id");
    }
    if (skip_unchanged_ && view.type == "PUT") {
      const auto* id = view.o->if_contains("Id");
      const auto* document = view.o->if_contains("Document");
      if (id && id->is_string() && document && document->is_object()) {
        pending_.commands.push_back(std::make_unique<PutUnlessUnchanged>(
            std::string(id->as_string()), document->as_object(), std::move(cmd).value()));
        pending_bytes_ += bytes;
        return Status::Ok();
      }
    }
    pending_.commands.push_back(std::move(cmd).value());
    pending_bytes_ += bytes;
    return Status::Ok();
  }

  // AttachmentPUT: its bytes follow; they go to the blob store as they come.
  Result<uint64_t> begin_attachment(json::value command) {
    const auto* length = command.as_object().if_contains("ContentLength");
    if (!length || !(length->is_int64() || length->is_uint64()) || (length->is_int64() && length->as_int64() < 0)) {
      return Status::InvalidArgument("bulk insert command #" + std::to_string(index_) +
                                     ": AttachmentPUT needs \"ContentLength\", the number of bytes that follow it");
    }
    auto upload = db_->storage().blob_store()->begin_upload();
    if (!upload.ok()) return upload.status();
    upload_ = std::move(upload).value();
    // Out of the flush's arena: a flush may be submitted while the bytes come.
    attachment_ = json::value(command, json::storage_ptr());
    const uint64_t n = length->is_uint64() ? length->as_uint64() : static_cast<uint64_t>(length->as_int64());
    if (n == 0) {
      if (Status s = end_attachment(); !s.ok()) return s;
    }
    return n;
  }

  Status end_attachment() {
    auto stored = upload_->finish();
    upload_.reset();
    if (!stored.ok()) return stored.status();
    context_.attachment_streams.push_back(std::move(stored).value());
    auto view = command_at(attachment_, index_ - 1);
    if (!view.ok()) return view.status();
    return add(view.value(), 0);
  }

  // Makes room (waits for the oldest flush when kFlushesInFlight are in
  // flight: durable when it returns OK), then submits what is pending.
  // `more_follows` unless it is the last flush: the merger then syncs it on
  // its syncer thread while its writer applies the next one.
  Status flush(bool more_follows) {
    while (in_flight_.size() >= kFlushesInFlight) {
      if (Status s = wait_oldest(); !s.ok()) return s;
    }
    if (pending_.commands.empty()) return Status::Ok();
    auto batch = std::make_shared<Flush>(std::move(pending_));
    pending_ = Flush{};
    const size_t size_hint = pending_bytes_;
    pending_bytes_ = 0;
    context_ = BatchParseContext{};  // the commands took their streams (and pins)
    auto done = std::make_shared<std::promise<Status>>();
    in_flight_.push_back(InFlight{done->get_future(), batch->commands.size()});
    // Transactions run in submission order on the writer: a flush whose
    // predecessor failed to apply does not apply either (no gaps).
    auto failed = failed_;
    db_->storage().submit(
        [batch, failed](storage::WriteTransaction& txn) -> Status {
          if (failed->load()) return Status::Internal("an earlier flush of this bulk insert failed");
          std::string result;  // the per-command results bulk_docs answers with; nobody reads them here
          for (auto& cmd : batch->commands) {
            result.clear();
            if (Status s = cmd->apply(txn, result); !s.ok()) {
              failed->store(true);
              return s;
            }
          }
          return Status::Ok();
        },
        [done, batch](Status s) { done->set_value(std::move(s)); }, size_hint, more_follows);
    return Status::Ok();
  }

  Status wait_oldest() {
    InFlight oldest = std::move(in_flight_.front());
    in_flight_.pop_front();
    Status s = oldest.done.get();
    if (s.ok()) {
      written_ += oldest.commands;
      op_->set_progress(json::object{{"Processed", written_}});
    }
    return s;
  }

  // Waits for every flush in flight; the first failure, if any.
  Status wait_all() {
    Status first;
    while (!in_flight_.empty()) {
      if (Status s = wait_oldest(); !s.ok() && first.ok()) first = std::move(s);
    }
    return first;
  }

  void finish() {
    if (Status s = array_.finish(); !s.ok()) return fail(std::move(s));
    if (Status s = flush(/*more_follows=*/false); !s.ok()) return fail(std::move(s));
    if (Status s = wait_all(); !s.ok()) return fail(std::move(s));
    db_->operations().complete(id_, json::object{{"Total", written_}});
    respond_(http::Response::empty(200));
  }

  // Ends the operation with `why` (OK: it was killed). What was flushed stays.
  void fail(Status why) {
    upload_.reset();
    pending_ = Flush{};
    (void)wait_all();  // durable or failed either way; the submitted commands must not outlive us
    if (why.ok()) {
      const std::string message = "the bulk insert was killed after " + std::to_string(written_) + " commands";
      db_->operations().fault(id_, message);
      return respond_(http::error_response(400, kAbortedType, message, url_));
    }
    db_->operations().fault(id_, why.message());
    respond_(http::error_response(why, url_));
  }

  std::shared_ptr<DocumentDatabase> db_;
  const uint64_t id_;
  std::shared_ptr<DatabaseOperations::Operation> op_;
  http::BodyReader* reader_;
  http::Respond respond_;
  const std::string url_;
  const bool skip_unchanged_;  // skipOverwriteIfUnchanged=true
  JsonArrayReader array_{kMaxCommandBytes};
  size_t index_ = 0;  // commands seen
  Flush pending_;
  size_t pending_bytes_ = 0;
  BatchParseContext context_;
  std::unique_ptr<storage::BlobStore::Upload> upload_;  // an AttachmentPUT's bytes being stored
  json::value attachment_;                              // that AttachmentPUT
  struct InFlight {
    std::future<Status> done;
    size_t commands = 0;
  };
  std::deque<InFlight> in_flight_;  // oldest first
  std::shared_ptr<std::atomic<bool>> failed_ = std::make_shared<std::atomic<bool>>(false);
  uint64_t written_ = 0;  // commands durable
};

void handle_bulk_insert(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto id = query_uint(req, "id", 0);
  if (!id.ok()) return respond_error(respond, id.status(), req);
  if (id.value() == 0) {
    return respond_error(respond,
                         Status::InvalidArgument("Query string parameter 'id' (the operation id from "
                                                 "/operations/next-operation-id) is required"),
                         req);
  }
  const auto skip = req.query.get("skipOverwriteIfUnchanged");
  if (skip && *skip != "true" && *skip != "false") {
    return respond_error(respond,
                         Status::InvalidArgument("Query string parameter 'skipOverwriteIfUnchanged' must be true or "
                                                 "false, not '" + *skip + "'"),
                         req);
  }
  auto op = db->operations().start(id.value());
  if (!op) {
    return respond_error(respond, Status::InvalidArgument("operation " + std::to_string(id.value()) + " already exists"),
                         req);
  }
  if (!req.body_reader) return respond_error(respond, Status::Internal("bulk insert without a streamed body"), req);
  std::make_shared<BulkInsert>(std::move(db), id.value(), std::move(op), req.body_reader, respond, req.target,
                               skip == std::optional<std::string>("true"))
      ->read_next();
}

}  // namespace

void register_bulk_insert_routes(http::Router& router, ServerStore& store) {
  http::RouteOptions options;
  options.streaming_body = true;
  router.add(verb::post, "/databases/{db}/bulk_insert", http::RouteAccess::DatabaseReadWrite, "bulk_insert",
             [&store](const http::Request& req, http::Respond respond) { handle_bulk_insert(store, req, respond); },
             options);
}

}  // namespace corvus::server::handlers
