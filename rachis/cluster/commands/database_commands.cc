#include "rachis/cluster/commands/database_commands.h"

#include <algorithm>
#include <optional>
#include <set>

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

namespace {

// The commands that name a database and a node: {"Name", "NodeTag"}.
template <typename C>
Result<std::unique_ptr<ClusterCommand>> decode_name_and_tag(const json::object& o) {
  auto c = std::make_unique<C>();
  c->name = get_string(o, "Name");
  c->node_tag = get_string(o, "NodeTag");
  if (c->name.empty() || c->node_tag.empty()) return Status::InvalidArgument("needs Name and NodeTag");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

// A copy of the stored record to change and stage; nullopt when there is none.
std::optional<DatabaseRecord> mutable_record(const ApplyContext& ctx, std::string_view name) {
  auto stored = ctx.state.record(name);
  return stored ? std::optional<DatabaseRecord>(*stored) : std::nullopt;
}

// Removes the record and the database's cluster data once nobody holds a copy.
void remove_if_gone(ApplyContext& ctx, const DatabaseRecord& r) {
  if (r.active() || !r.deletion_in_progress.empty()) {
    ctx.batch.put_record(r);
  } else {
    ctx.batch.delete_record(r.name);
  }
}

}  // namespace

// --- AddDatabase ---

json::object AddDatabaseCommand::fields() const { return {{"Record", record.to_json()}}; }

Result<std::unique_ptr<ClusterCommand>> AddDatabaseCommand::decode(const json::object& o) {
  auto c = std::make_unique<AddDatabaseCommand>();
  auto* r = o.if_contains("Record");
  if (!r || !r->is_object() || !DatabaseRecord::from_json(r->as_object(), &c->record)) {
    return Status::InvalidArgument("AddDatabase without a valid Record");
  }
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult AddDatabaseCommand::apply(ApplyContext& ctx) const {
  if (auto existing = ctx.state.record(record.name)) {
    if (!existing->active()) {
      return {Status::AlreadyExists("Database '" + record.name +
                                    "' is being deleted; create it again once every node has removed its copy"),
              nullptr};
    }
    return {Status::AlreadyExists("Database '" + record.name + "' already exists!"), nullptr};
  }
  DatabaseRecord r = record;
  if (r.topology.members.empty()) {
    // Chosen here, from the state every node shares, so every node picks the
    // same: the nodes hosting the fewest databases, then by tag.
    const std::uint32_t factor = std::max<std::uint32_t>(1, r.topology.replication_factor);
    if (factor > ctx.topology.nodes.size()) {
      return {Status::InvalidArgument("replication factor " + std::to_string(factor) + " but the cluster has " +
                                      std::to_string(ctx.topology.nodes.size()) + " node(s)"),
              nullptr};
    }
    std::vector<std::pair<std::size_t, std::string>> load;
    const auto records = ctx.state.records();
    for (const auto& [tag, n] : ctx.topology.nodes) {
      const auto hosted = static_cast<std::size_t>(std::count_if(
          records.begin(), records.end(), [&](const auto& x) { return x->topology.contains(tag); }));
      load.emplace_back(hosted, tag);
    }
    std::sort(load.begin(), load.end());
    for (std::uint32_t i = 0; i < factor; ++i) r.topology.members.push_back(load[i].second);
  }
  for (const auto& tag : r.topology.all_nodes()) {
    if (!ctx.topology.nodes.count(tag)) {
      return {Status::InvalidArgument("node " + tag + " is not part of the cluster"), nullptr};
    }
  }
  r.created_index = ctx.index;
  r.topology.stamp = ctx.index;
  r.deletion_in_progress.clear();
  ctx.batch.put_record(r);
  ctx.databases_changed.push_back(r.name);
  return {Status::Ok(), json::object{{"Name", r.name}, {"Topology", r.topology.to_json()}}};
}

// --- DeleteDatabase ---

json::object DeleteDatabaseCommand::fields() const {
  return {{"Names", strings_to_json(names)}, {"HardDelete", hard_delete}, {"FromNodes", strings_to_json(from_nodes)}};
}

Result<std::unique_ptr<ClusterCommand>> DeleteDatabaseCommand::decode(const json::object& o) {
  auto c = std::make_unique<DeleteDatabaseCommand>();
  c->names = get_strings(o, "Names");
  c->hard_delete = get_bool(o, "HardDelete", true);
  c->from_nodes = get_strings(o, "FromNodes");
  if (c->names.empty()) return Status::InvalidArgument("DeleteDatabase without Names");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult DeleteDatabaseCommand::apply(ApplyContext& ctx) const {
  std::vector<DatabaseRecord> records;
  json::array skipped;
  for (const auto& name : names) {
    auto r = ctx.state.record(name);
    // As RavenDB: a database that is gone (or going) is nothing to delete, so
    // two deletes of one database that race both succeed.
    if (!r || !r->active()) continue;
    if (r->lock_mode == "PreventDeletesError") {
      return {Status::InvalidArgument("Database '" + name + "' cannot be deleted because of the set lock mode ('" +
                                      r->lock_mode + "'); change the lock mode before deleting it"),
              nullptr};
    }
    if (r->lock_mode == "PreventDeletesIgnore") {
      skipped.emplace_back(r->name);
      continue;
    }
    for (const auto& tag : from_nodes) {
      if (!r->topology.contains(tag)) {
        return {Status::InvalidArgument("Database '" + name + "' is not on node " + tag), nullptr};
      }
    }
    records.push_back(*r);
  }
  json::array pending;
  for (auto& r : records) {
    const std::vector<std::string> drop = from_nodes.empty() ? r.topology.all_nodes() : from_nodes;
    for (const auto& tag : drop) {
      r.topology.remove(tag);
      r.deletion_in_progress[tag] = hard_delete;
      pending.emplace_back(tag);
    }
    r.topology.stamp = ctx.index;
    if (!r.active()) {
      if (Status s = ctx.batch.delete_database_data(r.name); !s.ok()) return {s, nullptr};
    }
    remove_if_gone(ctx, r);
    ctx.databases_changed.push_back(r.name);
  }
  return {Status::Ok(), json::object{{"PendingDeletes", std::move(pending)}, {"Skipped", std::move(skipped)}}};
}

// --- SetDatabasesLock ---

json::object SetDatabasesLockCommand::fields() const { return {{"Names", strings_to_json(names)}, {"Mode", mode}}; }

Result<std::unique_ptr<ClusterCommand>> SetDatabasesLockCommand::decode(const json::object& o) {
  auto c = std::make_unique<SetDatabasesLockCommand>();
  c->names = get_strings(o, "Names");
  c->mode = get_string(o, "Mode");
  if (c->names.empty() || !valid_lock_mode(c->mode)) return Status::InvalidArgument("SetDatabasesLock needs Names and a Mode");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult SetDatabasesLockCommand::apply(ApplyContext& ctx) const {
  std::vector<DatabaseRecord> records;
  for (const auto& name : names) {
    auto r = mutable_record(ctx, name);
    if (!r || !r->active()) return {Status::NotFound("Database '" + name + "' does not exist"), nullptr};
    r->lock_mode = mode;
    records.push_back(std::move(*r));
  }
  for (const auto& r : records) {
    ctx.batch.put_record(r);
    ctx.databases_changed.push_back(r.name);
  }
  return {};
}

// --- ConfirmDatabaseDeletion ---

Result<std::unique_ptr<ClusterCommand>> ConfirmDatabaseDeletionCommand::decode(const json::object& o) {
  return decode_name_and_tag<ConfirmDatabaseDeletionCommand>(o);
}

CommandResult ConfirmDatabaseDeletionCommand::apply(ApplyContext& ctx) const {
  auto r = mutable_record(ctx, name);
  // Already confirmed (a retry after a lost answer): nothing to do.
  if (!r || !r->deletion_in_progress.count(node_tag)) return {};
  r->deletion_in_progress.erase(node_tag);
  remove_if_gone(ctx, *r);
  ctx.databases_changed.push_back(r->name);
  return {};
}

// --- AddDatabaseNode ---

Result<std::unique_ptr<ClusterCommand>> AddDatabaseNodeCommand::decode(const json::object& o) {
  return decode_name_and_tag<AddDatabaseNodeCommand>(o);
}

CommandResult AddDatabaseNodeCommand::apply(ApplyContext& ctx) const {
  auto r = mutable_record(ctx, name);
  if (!r || !r->active()) return {Status::NotFound("Database '" + name + "' does not exist"), nullptr};
  if (!ctx.topology.nodes.count(node_tag)) {
    return {Status::InvalidArgument("node " + node_tag + " is not part of the cluster"), nullptr};
  }
  if (r->topology.contains(node_tag)) {
    return {Status::AlreadyExists("Database '" + name + "' is already on node " + node_tag), nullptr};
  }
  if (r->deletion_in_progress.count(node_tag)) {
    return {Status::Busy("node " + node_tag + " is still removing its old copy of '" + name + "'; retry shortly"),
            nullptr};
  }
  r->topology.promotables.push_back(node_tag);
  r->topology.stamp = ctx.index;
  ctx.batch.put_record(*r);
  ctx.databases_changed.push_back(r->name);
  return {Status::Ok(), json::object{{"Name", r->name}, {"Topology", r->topology.to_json()}}};
}

// --- UpdateDatabaseTopology ---

json::object UpdateDatabaseTopologyCommand::fields() const {
  return {{"Name", name}, {"ExpectedStamp", expected_stamp}, {"Topology", topology.to_json()}};
}

Result<std::unique_ptr<ClusterCommand>> UpdateDatabaseTopologyCommand::decode(const json::object& o) {
  auto c = std::make_unique<UpdateDatabaseTopologyCommand>();
  c->name = get_string(o, "Name");
  c->expected_stamp = get_u64(o, "ExpectedStamp");
  auto* t = o.if_contains("Topology");
  if (c->name.empty() || !t || !t->is_object()) return Status::InvalidArgument("needs Name and Topology");
  c->topology = DatabaseTopology::from_json(t->as_object());
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult UpdateDatabaseTopologyCommand::apply(ApplyContext& ctx) const {
  auto r = mutable_record(ctx, name);
  if (!r || !r->active()) return {Status::NotFound("Database '" + name + "' does not exist"), nullptr};
  if (r->topology.stamp != expected_stamp) {
    return {Status::ConcurrencyConflict("the group of '" + name + "' changed since it was read"), nullptr};
  }
  auto as_set = [](const DatabaseTopology& t) {
    auto v = t.all_nodes();
    return std::set<std::string>(v.begin(), v.end());
  };
  if (as_set(r->topology) != as_set(topology) || topology.all_nodes().size() != as_set(topology).size()) {
    return {Status::InvalidArgument("a topology update may only move nodes between roles"), nullptr};
  }
  const auto factor = r->topology.replication_factor;
  r->topology = topology;
  r->topology.replication_factor = factor;
  r->topology.stamp = ctx.index;
  ctx.batch.put_record(*r);
  ctx.databases_changed.push_back(r->name);
  return {};
}

void drop_node_from_databases(ApplyContext& ctx, const std::string& tag) {
  for (const auto& stored : ctx.state.records()) {
    DatabaseRecord r = *stored;
    if (!r.topology.contains(tag) && !r.deletion_in_progress.count(tag)) continue;
    const bool was_active = r.active();
    r.topology.remove(tag);
    r.deletion_in_progress.erase(tag);
    r.topology.stamp = ctx.index;
    if (was_active && !r.active()) ctx.batch.delete_database_data(r.name).ignore_error();
    remove_if_gone(ctx, r);
    ctx.databases_changed.push_back(r.name);
  }
}

}  // namespace corvus::rachis::cluster
