#pragma once
// QueryRequest: an RQL query as a request carries it (POST body
// {Query, QueryParameters, WaitForNonStaleResults, WaitForNonStaleResultsTimeout}
// or GET ?query=), parsed; and how query errors are answered (RavenDB's
// InvalidQueryException, IndexDoesNotExistException). Shared by the queries,
// streams and delete-by-query handlers. Stateless; thread-safe.

#include <memory>

#include <boost/json/object.hpp>

#include "query/query_runner.h"
#include "query/rql_ast.h"
#include "server/http/request.h"
#include "server/http/response.h"
#include "storage/status.h"

namespace corvus::server::handlers {

struct QueryRequest {
  std::string text;
  std::shared_ptr<const query::Query> query;
  query::QueryOptions options;
};

// InvalidArgument (a 400 naming what is wrong: bad JSON, missing Query, a
// parse error with its position) when the request is not a query.
Result<QueryRequest> read_query_request(const http::Request& req);
// The same from the body's object ({Query, QueryParameters, ...}), e.g. the
// "Query" of a patch by query.
Result<QueryRequest> query_request_from_json(const boost::json::object& o);

// 400 InvalidQueryException for InvalidArgument, 404 IndexDoesNotExistException
// for NotFound, the usual mapping otherwise.
http::Response query_error_response(const Status& s, const http::Request& req);

}  // namespace corvus::server::handlers
