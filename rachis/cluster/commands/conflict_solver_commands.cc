#include "rachis/cluster/commands/conflict_solver_commands.h"

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

json::object ModifyConflictSolverCommand::fields() const {
  return {{"DatabaseName", name}, {"Solver", solver ? json::value(solver->to_json()) : nullptr}};
}

Result<std::unique_ptr<ClusterCommand>> ModifyConflictSolverCommand::decode(const json::object& o) {
  auto c = std::make_unique<ModifyConflictSolverCommand>();
  c->name = get_string(o, "DatabaseName");
  if (c->name.empty()) return Status::InvalidArgument("needs DatabaseName");
  const json::value* solver = o.if_contains("Solver");
  if (!solver) return Status::InvalidArgument("needs Solver");
  auto parsed = ConflictSolverConfig::from_json(*solver);
  if (!parsed.ok()) return parsed.status();
  c->solver = std::make_shared<const ConflictSolverConfig>(std::move(parsed).value());
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult ModifyConflictSolverCommand::apply(ApplyContext& ctx) const {
  auto stored = ctx.state.record(name);
  if (!stored || !stored->active()) return {Status::NotFound("Database '" + name + "' does not exist"), nullptr};
  DatabaseRecord r = *stored;
  r.conflict_solver = solver;
  ctx.batch.put_record(r);
  ctx.databases_changed.push_back(r.name);
  return {Status::Ok(), solver->to_json()};
}

}  // namespace corvus::rachis::cluster
