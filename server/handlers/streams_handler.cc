// Streams: GET/POST /databases/{db}/streams/queries and GET
// /databases/{db}/streams/docs (REST.md). The answer is a chunked response
// pulled from a BodySource (stream_sources.h) as the client reads, so a stream
// of millions of documents holds one chunk. Everything that can fail before
// the first byte (bad query, unknown index, bad parameters) gets the usual
// JSON error; a failure after it cuts the connection.
//
// A query that waits (for a new auto-index: up to 60 s, as RavenDB's streams)
// executes on a worker thread (ClusterManager::run_async); its results are
// then pulled on the connection's strand like any other.

#include <boost/beast/http/verb.hpp>

#include "query/query_runner.h"
#include "server/cluster/cluster_manager.h"
#include "server/handlers/compare_exchange_includes.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/query_request.h"
#include "server/handlers/routes.h"
#include "server/handlers/stream_sources.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;

constexpr auto kNewIndexWaitInStreams = std::chrono::seconds(60);

Result<StreamFormat> stream_format(const http::Request& req) {
  const auto format = req.query.get("format");
  if (!format || format->empty() || *format == "json") return StreamFormat::Json;
  if (*format == "jsonl") return StreamFormat::Jsonl;
  return Status::InvalidArgument("Query string parameter 'format' must be 'json' or 'jsonl', got '" + *format + "'");
}

std::string content_type(StreamFormat format) {
  return format == StreamFormat::Json ? "application/json; charset=utf-8" : "application/jsonl; charset=utf-8";
}

// Executes the query (this may wait for its index) and answers with the stream.
void execute_and_stream(std::shared_ptr<DocumentDatabase> db, std::shared_ptr<const QueryRequest> request,
                        std::shared_ptr<query::QueryRunner> runner, StreamFormat format, const http::Request& req,
                        const http::Respond& respond) {
  if (Status s = runner->execute(); !s.ok()) return respond(query_error_response(s, req));
  auto source = std::make_shared<QueryResultsStream>(std::move(db), std::move(request), std::move(runner), format);
  if (Status s = source->prepare(); !s.ok()) return respond(query_error_response(s, req));
  respond(http::Response::stream_until_end(200, content_type(format), std::move(source)));
}

void handle_stream_query(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto format = stream_format(req);
  if (!format.ok()) return respond_error(respond, format.status(), req);
  auto read = read_query_request(req);
  if (!read.ok()) return respond(query_error_response(read.status(), req));
  auto request = std::make_shared<QueryRequest>(std::move(read).value());
  if (Status s = bind_compare_exchange_values(store, db->name(), *request->query, request->options.parameters);
      !s.ok())
    return respond(query_error_response(s, req));
  // start/pageSize in the query string narrow the query's own offset/limit.
  if (req.query.has("start") || req.query.has("pageSize")) {
    auto paging = query_paging(req, UINT64_MAX);
    if (!paging.ok()) return respond(query_error_response(paging.status(), req));
    if (paging->start > 0) request->options.extra_skip = paging->start;
    if (paging->page_size != UINT64_MAX) request->options.extra_take = paging->page_size;
  }
  request->options.new_index_wait = kNewIndexWaitInStreams;
  auto started = query::QueryRunner::start(*request->query, request->options, db->storage(), db->indexes());
  if (!started.ok()) return respond(query_error_response(started.status(), req));
  std::shared_ptr<query::QueryRunner> runner = std::move(started).value();
  if (!runner->waits())
    return execute_and_stream(std::move(db), std::move(request), std::move(runner), *format, req, respond);
  // Waiting holds a thread for up to the timeout: not an I/O thread.
  bool async = store.cluster().run_async([db, request, runner, format = *format, &req, respond] {
    execute_and_stream(db, request, runner, format, req, respond);
  });
  if (!async) respond_error(respond, Status::Busy("too many queries waiting for their index; retry shortly"), req);
}

void handle_stream_docs(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto format = stream_format(req);
  if (!format.ok()) return respond_error(respond, format.status(), req);
  auto paging = query_paging(req, UINT64_MAX);
  if (!paging.ok()) return respond_error(respond, paging.status(), req);
  DocumentsSelection selection;
  selection.start = paging->start;
  selection.take = paging->page_size;
  // As RavenDB: matches, exclude and startAfter apply only with a prefix.
  if (auto prefix = req.query.get("startsWith"); prefix && !prefix->empty()) {
    selection.prefix = *prefix;
    selection.matches = IdPatterns::parse(req.query.get("matches").value_or(""));
    // The npm client sends `exclude`, RavenDB's server reads `excludes`.
    selection.exclude = IdPatterns::parse(req.query.get("exclude").value_or(req.query.get("excludes").value_or("")));
    selection.start_after = req.query.get("startAfter").value_or("");
  }
  auto source = std::make_shared<DocumentsStream>(std::move(db), std::move(selection), *format);
  if (Status s = source->prepare(); !s.ok()) return respond_error(respond, s, req);
  respond(http::Response::stream_until_end(200, content_type(*format), std::move(source)));
}

}  // namespace

void register_stream_routes(http::Router& router, ServerStore& store) {
  auto query = [&store](const http::Request& req, http::Respond respond) { handle_stream_query(store, req, respond); };
  router.add(verb::post, "/databases/{db}/streams/queries", http::RouteAccess::DatabaseRead, "stream_query_post",
             query);
  router.add(verb::get, "/databases/{db}/streams/queries", http::RouteAccess::DatabaseRead, "stream_query_get", query);
  router.add(verb::get, "/databases/{db}/streams/docs", http::RouteAccess::DatabaseRead, "stream_docs",
             [&store](const http::Request& req, http::Respond respond) { handle_stream_docs(store, req, respond); });
}

}  // namespace corvus::server::handlers
