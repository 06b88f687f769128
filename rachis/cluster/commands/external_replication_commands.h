#pragma once
// Commands on a database's external replication tasks and on the connection
// strings they name (RavenDB's UpdateExternalReplicationCommand, the
// external-replication case of DeleteOngoingTaskCommand and
// ToggleTaskStateCommand, and RemoveRavenConnectionStringCommand). The
// proposer (server/handlers/external_replication_handler.cc) validates the
// body; apply checks names against the record, writes it and names the
// database as changed so the node that runs the task (re)starts or stops it
// (server/cluster/databases_observer.cc). Introduced with command version 9.

#include <cstdint>
#include <memory>
#include <string>

#include "rachis/cluster/cluster_command.h"
#include "rachis/cluster/external_replication_config.h"

namespace corvus::rachis::cluster {

// Creates a task (definition.task_id == 0: its task id becomes the entry's
// index) or replaces the one with that task id. InvalidArgument when its
// connection string does not exist or another task has the name; NotFound
// when the database or the task id is unknown. Result: {"TaskId"}.
struct PutExternalReplicationCommand final : ClusterCommand {
  static constexpr std::string_view kType = "PutExternalReplication";
  std::string database;
  ExternalReplicationDefinition definition;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 9; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Deletes the task with `task_id`. NotFound when there is none. Result: null.
struct DeleteExternalReplicationCommand final : ClusterCommand {
  static constexpr std::string_view kType = "DeleteExternalReplication";
  std::string database;
  std::uint64_t task_id = 0;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 9; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Enables or disables the task with `task_id` (POST .../admin/tasks/state).
// NotFound when there is none. Result: null.
struct ToggleExternalReplicationCommand final : ClusterCommand {
  static constexpr std::string_view kType = "ToggleExternalReplication";
  std::string database;
  std::uint64_t task_id = 0;
  bool disabled = false;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 9; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Removes Raven connection string `name`. NotFound when there is none;
// InvalidArgument (a 400 naming the task) while an external replication or a
// pull replication sink uses it. Result: null.
struct RemoveRavenConnectionStringCommand final : ClusterCommand {
  static constexpr std::string_view kType = "RemoveRavenConnectionString";
  std::string database;
  std::string name;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 9; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
