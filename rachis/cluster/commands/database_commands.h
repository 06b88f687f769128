#pragma once
// Commands on database records (RavenDB's AddDatabaseCommand,
// DeleteDatabaseCommand, RemoveNodeFromDatabaseCommand, AddDatabaseNode and
// the supervisor's topology updates). The proposer chooses nodes; apply only
// validates against the state as of its entry, so every node reaches the same
// record.

#include <vector>

#include "rachis/cluster/cluster_command.h"

namespace corvus::rachis::cluster {

// Creates a database on the chosen nodes. Refused with AlreadyExists when a
// record of that name exists (also while it is being deleted).
// Result: {"Name", "Topology"}.
struct AddDatabaseCommand final : ClusterCommand {
  static constexpr std::string_view kType = "AddDatabase";
  DatabaseRecord record;  // name and settings; topology.members = the chosen nodes

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 2; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Drops databases from some nodes (`from_nodes`) or from all (empty). Each
// dropped node is recorded in the record's deletion_in_progress until it
// confirms; dropped from all nodes, the database's cluster data
// (compare-exchange, identities, cluster-wide transactions) goes at once.
// NotFound when a name has no active record, InvalidArgument when one is
// locked with PreventDeletesError; nothing changes then. A database locked
// with PreventDeletesIgnore is skipped. Result: {"PendingDeletes", "Skipped"}.
struct DeleteDatabaseCommand final : ClusterCommand {
  static constexpr std::string_view kType = "DeleteDatabase";
  std::vector<std::string> names;
  bool hard_delete = true;
  std::vector<std::string> from_nodes;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 2; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Sets the lock mode of databases (RavenDB's SetDatabasesLock). NotFound when
// a name has no active record; nothing changes then.
struct SetDatabasesLockCommand final : ClusterCommand {
  static constexpr std::string_view kType = "SetDatabasesLock";
  std::vector<std::string> names;
  std::string mode;  // valid_lock_mode()

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 3; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// A node closed (and if asked deleted) its copy of a dropped database.
struct ConfirmDatabaseDeletionCommand final : ClusterCommand {
  static constexpr std::string_view kType = "ConfirmDatabaseDeletion";
  std::string name;
  std::string node_tag;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 2; }
  boost::json::object fields() const override { return {{"Name", name}, {"NodeTag", node_tag}}; }
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Adds a cluster node to a database group as a Promotable.
struct AddDatabaseNodeCommand final : ClusterCommand {
  static constexpr std::string_view kType = "AddDatabaseNode";
  std::string name;
  std::string node_tag;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 2; }
  boost::json::object fields() const override { return {{"Name", name}, {"NodeTag", node_tag}}; }
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Moves nodes between Members, Promotables and Rehabs (the supervisor). The
// set of nodes must stay the same; `expected_stamp` must be the group's
// current stamp (ConcurrencyConflict otherwise), so a decision taken on a
// stale view is refused rather than undo a newer change.
struct UpdateDatabaseTopologyCommand final : ClusterCommand {
  static constexpr std::string_view kType = "UpdateDatabaseTopology";
  std::string name;
  std::uint64_t expected_stamp = 0;
  DatabaseTopology topology;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 2; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Drops `tag` from every database group and deletion list (the node left the
// cluster); records left with nobody are removed. Used by the state machine
// when it applies a RemoveNode configuration change.
void drop_node_from_databases(ApplyContext& ctx, const std::string& tag);

}  // namespace corvus::rachis::cluster
