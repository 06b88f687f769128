#pragma once
// Commands on a database's conflict solver (RavenDB's
// ModifyConflictSolverCommand, sent by ModifyConflictSolverOperation through
// POST /admin/replication/conflicts/solver). The proposer validates the
// solver; apply replaces the record's "ConflictSolverConfig" and names the
// database as changed, so every node hands the conflict policy it implies to
// its copy (server/cluster/databases_observer.cc).

#include <memory>
#include <string>

#include "rachis/cluster/cluster_command.h"
#include "rachis/cluster/conflict_solver_config.h"

namespace corvus::rachis::cluster {

// Sets the conflict solver of database `name`. NotFound when it has no active
// record; nothing changes then. Result: the solver as stored (its JSON).
struct ModifyConflictSolverCommand final : ClusterCommand {
  static constexpr std::string_view kType = "ModifyConflictSolver";
  std::string name;
  std::shared_ptr<const ConflictSolverConfig> solver;  // never null once built

  std::string_view type() const override { return kType; }
  // Introduced with format version 4: a node that runs 3 cannot apply it.
  std::uint32_t version() const override { return 4; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
