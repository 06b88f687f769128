#pragma once
// The bodies of /streams/queries and /streams/docs: BodySources the HTTP
// connection pulls chunk by chunk as the client reads (a chunked response),
// each rendering one result at a time, so memory stays at one chunk plus one
// document however large the result.
//
// Each owns what it reads from (the database through shared_ptr, so a
// database deleted meanwhile stays open until the stream ends; the query
// runner or the storage snapshot and cursor). Used by one thread at a time:
// built by the handler (which calls prepare(): a failure on the first result
// is still a JSON error), then read on the connection's strand. A read error
// after that makes read() fail, and the connection cuts the response (the
// client sees a broken stream, not a short complete one).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "query/query_runner.h"
#include "server/handlers/id_patterns.h"
#include "server/handlers/query_request.h"
#include "server/http/response.h"
#include "storage/document_snapshot.h"
#include "storage/status.h"

namespace corvus::server {
class DocumentDatabase;
}

namespace corvus::server::handlers {

enum class StreamFormat {
  Json,   // {"Results":[...], <statistics>}
  Jsonl,  // one JSON value per line
};

// Base: a source that renders its body piece by piece into `pending_`.
class RenderedStream : public http::BodySource {
 public:
  // Renders the first piece (the first result) before the response is
  // handed to the connection, so a failure there is still answered with a
  // JSON error instead of a cut connection.
  Status prepare();
  int64_t read(char* out, size_t n) final;

 protected:
  // Appends the next piece to pending_; false once everything was rendered.
  // An error ends the stream as a failed read.
  virtual Result<bool> render_next() = 0;
  std::string pending_;

 private:
  size_t pending_pos_ = 0;
  bool ended_ = false;
};

// Query results: json `{"Results":[..],"IndexName":..,"IsStale":..,
// "TotalResults":..,"ResultEtag":..,"IndexTimestamp":..}` (statistics last:
// they are complete only after the last result), or jsonl `{"Item":{..}}`
// lines then one `{"Stats":{..}}` line. The runner must have executed.
class QueryResultsStream final : public RenderedStream {
 public:
  QueryResultsStream(std::shared_ptr<DocumentDatabase> db, std::shared_ptr<const QueryRequest> request,
                     std::shared_ptr<query::QueryRunner> runner, StreamFormat format);

 private:
  Result<bool> render_next() override;
  std::string statistics_json() const;

  std::shared_ptr<DocumentDatabase> db_;
  std::shared_ptr<const QueryRequest> request_;  // the runner refers to its parsed query
  std::shared_ptr<query::QueryRunner> runner_;
  StreamFormat format_;
  bool started_ = false;
  bool first_ = true;
  bool done_ = false;
};

// What /streams/docs returns: documents whose id starts with `prefix` (in id
// order, filtered by `matches`/`exclude`, after `start_after`) or, with no
// prefix, every document newest first; `start` of them skipped, at most `take`.
struct DocumentsSelection {
  std::string prefix;
  IdPatterns matches;
  IdPatterns exclude;
  std::string start_after;
  uint64_t start = 0;
  uint64_t take = UINT64_MAX;
};

// Documents: json `{"Results":[...]}` or jsonl (one document per line, as
// RavenDB writes it and the clients read it).
class DocumentsStream final : public RenderedStream {
 public:
  DocumentsStream(std::shared_ptr<DocumentDatabase> db, DocumentsSelection selection, StreamFormat format);

 private:
  Result<bool> render_next() override;
  bool selected(const storage::Document& doc) const;

  std::shared_ptr<DocumentDatabase> db_;
  DocumentsSelection selection_;
  StreamFormat format_;
  std::unique_ptr<storage::DocumentSnapshot> snapshot_;
  std::unique_ptr<storage::DocumentSnapshot::Cursor> cursor_;
  uint64_t skipped_ = 0;
  uint64_t emitted_ = 0;
  bool started_ = false;
  bool done_ = false;
};

}  // namespace corvus::server::handlers
