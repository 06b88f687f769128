#pragma once
// Compare-exchange values sent with documents or query results (GET /docs
// with cmpxchg=, `include cmpxchg(...)` in RQL) or compared with by queries
// (`where Name = cmpxchg('key')`): read from this node's cluster state.
// Stateless; thread-safe.

#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "query/rql_ast.h"
#include "storage/status.h"

namespace corvus::server {
class ServerStore;
}

namespace corvus::server::handlers {

// {"<key>": {"Key", "Index", "Value", "ChangeVector"}} for the keys that exist.
// The change vector names the index the way cluster-wide documents do, so a
// session can send it back as OriginalChangeVector (atomic guards).
Result<std::string> compare_exchange_includes(ServerStore& store, const std::string& database,
                                              const std::vector<std::string>& keys);

// Reads the entries the query's cmpxchg() values name into `parameters` (under
// query::kCompareExchangeValuesParameter: each entry's Object, as the clients
// store it, or its whole value); nothing when it names none.
Status bind_compare_exchange_values(ServerStore& store, const std::string& database, const query::Query& query,
                                          boost::json::object& parameters);

}  // namespace corvus::server::handlers
