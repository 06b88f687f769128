#include "rachis/cluster/commands/external_replication_commands.h"

#include <algorithm>
#include <cctype>

#include <boost/json.hpp>

#include "rachis/cluster/commands/record_task_support.h"
#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;
using namespace record_tasks;

namespace {

Status no_task(const DatabaseRecord& r, std::uint64_t task_id) {
  return Status::NotFound("No external replication with task id " + std::to_string(task_id) + " on database '" +
                          r.name + "'");
}

Result<std::pair<std::string, std::uint64_t>> database_and_task(const json::object& o) {
  std::string database = get_string(o, "DatabaseName");
  const std::uint64_t task_id = get_u64(o, "TaskId");
  if (database.empty() || task_id == 0) return Status::InvalidArgument("needs DatabaseName and TaskId");
  return std::make_pair(std::move(database), task_id);
}

}  // namespace

json::object PutExternalReplicationCommand::fields() const {
  return {{"DatabaseName", database}, {"Definition", definition.to_json()}};
}

Result<std::unique_ptr<ClusterCommand>> PutExternalReplicationCommand::decode(const json::object& o) {
  auto c = std::make_unique<PutExternalReplicationCommand>();
  c->database = get_string(o, "DatabaseName");
  if (c->database.empty()) return Status::InvalidArgument("needs DatabaseName");
  const json::value* d = o.if_contains("Definition");
  if (!d) return Status::InvalidArgument("needs Definition");
  auto parsed = ExternalReplicationDefinition::from_json(*d);
  if (!parsed.ok()) return parsed.status();
  c->definition = std::move(parsed).value();
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult PutExternalReplicationCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  if (Status s = require_connection_string(*r, definition.connection_string_name); !s.ok()) return {s, nullptr};
  auto task_id = put_task(r->external_replications, definition, ctx.index, *r, "An external replication");
  if (!task_id.ok()) return {task_id.status(), nullptr};
  return store(ctx, *r, json::object{{"TaskId", *task_id}});
}

json::object DeleteExternalReplicationCommand::fields() const {
  return {{"DatabaseName", database}, {"TaskId", task_id}};
}

Result<std::unique_ptr<ClusterCommand>> DeleteExternalReplicationCommand::decode(const json::object& o) {
  auto parsed = database_and_task(o);
  if (!parsed.ok()) return parsed.status();
  auto c = std::make_unique<DeleteExternalReplicationCommand>();
  c->database = parsed->first;
  c->task_id = parsed->second;
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult DeleteExternalReplicationCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  const size_t removed = std::erase_if(r->external_replications,
                                       [&](const ExternalReplicationDefinition& t) { return t.task_id == task_id; });
  if (removed == 0) return {no_task(*r, task_id), nullptr};
  return store(ctx, *r, nullptr);
}

json::object ToggleExternalReplicationCommand::fields() const {
  return {{"DatabaseName", database}, {"TaskId", task_id}, {"Disabled", disabled}};
}

Result<std::unique_ptr<ClusterCommand>> ToggleExternalReplicationCommand::decode(const json::object& o) {
  auto parsed = database_and_task(o);
  if (!parsed.ok()) return parsed.status();
  auto c = std::make_unique<ToggleExternalReplicationCommand>();
  c->database = parsed->first;
  c->task_id = parsed->second;
  c->disabled = get_bool(o, "Disabled");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult ToggleExternalReplicationCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  for (auto& t : r->external_replications) {
    if (t.task_id != task_id) continue;
    t.disabled = disabled;
    return store(ctx, *r, nullptr);
  }
  return {no_task(*r, task_id), nullptr};
}

json::object RemoveRavenConnectionStringCommand::fields() const {
  return {{"DatabaseName", database}, {"Name", name}};
}

Result<std::unique_ptr<ClusterCommand>> RemoveRavenConnectionStringCommand::decode(const json::object& o) {
  auto c = std::make_unique<RemoveRavenConnectionStringCommand>();
  c->database = get_string(o, "DatabaseName");
  c->name = get_string(o, "Name");
  if (c->database.empty() || c->name.empty()) return Status::InvalidArgument("needs DatabaseName and Name");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult RemoveRavenConnectionStringCommand::apply(ApplyContext& ctx) const {
  auto r = active_record(ctx, database);
  if (!r.ok()) return {r.status(), nullptr};
  auto it = r->raven_connection_strings.find(name);
  if (it == r->raven_connection_strings.end()) {
    return {Status::NotFound("No Raven connection string named '" + name + "' in database '" + r->name + "'"), nullptr};
  }
  for (const auto& t : r->external_replications) {
    if (t.connection_string_name == name) {
      return {Status::InvalidArgument("Connection string '" + name + "' is used by external replication '" + t.name +
                                      "' (task " + std::to_string(t.task_id) + "); delete that task first"),
              nullptr};
    }
  }
  for (const auto& s : r->sink_pull_replications) {
    if (s.connection_string_name == name) {
      return {Status::InvalidArgument("Connection string '" + name + "' is used by pull replication sink '" + s.name +
                                      "' (task " + std::to_string(s.task_id) + "); delete that task first"),
              nullptr};
    }
  }
  r->raven_connection_strings.erase(it);
  return store(ctx, *r, nullptr);
}

}  // namespace corvus::rachis::cluster
