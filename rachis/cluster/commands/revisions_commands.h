#pragma once
// Commands on a database's revisions configuration (RavenDB's
// EditRevisionsConfigurationCommand, sent by ConfigureRevisionsOperation).
// The proposer validates the configuration; apply replaces the record's
// "Revisions" and names the database as changed, so every node hands the new
// configuration to its copy (server/cluster/databases_observer.cc).

#include <memory>
#include <string>

#include "rachis/cluster/cluster_command.h"
#include "storage/revisions_configuration.h"

namespace corvus::rachis::cluster {

// Sets the revisions configuration of database `name`. NotFound when it has
// no active record; nothing changes then. Result: null.
struct EditRevisionsConfigurationCommand final : ClusterCommand {
  static constexpr std::string_view kType = "EditRevisionsConfiguration";
  std::string name;
  std::shared_ptr<const storage::RevisionsConfiguration> configuration;  // never null once built

  std::string_view type() const override { return kType; }
  // Introduced with format version 3: a node that runs 2 cannot apply it.
  std::uint32_t version() const override { return 3; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
