#include "rachis/cluster/commands/identity_commands.h"

#include <algorithm>

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

json::object IncrementIdentitiesCommand::fields() const {
  json::object c;
  for (const auto& [prefix, n] : counts) c[prefix] = n;
  return {{"Database", database}, {"Counts", std::move(c)}};
}

Result<std::unique_ptr<ClusterCommand>> IncrementIdentitiesCommand::decode(const json::object& o) {
  auto c = std::make_unique<IncrementIdentitiesCommand>();
  c->database = get_string(o, "Database");
  if (auto* counts = o.if_contains("Counts"); counts && counts->is_object()) {
    for (const auto& kv : counts->as_object()) c->counts[std::string(kv.key())] = get_u64(counts->as_object(), kv.key());
  }
  if (c->database.empty() || c->counts.empty()) return Status::InvalidArgument("needs Database and Counts");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult IncrementIdentitiesCommand::apply(ApplyContext& ctx) const {
  auto record = ctx.state.record(database);
  if (!record || !record->active()) return {Status::NotFound("Database '" + database + "' does not exist"), nullptr};
  json::object out;
  for (const auto& [prefix, n] : counts) {
    auto current = ctx.state.identity(database, prefix);
    if (!current.ok()) return {current.status(), nullptr};
    const std::uint64_t next = *current + n;
    ctx.batch.put_identity(database, prefix, next);
    out[prefix] = next;
  }
  return {Status::Ok(), std::move(out)};
}

json::object SeedIdentityCommand::fields() const {
  return {{"Database", database}, {"Prefix", prefix}, {"Value", value}, {"Force", force}};
}

Result<std::unique_ptr<ClusterCommand>> SeedIdentityCommand::decode(const json::object& o) {
  auto c = std::make_unique<SeedIdentityCommand>();
  c->database = get_string(o, "Database");
  c->prefix = get_string(o, "Prefix");
  c->value = get_u64(o, "Value");
  const auto* force = o.if_contains("Force");
  c->force = force && force->is_bool() && force->as_bool();
  if (c->database.empty() || c->prefix.empty()) return Status::InvalidArgument("needs Database and Prefix");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult SeedIdentityCommand::apply(ApplyContext& ctx) const {
  auto record = ctx.state.record(database);
  if (!record || !record->active()) return {Status::NotFound("Database '" + database + "' does not exist"), nullptr};
  auto current = ctx.state.identity(database, prefix);
  if (!current.ok()) return {current.status(), nullptr};
  const std::uint64_t now = force ? value : std::max(*current, value);
  if (now != *current) ctx.batch.put_identity(database, prefix, now);
  return {Status::Ok(), json::object{{prefix, now}}};
}

}  // namespace corvus::rachis::cluster
