#pragma once
// Identity ids ("users|") get their numbers from the cluster
// (IncrementIdentities), so two nodes never hand out the same one. Used by
// every handler that stores documents. Thread-safe.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "storage/status.h"

namespace corvus::server {
class ServerStore;
}

namespace corvus::server::handlers {

// Replaces each id in `ids` that ends with '|' by "<prefix>/<number>", numbers
// in order from one cluster command, then calls `then(Ok)`; with no such id
// `then` runs at once. `ids` must stay alive until `then` runs (the callers
// keep them in shared state). `then` may run on another thread.
void resolve_cluster_identities(ServerStore& store, const std::string& database, std::vector<std::string*> ids,
                                std::function<void(Status)> then);

}  // namespace corvus::server::handlers
