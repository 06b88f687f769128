#pragma once
// Commands on a database's pull replication hubs and the certificates allowed
// to use them (RavenDB's UpdatePullReplicationAsHubCommand,
// RegisterReplicationHubAccessCommand, UnregisterReplicationHubAccessCommand,
// and DeleteOngoingTaskCommand for a hub). The proposer
// (server/handlers/pull_replication_handler.cc) validates the definition and
// parses the certificate; apply only checks names against the record and
// writes it, and names the database as changed so every node's replication
// sees the new hubs (server/cluster/databases_observer.cc).

#include <cstdint>
#include <memory>
#include <string>

#include "rachis/cluster/cluster_command.h"
#include "rachis/cluster/pull_replication_config.h"

namespace corvus::rachis::cluster {

// Creates a hub (definition.task_id == 0: its task id becomes the entry's
// index) or replaces the one with that task id. InvalidArgument when another
// hub of the database has the name; NotFound when the database has no active
// record or no hub has the task id. Result: {"TaskId"}.
struct PutPullReplicationHubCommand final : ClusterCommand {
  static constexpr std::string_view kType = "PutPullReplicationHub";
  std::string database;
  HubDefinition definition;

  std::string_view type() const override { return kType; }
  // Introduced with format version 7: a node that runs 6 cannot apply it.
  std::uint32_t version() const override { return 7; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Deletes the hub with `task_id` and every access registered for it (their
// certificates lose the hub with it). NotFound when there is none. Result: null.
struct DeletePullReplicationHubCommand final : ClusterCommand {
  static constexpr std::string_view kType = "DeletePullReplicationHub";
  std::string database;
  std::uint64_t task_id = 0;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 7; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Registers (or replaces, same hub and thumbprint) a certificate allowed to
// use hub access.hub_name. NotFound when there is no such hub;
// InvalidArgument when the hub filters and the access allows no path in a
// direction the hub replicates. Result: null.
struct PutReplicationHubAccessCommand final : ClusterCommand {
  static constexpr std::string_view kType = "PutReplicationHubAccess";
  std::string database;
  HubAccess access;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 7; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Removes the access of `thumbprint` to hub `hub_name`; nothing to remove is
// not an error (as RavenDB answers). NotFound only for the database. Result: null.
struct DeleteReplicationHubAccessCommand final : ClusterCommand {
  static constexpr std::string_view kType = "DeleteReplicationHubAccess";
  std::string database;
  std::string hub_name;
  std::string thumbprint;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 7; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Adds or replaces (by name) a Raven connection string of the database.
// NotFound for the database only. Result: null.
struct PutRavenConnectionStringCommand final : ClusterCommand {
  static constexpr std::string_view kType = "PutRavenConnectionString";
  std::string database;
  RavenConnectionString connection_string;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 7; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// A sink (its database id) pulled from a hub of `database` for the first time:
// every hub node now holds its tombstones for it (DatabaseRecord::
// hub_sink_database_ids). Idempotent.
struct RegisterHubSinkCommand final : ClusterCommand {
  static constexpr std::string_view kType = "RegisterHubSink";
  std::string database;
  std::string sink_database_id;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 10; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Creates a sink (definition.task_id == 0: its task id becomes the entry's
// index) or replaces the one with that task id. InvalidArgument when its
// connection string does not exist or another sink has the name; NotFound
// when the database or the task id is unknown. Result: {"TaskId"}.
struct PutPullReplicationSinkCommand final : ClusterCommand {
  static constexpr std::string_view kType = "PutPullReplicationSink";
  std::string database;
  SinkDefinition definition;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 7; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Deletes the sink with `task_id`. NotFound when there is none. Result: null.
struct DeletePullReplicationSinkCommand final : ClusterCommand {
  static constexpr std::string_view kType = "DeletePullReplicationSink";
  std::string database;
  std::uint64_t task_id = 0;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 7; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
