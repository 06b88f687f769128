#include "rachis/cluster/commands/pull_replication_commands.h"

#include <algorithm>
#include <cctype>

#include <boost/json.hpp>

#include "rachis/cluster/commands/record_task_support.h"
#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;
using namespace record_tasks;

json::object PutPullReplicationHubCommand::fields() const {
  return {{"DatabaseName", database}, {"Definition", definition.to_json()}};
}

Result<std::unique_ptr<ClusterCommand>> PutPullReplicationHubCommand::decode(const json::object& o) {
  auto c = std::make_unique<PutPullReplicationHubCommand>();
  c->database = get_string(o, "DatabaseName");
  if (c->database.empty()) return Status::InvalidArgument("needs DatabaseName");
  const json::value* d = o.if_contains("Definition");
  if (!d) return Status::InvalidArgument("needs Definition");
  auto parsed = HubDefinition::from_json(*d);
  if (!parsed.ok()) return parsed.status();
  c->definition = std::move(parsed).value();
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult PutPullReplicationHubCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  HubDefinition d = definition;
  if (d.task_id == 0) d.task_id = ctx.index;
  for (const auto& h : r->hub_pull_replications) {
    if (h.task_id != d.task_id && iequal(h.name, d.name)) {
      return {Status::InvalidArgument("A pull replication hub named '" + h.name + "' already exists on database '" +
                                      r->name + "' (task " + std::to_string(h.task_id) + ")"),
              nullptr};
    }
  }
  auto& hubs = r->hub_pull_replications;
  auto it = std::find_if(hubs.begin(), hubs.end(), [&](const HubDefinition& h) { return h.task_id == d.task_id; });
  if (it == hubs.end()) {
    if (definition.task_id != 0) {
      return {Status::NotFound("No pull replication hub with task id " + std::to_string(definition.task_id) +
                               " on database '" + r->name + "'"),
              nullptr};
    }
    hubs.push_back(d);
  } else {
    // A renamed hub keeps its accesses.
    for (auto& a : r->hub_accesses) {
      if (iequal(a.hub_name, it->name)) a.hub_name = d.name;
    }
    *it = d;
  }
  return store(ctx, *r, json::object{{"TaskId", d.task_id}});
}

json::object DeletePullReplicationHubCommand::fields() const {
  return {{"DatabaseName", database}, {"TaskId", task_id}};
}

Result<std::unique_ptr<ClusterCommand>> DeletePullReplicationHubCommand::decode(const json::object& o) {
  auto c = std::make_unique<DeletePullReplicationHubCommand>();
  c->database = get_string(o, "DatabaseName");
  c->task_id = get_u64(o, "TaskId");
  if (c->database.empty() || c->task_id == 0) return Status::InvalidArgument("needs DatabaseName and TaskId");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult DeletePullReplicationHubCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  const HubDefinition* hub = r->hub_by_task_id(task_id);
  if (!hub) {
    return {Status::NotFound("No pull replication hub with task id " + std::to_string(task_id) + " on database '" +
                             r->name + "'"),
            nullptr};
  }
  const std::string name = hub->name;
  std::erase_if(r->hub_pull_replications, [&](const HubDefinition& h) { return h.task_id == task_id; });
  std::erase_if(r->hub_accesses, [&](const HubAccess& a) { return iequal(a.hub_name, name); });
  return store(ctx, *r, nullptr);
}

json::object PutReplicationHubAccessCommand::fields() const {
  return {{"DatabaseName", database}, {"Access", access.to_json()}};
}

Result<std::unique_ptr<ClusterCommand>> PutReplicationHubAccessCommand::decode(const json::object& o) {
  auto c = std::make_unique<PutReplicationHubAccessCommand>();
  c->database = get_string(o, "DatabaseName");
  if (c->database.empty()) return Status::InvalidArgument("needs DatabaseName");
  const json::value* a = o.if_contains("Access");
  if (!a || !a->is_object()) return Status::InvalidArgument("needs Access");
  auto parsed = HubAccess::from_json(a->as_object());
  if (!parsed.ok()) return parsed.status();
  c->access = std::move(parsed).value();
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult PutReplicationHubAccessCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  const HubDefinition* hub = r->hub(access.hub_name);
  if (!hub) {
    return {Status::NotFound("The replication hub '" + access.hub_name + "' was not found on database '" + r->name +
                             "'. Did you forget to define it first?"),
            nullptr};
  }
  if (hub->with_filtering) {
    if ((hub->mode & kHubToSink) && access.allowed_hub_to_sink_paths.empty()) {
      return {Status::InvalidArgument("Hub '" + hub->name +
                                      "' filters by path: the access needs AllowedHubToSinkPaths"),
              nullptr};
    }
    if ((hub->mode & kSinkToHub) && access.allowed_sink_to_hub_paths.empty() &&
        access.allowed_hub_to_sink_paths.empty()) {
      return {Status::InvalidArgument("Hub '" + hub->name +
                                      "' filters by path: the access needs AllowedSinkToHubPaths (or "
                                      "AllowedHubToSinkPaths, used for both directions)"),
              nullptr};
    }
  }
  HubAccess a = access;
  a.hub_name = hub->name;
  auto& list = r->hub_accesses;
  auto it = std::find_if(list.begin(), list.end(), [&](const HubAccess& x) {
    return iequal(x.hub_name, a.hub_name) && iequal(x.thumbprint, a.thumbprint);
  });
  if (it == list.end()) {
    list.push_back(std::move(a));
  } else {
    *it = std::move(a);
  }
  return store(ctx, *r, nullptr);
}

