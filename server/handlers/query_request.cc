#include "server/handlers/query_request.h"

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "query/rql_parser.h"
#include "server/handlers/handler_support.h"
#include "server/http/error_response.h"
#include "storage/revisions_configuration.h"

namespace corvus::server::handlers {

namespace json = boost::json;

Result<QueryRequest> read_query_request(const http::Request& req) {
  QueryRequest out;
  if (req.method == boost::beast::http::verb::get) {
    auto text = required_query(req, "query");
    if (!text.ok()) return text.status();
    out.text = std::move(text).value();
  } else {
    auto body = parse_json_body(req);
    if (!body.ok()) return body.status();
    const auto* o = body.value().if_object();
    if (!o) return Status::InvalidArgument("The body must be a JSON object with a \"Query\" string");
    return query_request_from_json(*o);
  }
  auto parsed = query::parse_rql(out.text);
  if (!parsed.ok()) return parsed.status();
  out.query = std::make_shared<const query::Query>(std::move(parsed).value());
  return out;
}

Result<QueryRequest> query_request_from_json(const json::object& body) {
  QueryRequest out;
  {
    const auto* o = &body;
    const auto* text = o->if_contains("Query");
    if (!text || !text->is_string()) return Status::InvalidArgument("The body must be a JSON object with a \"Query\" string");
    out.text = std::string(text->as_string());
    if (const auto* p = o->if_contains("QueryParameters"); p && !p->is_null()) {
      if (!p->is_object()) return Status::InvalidArgument("QueryParameters must be an object (or null)");
      out.options.parameters = p->as_object();
    }
    if (const auto* w = o->if_contains("WaitForNonStaleResults"); w && w->is_bool())
      out.options.wait_for_non_stale = w->as_bool();
    if (const auto* t = o->if_contains("WaitForNonStaleResultsTimeout"); t && t->is_string()) {
      auto micros = storage::parse_timespan(t->as_string());
      if (!micros.ok()) return Status::InvalidArgument("WaitForNonStaleResultsTimeout: " + micros.status().message());
      out.options.wait_timeout = std::chrono::milliseconds(micros.value() / 1000);
      out.options.wait_timeout_given = true;
    }
  }
  auto parsed = query::parse_rql(out.text);
  if (!parsed.ok()) return parsed.status();
  out.query = std::make_shared<const query::Query>(std::move(parsed).value());
  return out;
}

http::Response query_error_response(const Status& s, const http::Request& req) {
  if (s.is_invalid_argument())
    return http::error_response(400, "Raven.Client.Exceptions.InvalidQueryException", s.message(), req.target);
  if (s.is_not_found())
    return http::error_response(404, "Raven.Client.Exceptions.Documents.Indexes.IndexDoesNotExistException",
                                s.message(), req.target);
  return http::error_response(s, req.target);
}

}  // namespace corvus::server::handlers
