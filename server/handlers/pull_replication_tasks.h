#pragma once
// The ongoing task view of a pull replication sink (RavenDB's
// OngoingTaskPullReplicationAsSink), for GET /databases/{db}/task?type=PullReplicationAsSink,
// whose route belongs to subscriptions_handler.cc (the route serves every task type).
// Stateless; thread-safe.

#include "server/http/request.h"
#include "server/http/response.h"

namespace corvus::server {
class ServerStore;
}

namespace corvus::server::handlers {

// ?key= (task id) or ?taskName=; 404 when the database has no such sink.
void respond_sink_task_info(ServerStore& store, const http::Request& req, const http::Respond& respond);

}  // namespace corvus::server::handlers
