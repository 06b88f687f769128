#include "server/handlers/multipart_batch.h"

#include <boost/json/parser.hpp>

#include "server/handlers/multipart.h"

namespace corvus::server::handlers {
namespace {

struct MultipartBatch final : MultipartParser::Events {
  MultipartBatch(std::shared_ptr<DocumentDatabase> d, std::string boundary, http::BodyReader* r, MultipartBatchDone f)
      : db(std::move(d)), parser(boundary), reader(r), done(std::move(f)) {}

  std::shared_ptr<DocumentDatabase> db;
  MultipartParser parser;
  http::BodyReader* reader;
  MultipartBatchDone done;
  BatchParseContext context;
  std::string main;
  bool in_main = false;
  std::unique_ptr<storage::BlobStore::Upload> upload;  // the attachment part being read
  uint64_t bytes = 0;

  Status begin_part(const std::string& name, const std::string&) override {
    if (parser.parts() == 0) {
      if (name != "main") {
        return Status::InvalidArgument("multipart batch: the first part must be \"main\" (the JSON commands), got \"" +
                                       name + "\"");
      }
      in_main = true;
      return Status::Ok();
    }
    in_main = false;
    auto up = db->storage().blob_store()->begin_upload();
    if (!up.ok()) return up.status();
    upload = std::move(up).value();
    return Status::Ok();
  }
  Status part_data(std::string_view data) override {
    if (in_main) {
      if (main.size() + data.size() > kMaxBatchJsonBytes) {
        return Status::InvalidArgument("multipart batch: the \"main\" part is larger than " +
                                       std::to_string(kMaxBatchJsonBytes) + " bytes");
      }
      main.append(data);
      return Status::Ok();
    }
    return upload->append(data);
  }
  Status end_part() override {
    if (in_main) {
      in_main = false;
      return Status::Ok();
    }
    auto stored = upload->finish();
    upload.reset();
    if (!stored.ok()) return stored.status();
    context.attachment_streams.push_back(std::move(stored).value());
    return Status::Ok();
  }

  void fail(Status s) {
    upload.reset();  // deletes a part's temp file
    done(std::move(s), std::move(context), bytes);
  }

  void finish() {
    if (Status s = parser.finish(); !s.ok()) return fail(std::move(s));
    if (parser.parts() == 0) return fail(Status::InvalidArgument("multipart batch: no \"main\" part"));
    boost::system::error_code ec;
    boost::json::parser json;
    size_t consumed = json.write(main.data(), main.size(), ec);
    if (ec) {
      return fail(Status::InvalidArgument("multipart batch: malformed JSON in \"main\": " + ec.message() +
                                          " (near offset " + std::to_string(consumed) + ")"));
    }
    done(json.release(), std::move(context), bytes);
  }
};

void read_next(std::shared_ptr<MultipartBatch> b) {
  b->reader->read([b](bool ok, std::string_view chunk, bool end) {
    if (!ok) return b->fail(Status::InvalidArgument("multipart batch body was cut off"));
    b->bytes += chunk.size();
    if (Status s = b->parser.feed(chunk, *b); !s.ok()) return b->fail(std::move(s));
    if (end) return b->finish();
    read_next(b);
  });
}

}  // namespace

void read_multipart_batch(std::shared_ptr<DocumentDatabase> db, const http::Request& req, MultipartBatchDone done) {
  auto boundary = MultipartParser::boundary_of(req.header("Content-Type"));
  if (!boundary.ok()) return done(boundary.status(), BatchParseContext{}, 0);
  if (!req.body_reader) return done(Status::Internal("multipart batch without a streamed body"), BatchParseContext{}, 0);
  read_next(std::make_shared<MultipartBatch>(std::move(db), std::move(boundary).value(), req.body_reader,
                                             std::move(done)));
}

}  // namespace corvus::server::handlers