json::object DeleteReplicationHubAccessCommand::fields() const {
  return {{"DatabaseName", database}, {"HubName", hub_name}, {"Thumbprint", thumbprint}};
}

Result<std::unique_ptr<ClusterCommand>> DeleteReplicationHubAccessCommand::decode(const json::object& o) {
  auto c = std::make_unique<DeleteReplicationHubAccessCommand>();
  c->database = get_string(o, "DatabaseName");
  c->hub_name = get_string(o, "HubName");
  c->thumbprint = get_string(o, "Thumbprint");
  if (c->database.empty() || c->hub_name.empty() || c->thumbprint.empty()) {
    return Status::InvalidArgument("needs DatabaseName, HubName and Thumbprint");
  }
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult DeleteReplicationHubAccessCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  const size_t removed = std::erase_if(r->hub_accesses, [&](const HubAccess& a) {
    return iequal(a.hub_name, hub_name) && iequal(a.thumbprint, thumbprint);
  });
  if (removed == 0) return {Status::Ok(), nullptr};
  return store(ctx, *r, nullptr);
}

json::object RegisterHubSinkCommand::fields() const {
  return {{"DatabaseName", database}, {"SinkDatabaseId", sink_database_id}};
}

Result<std::unique_ptr<ClusterCommand>> RegisterHubSinkCommand::decode(const json::object& o) {
  auto c = std::make_unique<RegisterHubSinkCommand>();
  c->database = get_string(o, "DatabaseName");
  c->sink_database_id = get_string(o, "SinkDatabaseId");
  if (c->database.empty() || c->sink_database_id.empty()) return Status::InvalidArgument("needs DatabaseName and SinkDatabaseId");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult RegisterHubSinkCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  if (!r->hub_sink_database_ids.insert(sink_database_id).second) return {Status::Ok(), nullptr};
  return store(ctx, *r, nullptr);
}

json::object PutRavenConnectionStringCommand::fields() const {
  return {{"DatabaseName", database}, {"ConnectionString", connection_string.to_json()}};
}

Result<std::unique_ptr<ClusterCommand>> PutRavenConnectionStringCommand::decode(const json::object& o) {
  auto c = std::make_unique<PutRavenConnectionStringCommand>();
  c->database = get_string(o, "DatabaseName");
  if (c->database.empty()) return Status::InvalidArgument("needs DatabaseName");
  const json::value* cs = o.if_contains("ConnectionString");
  if (!cs) return Status::InvalidArgument("needs ConnectionString");
  auto parsed = RavenConnectionString::from_json(*cs);
  if (!parsed.ok()) return parsed.status();
  c->connection_string = std::move(parsed).value();
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult PutRavenConnectionStringCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  r->raven_connection_strings[connection_string.name] = connection_string;
  return store(ctx, *r, nullptr);
}

json::object PutPullReplicationSinkCommand::fields() const {
  return {{"DatabaseName", database}, {"Definition", definition.to_json()}};
}

Result<std::unique_ptr<ClusterCommand>> PutPullReplicationSinkCommand::decode(const json::object& o) {
  auto c = std::make_unique<PutPullReplicationSinkCommand>();
  c->database = get_string(o, "DatabaseName");
  if (c->database.empty()) return Status::InvalidArgument("needs DatabaseName");
  const json::value* d = o.if_contains("Definition");
  if (!d) return Status::InvalidArgument("needs Definition");
  auto parsed = SinkDefinition::from_json(*d);
  if (!parsed.ok()) return parsed.status();
  c->definition = std::move(parsed).value();
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult PutPullReplicationSinkCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  if (Status s = require_connection_string(*r, definition.connection_string_name); !s.ok()) return {s, nullptr};
  auto task_id = put_task(r->sink_pull_replications, definition, ctx.index, *r, "A pull replication sink");
  if (!task_id.ok()) return {task_id.status(), nullptr};
  return store(ctx, *r, json::object{{"TaskId", *task_id}});
}

json::object DeletePullReplicationSinkCommand::fields() const {
  return {{"DatabaseName", database}, {"TaskId", task_id}};
}

Result<std::unique_ptr<ClusterCommand>> DeletePullReplicationSinkCommand::decode(const json::object& o) {
  auto c = std::make_unique<DeletePullReplicationSinkCommand>();
  c->database = get_string(o, "DatabaseName");
  c->task_id = get_u64(o, "TaskId");
  if (c->database.empty() || c->task_id == 0) return Status::InvalidArgument("needs DatabaseName and TaskId");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult DeletePullReplicationSinkCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  const size_t removed =
      std::erase_if(r->sink_pull_replications, [&](const SinkDefinition& s) { return s.task_id == task_id; });
  if (removed == 0) {
    return {Status::NotFound("No pull replication sink with task id " + std::to_string(task_id) + " on database '" +
                             r->name + "'"),
            nullptr};
  }
  return store(ctx, *r, nullptr);
}

}  // namespace corvus::rachis::cluster
