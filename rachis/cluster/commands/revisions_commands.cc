#include "rachis/cluster/commands/revisions_commands.h"

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

json::object EditRevisionsConfigurationCommand::fields() const {
  return {{"DatabaseName", name}, {"Configuration", configuration ? json::value(configuration->to_json()) : nullptr}};
}

Result<std::unique_ptr<ClusterCommand>> EditRevisionsConfigurationCommand::decode(const json::object& o) {
  auto c = std::make_unique<EditRevisionsConfigurationCommand>();
  c->name = get_string(o, "DatabaseName");
  if (c->name.empty()) return Status::InvalidArgument("needs DatabaseName");
  const json::value* conf = o.if_contains("Configuration");
  if (!conf) return Status::InvalidArgument("needs Configuration");
  auto parsed = storage::RevisionsConfiguration::from_json(*conf);
  if (!parsed.ok()) return parsed.status();
  c->configuration = std::make_shared<const storage::RevisionsConfiguration>(std::move(parsed).value());
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult EditRevisionsConfigurationCommand::apply(ApplyContext& ctx) const {
  auto stored = ctx.state.record(name);
  if (!stored || !stored->active()) return {Status::NotFound("Database '" + name + "' does not exist"), nullptr};
  DatabaseRecord r = *stored;
  r.revisions = configuration;
  ctx.batch.put_record(r);
  ctx.databases_changed.push_back(r.name);
  return {};
}

}  // namespace corvus::rachis::cluster
