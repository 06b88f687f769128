#pragma once
// Small helpers every handler uses: database lookup with RavenDB's
// "database does not exist" answer, JSON body parsing with a clear 400, query
// parameter parsing, and respond-with-error. Stateless; thread-safe.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "server/document_database.h"
#include "server/http/error_response.h"
#include "server/http/request.h"
#include "server/http/response.h"
#include "rachis/cluster/database_record.h"
#include "rachis/core/types.h"
#include "storage/status.h"

namespace corvus::server {
class ServerStore;
}

namespace corvus::server::handlers {

// The database named by the {db} route parameter, or nullptr after answering
// 503 with `Database-Missing` (what the official clients turn into
// DatabaseDoesNotExistException).
std::shared_ptr<DocumentDatabase> find_database(ServerStore& store, const http::Request& req,
                                                const http::Respond& respond);
http::Response database_missing(std::string_view name, std::string_view url);
// The active database record the {db} route parameter names (for handlers
// that change its tasks, whether or not the database is open here), or
// nullptr after answering as find_database does.
std::shared_ptr<const rachis::cluster::DatabaseRecord> find_record(ServerStore& store, const http::Request& req,
                                                                   const http::Respond& respond);

// Parses the request body as JSON. InvalidArgument says what is wrong and where.
Result<boost::json::value> parse_json_body(const http::Request& req);

// A query parameter that must be present and non-empty; InvalidArgument
// ("Query string parameter 'key' is required") otherwise.
Result<std::string> required_query(const http::Request& req, std::string_view key);

// `v` without one pair of surrounding double quotes (ETag-style headers).
std::string_view unquote(std::string_view v);

// A non-negative integer query parameter; `fallback` when absent, InvalidArgument when malformed.
Result<uint64_t> query_uint(const http::Request& req, std::string_view key, uint64_t fallback);

// `start` and `pageSize` query parameters; InvalidArgument when malformed.
struct Paging {
  uint64_t start = 0;
  uint64_t page_size = 0;
};
Result<Paging> query_paging(const http::Request& req, uint64_t default_page_size);

// The change vector in an If-Match header, quotes stripped; nullopt when absent.
// InvalidArgument when it is not a valid change vector.
Result<std::optional<std::string>> if_match_change_vector(const http::Request& req);
// Validates a change vector given by a client ("" is valid: "must be new").
Status validate_change_vector(std::string_view cv);

void respond_error(const http::Respond& respond, const Status& s, const http::Request& req);

// The answer to a compare-exchange key the cluster refuses (`why`): RavenDB's
// CompareExchangeKeyTooBigException when the key is too long (the clients
// raise that name), a 400 saying why otherwise.
http::Response compare_exchange_key_refused(std::string_view key, const Status& why, std::string_view url);

// Waits (30 s in all) until each of `tags` other than this node has
// processed Raft `index` (its observer applied what the entry changed), so a
// client may use any member right after a change to a database record. A
// member that is down (refuses connections) is not waited for: it catches up
// when it comes back. Blocks: call it from
// ClusterManager::run_async.
void wait_for_members(ServerStore& store, const std::vector<std::string>& tags, rachis::core::Index index);

// `"text"` with JSON escaping.
std::string json_string(std::string_view s);

}  // namespace corvus::server::handlers
