#pragma once
// Compare-exchange values sent with documents or query results (GET /docs
// with cmpxchg=, `include cmpxchg(...)` in RQL): read from this node's cluster
// state. Stateless; thread-safe.

#include <string>
#include <vector>

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

}  // namespace corvus::server::handlers
