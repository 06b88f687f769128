#pragma once
// DatabaseRecord: what the cluster knows of one database: its name, its
// database group (which nodes host it, in which role) and the settings a user
// gave at creation (kept verbatim for the features that will read them:
// revisions, conflict solver, pull and external replication, indexes).
// A plain value type; the cluster state machine owns the durable copy.

#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "rachis/cluster/conflict_solver_config.h"
#include "rachis/cluster/external_replication_config.h"
#include "rachis/cluster/pull_replication_config.h"
#include "storage/revisions_configuration.h"

namespace corvus::rachis::cluster {

// RavenDB's database group: Members serve reads and writes; a Promotable was
// added and is catching up; a Rehab is a member that stopped answering (moved
// there by the leader's supervisor) and returns once healthy.
struct DatabaseTopology {
  std::vector<std::string> members;
  std::vector<std::string> promotables;
  std::vector<std::string> rehabs;
  std::uint32_t replication_factor = 1;
  // Raft index of the last change of the group: the clients' topology Etag.
  std::uint64_t stamp = 0;

  bool contains(const std::string& tag) const;
  // Every node of the group, members first (the clients' preference order).
  std::vector<std::string> all_nodes() const;
  void remove(const std::string& tag);
  boost::json::object to_json() const;
  static DatabaseTopology from_json(const boost::json::object& o);
};

// True for the lock modes RavenDB knows.
bool valid_lock_mode(std::string_view mode);

struct DatabaseRecord {
  std::string name;               // as the user spelled it
  boost::json::object settings;   // the rest of the record as given (Settings, Disabled, ...)
  DatabaseTopology topology;
  std::uint64_t created_index = 0;  // Raft index of the AddDatabase command
  // Names this database's cluster-wide transactions in change vectors
  // ("TRXN:<raft index>-<id>"); chosen by the proposer of AddDatabase.
  std::string cluster_transaction_id;
  // Nodes that were dropped from the group and have not yet confirmed that
  // they closed (and, when `true`, deleted) their copy. A node that is down
  // during the delete finds itself here when it comes back. The record goes
  // away once the group and this map are both empty.
  std::map<std::string, bool> deletion_in_progress;  // tag -> hard delete
  // RavenDB's DatabaseLockMode: "Unlock", "PreventDeletesIgnore" (a delete
  // skips the database) or "PreventDeletesError" (a delete is refused).
  std::string lock_mode = "Unlock";
  // RavenDB's "Revisions": set at creation or by ConfigureRevisions; nullptr
  // when never configured. Shared and immutable, so the databases' storage
  // holds the same object (server/cluster/databases_observer.cc).
  std::shared_ptr<const storage::RevisionsConfiguration> revisions;
  // RavenDB's "ConflictSolverConfig": set at creation or by
  // ModifyConflictSolver; nullptr when never configured (conflicts then
  // resolve to latest, conflict_policy_of).
  std::shared_ptr<const ConflictSolverConfig> conflict_solver;
  // RavenDB's "HubPullReplications": the pull replication hubs this database
  // serves (pull_replication_config.h), in creation order.
  std::vector<HubDefinition> hub_pull_replications;
  // The certificates allowed to use those hubs ("ReplicationHubAccess", by
  // hub then thumbprint). RavenDB keeps them beside the record; Corvus in it,
  // so one command changes a hub and its accesses together.
  std::vector<HubAccess> hub_accesses;
  // RavenDB's "RavenConnectionStrings" (by name) and "SinkPullReplications".
  std::map<std::string, RavenConnectionString> raven_connection_strings;
  std::vector<SinkDefinition> sink_pull_replications;
  // RavenDB's "ExternalReplications": one-way pushes to other clusters'
  // databases (external_replication_config.h), in creation order.
  std::vector<ExternalReplicationDefinition> external_replications;
  // Corvus's "HubSinkDatabaseIds": the database ids of every sink that ever
  // pulled from a hub of this database (RegisterHubSink). Each hub node keeps
  // its tombstones until every one of them has acknowledged them there, so
  // a sink failing over to a node it never pulled from still gets deletions.
  std::set<std::string> hub_sink_database_ids;

  // The hub named `name` (case-insensitive), or the one with `task_id`; nullptr when none.
  const HubDefinition* hub(std::string_view name) const;
  const HubDefinition* hub_by_task_id(std::uint64_t task_id) const;

  // The cluster still serves the database (some node is in its group).
  bool active() const { return !topology.all_nodes().empty(); }

  // The record in RavenDB's shape. The stored form keeps every secret (a
  // sink's certificate and private key); what GET /admin/databases?name=
  // answers (`with_secrets` false) leaves them out: a database admin may read
  // the record but must not walk away with the sink's identity.
  boost::json::object to_json(bool with_secrets = true) const;
  static bool from_json(const boost::json::object& o, DatabaseRecord* out);
};

}  // namespace corvus::rachis::cluster
