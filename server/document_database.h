#pragma once
// DocumentDatabase: one open database of this node: its storage, its
// replication with the other nodes of its group, and how far the cluster-wide
// transactions of the database have been applied to it (requests wait on that). Its record lives in the cluster state. Owned by
// DatabasesLandlord through shared_ptr so requests in flight keep it alive
// while it is being closed. Thread-safe.

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "query/index_store.h"
#include "replication/database_replication.h"

#include "server/changes/changes_feed.h"
#include "server/cluster/index_waiters.h"
#include "server/operations/database_operations.h"
#include "server/conflict_script_resolver.h"
#include "server/external_replication/external_replication_set.h"
#include "server/logging/logger.h"
#include "server/pull_replication/sink_set.h"
#include "storage/documents_storage.h"

namespace corvus::server {

class DocumentDatabase {
 public:
  DocumentDatabase(std::string name, std::unique_ptr<storage::DocumentsStorage> storage,
                   std::unique_ptr<query::IndexStore> indexes)
      : name_(std::move(name)), storage_(std::move(storage)), indexes_(std::move(indexes)) {}
  // A write's completion may hold the last reference (the database was closed
  // or deleted meanwhile); closing the storage joins the very thread that
  // completion runs on, so then the storage is closed on a thread of its own.
  // Replication and indexing go first: their threads read this storage.
  ~DocumentDatabase() {
    if (storage_ && storage_->on_own_writer_thread()) {
      // (A conflict-script pass may be waiting for this very thread to write.)
      std::thread([cs = std::move(conflict_scripts_), c = std::move(changes_), r = std::move(replication_),
                   i = std::move(indexes_), s = std::move(storage_)]() mutable {
        if (cs) cs->stop();
        if (c) c->stop();
        r.reset();
        i.reset();
        s.reset();
      }).detach();
      return;
    }
    if (conflict_scripts_) conflict_scripts_->stop();
    stop_changes();
    stop_replication();
    indexes_.reset();
  }
  DocumentDatabase(const DocumentDatabase&) = delete;
  DocumentDatabase& operator=(const DocumentDatabase&) = delete;

  const std::string& name() const { return name_; }
  // Raft index of the last cluster-wide transaction applied to this database.
  cluster::IndexWaiters& cluster_transactions() { return cluster_transactions_; }
  storage::DocumentsStorage& storage() { return *storage_; }
  // Its automatic indexes (queries).
  query::IndexStore& indexes() { return *indexes_; }
  // Its long-running operations (bulk inserts), as the clients follow them.
  DatabaseOperations& operations() { return operations_; }
  const storage::DocumentsStorage& storage() const { return *storage_; }

  // The record's conflict solver: its per-collection scripts resolve this
  // database's conflicts (ConflictScriptResolver, started with the first
  // solver that has scripts).
  void set_conflict_solver(std::shared_ptr<const rachis::cluster::ConflictSolverConfig> config) {
    std::lock_guard lock(conflict_scripts_mu_);
    if (!conflict_scripts_) {
      if (!config || !config->has_scripts()) return;
      conflict_scripts_ = ConflictScriptResolver::start(*storage_);
    }
    conflict_scripts_->set_config(std::move(config));
  }

