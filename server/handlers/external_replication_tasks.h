#pragma once
// External replication as an ongoing task (RavenDB's OngoingTaskReplication,
// TaskType "Replication"), for the routes that serve every task type and
// belong to other files: GET /databases/{db}/tasks and DELETE
// /databases/{db}/admin/tasks (pull_replication_handler.cc), GET
// /databases/{db}/task and POST /databases/{db}/admin/tasks/state
// (subscriptions_handler.cc). Implemented in external_replication_handler.cc.
// Stateless; thread-safe.

#include <cstdint>

#include <boost/json/object.hpp>

#include "rachis/cluster/database_record.h"
#include "server/http/request.h"
#include "server/http/response.h"

namespace corvus::server {
class ServerStore;
}

namespace corvus::server::handlers {

inline constexpr std::string_view kExternalReplicationTaskType = "Replication";

// The task as GET /databases/{db}/tasks lists it and GetOngoingTaskInfoOperation reads it.
boost::json::object external_replication_task_json(ServerStore& store, const rachis::cluster::DatabaseRecord& record,
                                                   const rachis::cluster::ExternalReplicationDefinition& d);
// GET /databases/{db}/task?key=|taskName=&type=Replication; 404 when there is no such task.
void respond_external_task_info(ServerStore& store, const http::Request& req, const http::Respond& respond);
// POST /databases/{db}/admin/tasks/state?key=|taskName=&type=Replication&disable=true|false.
void respond_external_task_state(ServerStore& store, const http::Request& req, const http::Respond& respond);
// DELETE /databases/{db}/admin/tasks?id=&type=Replication.
void delete_external_task(ServerStore& store, const std::string& database, std::uint64_t task_id,
                          const http::Request& req, const http::Respond& respond);

}  // namespace corvus::server::handlers
