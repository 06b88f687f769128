#pragma once
// What the commands that change a database record's tasks (pull replication,
// external replication) share: the record to change, storing it, and putting
// a task (a sink or an external replication: anything with a name and a
// task id) by task id with a unique name. Internal to rachis/cluster/commands.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "rachis/cluster/cluster_command.h"
#include "rachis/cluster/database_record.h"
#include "storage/status.h"

namespace corvus::rachis::cluster::record_tasks {

inline bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The database's active record, copied for change; NotFound otherwise.
inline Result<DatabaseRecord> active_record(const ApplyContext& ctx, const std::string& name) {
  auto stored = ctx.state.record(name);
  if (!stored || !stored->active()) return Status::NotFound("Database '" + name + "' does not exist");
  return DatabaseRecord(*stored);
}

inline CommandResult store(ApplyContext& ctx, const DatabaseRecord& r, boost::json::value result) {
  ctx.batch.put_record(r);
  ctx.databases_changed.push_back(r.name);
  return {Status::Ok(), std::move(result)};
}

// InvalidArgument unless the record has the Raven connection string `name`.
inline Status require_connection_string(const DatabaseRecord& r, const std::string& name) {
  if (r.raven_connection_strings.count(name)) return Status::Ok();
  return Status::InvalidArgument("Could not find connection string named '" + name + "' in database '" + r.name +
                                 "' (PutConnectionStringOperation first)");
}

// Puts `task` into `tasks`: a new one (task_id 0: it becomes `index`) or the
// replacement of the one with its task id. InvalidArgument when another task
// has its name (any case), NotFound when its task id is unknown. `what` names
// the kind in messages ("an external replication"). The task id it got.
template <typename Task>
Result<std::uint64_t> put_task(std::vector<Task>& tasks, Task task, std::uint64_t index, const DatabaseRecord& r,
                               std::string_view what) {
  const bool new_task = task.task_id == 0;
  if (new_task) task.task_id = index;
  for (const auto& t : tasks) {
    if (t.task_id != task.task_id && iequal(t.name, task.name)) {
      return Status::InvalidArgument(std::string(what) + " named '" + t.name + "' already exists on database '" +
                                     r.name + "' (task " + std::to_string(t.task_id) + ")");
    }
  }
  auto it = std::find_if(tasks.begin(), tasks.end(), [&](const Task& t) { return t.task_id == task.task_id; });
  if (it != tasks.end()) {
    *it = task;
  } else if (new_task) {
    tasks.push_back(task);
  } else {
    return Status::NotFound("No " + std::string(what.substr(what.find(' ') + 1)) + " with task id " +
                            std::to_string(task.task_id) + " on database '" + r.name + "'");
  }
  return task.task_id;
}

}  // namespace corvus::rachis::cluster::record_tasks