  // Starts replication (once; the DatabasesObserver does when it opens the
  // database) and tells it the other nodes of the group.
  void replicate_to(const replication::ReplicationIdentity& identity,
                    const std::vector<replication::ReplicationPeer>& peers) {
    std::lock_guard lock(replication_mu_);
    if (!replication_) {
      replication_ = std::make_shared<replication::DatabaseReplication>(
          *storage_, identity, [s = storage_.get()] { return s->conflict_policy(); });
      sinks_ = std::make_unique<pull_replication::SinkSet>(*storage_, identity);
      externals_ = std::make_unique<external_replication::ExternalReplicationSet>(*storage_, identity);
    }
    replication_->set_destinations(peers);
  }
  // The pull replication sinks this node runs for the database (the
  // DatabasesObserver, after replicate_to; an empty list stops them).
  void run_sinks(const std::vector<pull_replication::SinkSpec>& sinks) {
    std::lock_guard lock(replication_mu_);
    if (sinks_) sinks_->set(replication_, sinks);
  }
  // The external replication tasks this node runs for the database (the
  // DatabasesObserver, after replicate_to; an empty list stops them).
  // `existing`: every task id of the record (the stored positions of the
  // others are forgotten).
  void run_external_replications(const std::vector<external_replication::ExternalSpec>& tasks,
                                 const std::set<std::uint64_t>& existing) {
    std::lock_guard lock(replication_mu_);
    if (!externals_) return;
    externals_->set(replication_, tasks);
    if (Status s = externals_->forget_deleted(existing); !s.ok()) {
      log::warn("cannot forget deleted external replication positions").kv("database", name_).kv("error", s.to_string());
    }
  }
  std::optional<external_replication::ExternalState> external_replication_state(std::uint64_t task_id) {
    std::lock_guard lock(replication_mu_);
    return externals_ ? externals_->state(task_id) : std::nullopt;
  }
  std::optional<pull_replication::SinkState> sink_state(std::uint64_t task_id) {
    std::lock_guard lock(replication_mu_);
    return sinks_ ? sinks_->state(task_id) : std::nullopt;
  }
  // nullptr while replication is not running.
  std::shared_ptr<replication::DatabaseReplication> replication() const {
    std::lock_guard lock(replication_mu_);
    return replication_;
  }
  // The Changes API's reader of this database (started by its first client).
  std::shared_ptr<changes::ChangesFeed> changes() {
    std::lock_guard lock(changes_mu_);
    if (!changes_) {
      changes_ = std::make_shared<changes::ChangesFeed>(*storage_);
      operations_.set_listener([weak = std::weak_ptr<changes::ChangesFeed>(changes_)](
                                   uint64_t id, const boost::json::object& state) {
        if (auto feed = weak.lock()) feed->publish_operation(id, state);
      });
      indexes_->set_listener([weak = std::weak_ptr<changes::ChangesFeed>(changes_)](const std::string& name,
                                                                                   const char* type) {
        if (auto feed = weak.lock()) feed->publish_now(changes::index_event(name, type));
      });
    }
    return changes_;
  }
  // The feed if a client started it, else nullptr (nobody to tell).
  std::shared_ptr<changes::ChangesFeed> changes_if_started() {
    std::lock_guard lock(changes_mu_);
    return changes_;
  }
  // Closes every Changes API connection of the database (it is closing).
  void stop_changes() {
    std::shared_ptr<changes::ChangesFeed> c;
    {
      std::lock_guard lock(changes_mu_);
      c = changes_;
    }
    if (c) c->stop();
  }
  // Closes every replication connection (before the database closes).
  void stop_replication() {
    std::shared_ptr<replication::DatabaseReplication> r;
    std::unique_ptr<pull_replication::SinkSet> sinks;
    std::unique_ptr<external_replication::ExternalReplicationSet> externals;
    {
      std::lock_guard lock(replication_mu_);
      r = std::move(replication_);
      sinks = std::move(sinks_);
      externals = std::move(externals_);
    }
    if (sinks) sinks->stop();
    if (externals) externals->stop();
    if (r) r->stop();
  }

 private:
  std::string name_;
  cluster::IndexWaiters cluster_transactions_;
  DatabaseOperations operations_;
  std::unique_ptr<storage::DocumentsStorage> storage_;
  std::unique_ptr<query::IndexStore> indexes_;  // after storage_: destroyed first
  mutable std::mutex replication_mu_;
  std::shared_ptr<replication::DatabaseReplication> replication_;
  std::unique_ptr<pull_replication::SinkSet> sinks_;  // with replication_
  std::unique_ptr<external_replication::ExternalReplicationSet> externals_;  // with replication_
  std::mutex changes_mu_;
  std::shared_ptr<changes::ChangesFeed> changes_;  // stopped (not just released) before the storage closes
  std::mutex conflict_scripts_mu_;
  std::shared_ptr<ConflictScriptResolver> conflict_scripts_;  // stopped before the storage closes
};

}  // namespace corvus::server
