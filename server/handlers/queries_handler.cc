// Queries: POST/GET /databases/{db}/queries (RQL; REST.md §4). The query runs
// on the request's I/O thread when it needs no waiting, on a worker thread
// when it waits for non-stale results. Answers carry RavenDB's statistics and
// an ETag (the result's hash): a client sending it back in If-None-Match gets
// 304 while the result is unchanged.

#include <array>
#include <chrono>
#include <string>
#include <utility>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "query/query_runner.h"
#include "query/rql_parser.h"
#include "server/handlers/compare_exchange_includes.h"
#include "server/handlers/counter_batch_command.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/query_request.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"
#include "storage/clock.h"

namespace corvus::server::handlers {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;

// `include counters(...)`: CounterIncludes {id: [CounterDetail...]} and
// IncludedCounterNames {id: [names]} ([] meaning all of them), which the
// clients use to know which counters they have.
Status append_query_counter_includes(const storage::DocumentsStorage& storage, const query::QueryRunner& runner,
                                     std::string& body) {
  if (!runner.includes_counters()) {
    body += ",\"CounterIncludes\":null";
    return Status::Ok();
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> wanted;
  json::object included_names;
  for (const auto& [id, selection] : runner.counter_documents()) {
    json::array names;
    if (!selection.all)
      for (const auto& n : selection.names) names.emplace_back(n);
    included_names[id] = std::move(names);
    wanted.emplace_back(id, selection.all ? std::vector<std::string>{std::string(kAllCounters)}
                                          : std::vector<std::string>(selection.names.begin(), selection.names.end()));
  }
  body += ",\"CounterIncludes\":";
  if (Status s = append_counter_includes(storage, wanted, body); !s.ok()) return s;
  body += ",\"IncludedCounterNames\":" + json::serialize(included_names);
  return Status::Ok();
}

// `include timings()`: how long each phase of the query took, as RavenDB's
// QueryTimings {DurationInMs, Timings: {phase: {DurationInMs, Timings}}}.
// Milliseconds are rounded up, so a phase that ran never reads 0.
class QueryPhases {
 public:
  using Clock = std::chrono::steady_clock;
  QueryPhases() : started_(Clock::now()), last_(started_) {}
  // The phase since the previous one (or the start) ended now.
  void end(const char* name) {
    const auto now = Clock::now();
    if (count_ < phases_.size()) phases_[count_++] = {name, now - last_};
    last_ = now;
  }
  // ,"Timings":{...}
  std::string json_member() const {
    std::string out = ",\"Timings\":{\"DurationInMs\":" + std::to_string(ms(last_ - started_)) + ",\"Timings\":{";
    for (size_t i = 0; i < count_; ++i) {
      if (i > 0) out += ',';
      out += "\"" + std::string(phases_[i].first) + "\":{\"DurationInMs\":" + std::to_string(ms(phases_[i].second)) +
             ",\"Timings\":null}";
    }
    return out + "}}";
  }

 private:
  static int64_t ms(Clock::duration d) {
    return (std::chrono::duration_cast<std::chrono::microseconds>(d).count() + 999) / 1000;
  }
  Clock::time_point started_;
  Clock::time_point last_;
  std::array<std::pair<const char*, Clock::duration>, 4> phases_{};
  size_t count_ = 0;
};

void run_query(ServerStore& store, const DocumentDatabase& db, query::QueryRunner& runner, const query::Query& query,
               int64_t started_us, QueryPhases phases, const http::Request& req, const http::Respond& respond) {
  if (Status s = runner.execute(); !s.ok()) return respond(query_error_response(s, req));
  phases.end("Query");  // waiting for the index, then finding the matches
  std::string results = "[";
  bool first = true;
  for (;;) {
    auto next = runner.next();
    if (!next.ok()) return respond(query_error_response(next.status(), req));
    if (!next.value()) break;
    if (!first) results += ',';
    first = false;
    results += *next.value();
  }
  results += ']';
  phases.end("Retriever");  // reading and rendering the results
  auto includes = runner.includes();
  if (!includes.ok()) return respond(query_error_response(includes.status(), req));
  // Included compare-exchange values and counters change without the documents
  // changing: they are part of the ETag (as RavenDB's result etag includes them).
  std::string compare_exchange = "null";
  if (const auto& keys = runner.compare_exchange_keys()) {
    auto values = compare_exchange_includes(store, db.name(), {keys->begin(), keys->end()});
    if (!values.ok()) return respond(query_error_response(values.status(), req));
    compare_exchange = std::move(values).value();
  }
  std::string counters;
  if (Status s = append_query_counter_includes(db.storage(), runner, counters); !s.ok())
    return respond(query_error_response(s, req));
  phases.end("Includes");
  runner.add_to_result_etag(compare_exchange);
  runner.add_to_result_etag(counters);
  const std::string etag = "\"" + std::to_string(static_cast<int64_t>(runner.result_etag())) + "\"";
  if (unquote(req.header("If-None-Match")) == unquote(etag)) return respond(http::Response::empty(304));

  const auto& stats = runner.statistics();
  const int64_t now_us = db.storage().options().clock->now_micros();
  std::string body = "{\"TotalResults\":" + std::to_string(stats.total_results) +
                     ",\"SkippedResults\":" + std::to_string(stats.skipped_results) +
                     ",\"DurationInMs\":" + std::to_string((now_us - started_us) / 1000) +
                     ",\"IndexName\":" + json_string(stats.index_name) +
                     ",\"IsStale\":" + (stats.is_stale ? "true" : "false") +
                     ",\"IndexTimestamp\":" + json_string(storage::format_iso8601(stats.index_timestamp_us)) +
                     ",\"LastQueryTime\":" + json_string(storage::format_iso8601(now_us)) +
                     ",\"ResultEtag\":" + std::to_string(static_cast<int64_t>(runner.result_etag())) +
                     ",\"NodeTag\":" + json_string(store.node_tag()) + ",\"Results\":" + results + ",\"Includes\":{";
  first = true;
  for (const auto& [id, doc] : includes.value()) {
    if (!first) body += ',';
    first = false;
    body += json_string(id) + ":" + doc;
  }
  body += "},\"IncludedPaths\":null,\"CompareExchangeValueIncludes\":" + compare_exchange + counters;
  if (query.timings) body += phases.json_member();
  body += '}';
  http::Response response = http::Response::json(200, std::move(body));
  response.headers.emplace_back("ETag", etag);
  respond(std::move(response));
}

// ?debug=explain: {IndexName, Results: [{Index, Reason}]} instead of results.
void explain_query(DocumentDatabase& db, const query::Query& query, const http::Request& req,
                   const http::Respond& respond) {
  auto explained = query::QueryRunner::explain(query, db.indexes());
  if (!explained.ok()) return respond(query_error_response(explained.status(), req));
  json::array results;
  for (const auto& [index, reason] : explained->reasons) results.push_back(json::object{{"Index", index}, {"Reason", reason}});
  respond(http::Response::json(
      200, json::serialize(json::object{{"IndexName", explained->index_name}, {"Results", std::move(results)}})));
}

void handle_query(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto db = find_database(store, req, respond);
  if (!db) return;
  auto request = read_query_request(req);
  if (!request.ok()) return respond(query_error_response(request.status(), req));
  if (auto debug = req.query.get("debug")) {
    if (*debug == "explain") return explain_query(*db, *request->query, req, respond);
    return respond(query_error_response(
        Status::InvalidArgument("Query string parameter 'debug' must be 'explain', not '" + *debug + "'"), req));
  }
  const int64_t started_us = db->storage().options().clock->now_micros();
  QueryPhases phases;
  auto shared = std::make_shared<QueryRequest>(std::move(request).value());
  if (Status s = bind_compare_exchange_values(store, db->name(), *shared->query, shared->options.parameters); !s.ok())
    return respond(query_error_response(s, req));
  auto started = query::QueryRunner::start(*shared->query, shared->options, db->storage(), db->indexes());
  if (!started.ok()) return respond(query_error_response(started.status(), req));
  std::shared_ptr<query::QueryRunner> runner = std::move(started).value();
  phases.end("Optimizer");  // compiling and choosing (or creating) the index
  if (!runner->waits()) return run_query(store, *db, *runner, *shared->query, started_us, phases, req, respond);
  // Waiting holds a thread for up to the timeout: not an I/O thread.
  bool async = store.cluster().run_async([&store, db, shared, runner, started_us, phases, &req, respond] {
    run_query(store, *db, *runner, *shared->query, started_us, phases, req, respond);
  });
  if (!async)
    respond_error(respond, Status::Busy("too many queries waiting for non-stale results; retry shortly"), req);
}

}  // namespace

void register_query_routes(http::Router& router, ServerStore& store) {
  auto handler = [&store](const http::Request& req, http::Respond respond) { handle_query(store, req, respond); };
  router.add(verb::post, "/databases/{db}/queries", http::RouteAccess::DatabaseRead, "query_post", handler);
  router.add(verb::get, "/databases/{db}/queries", http::RouteAccess::DatabaseRead, "query_get", handler);
}

}  // namespace corvus::server::handlers
