#include "server/cluster/databases_observer.h"

#include <set>

#include <boost/json.hpp>

#include "failpoints/failpoints.h"
#include "rachis/cluster/commands/cluster_transaction_command.h"
#include "rachis/cluster/commands/database_commands.h"
#include "server/external_replication/external_replication_set.h"
#include "server/logging/logger.h"
#include "storage/document.h"

namespace corvus::server::cluster {
namespace json = boost::json;

namespace {

constexpr std::size_t kTransactionsPerBatch = 256;
constexpr auto kRetryEvery = std::chrono::seconds(2);

}  // namespace

DatabasesObserver::DatabasesObserver(ClusterManager& cluster, DatabasesLandlord& landlord,
                                     std::shared_ptr<SSL_CTX> node_tls)
    : cluster_(cluster), landlord_(landlord), node_tls_(std::move(node_tls)) {}

void DatabasesObserver::start() {
  cluster_.feed().subscribe([this](const rachis::cluster::AppliedCommand& c) { on_applied(c); });
  reconcile();
  retry_ = std::thread([this] { retry_loop(); });
}

void DatabasesObserver::stop() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (retry_.joinable()) retry_.join();
}

void DatabasesObserver::retry_loop() {
  std::unique_lock lock(stop_mu_);
  while (!stop_cv_.wait_for(lock, kRetryEvery, [&] { return stopping_; })) {
    lock.unlock();
    reconcile();
    lock.lock();
  }
}

void DatabasesObserver::on_applied(const rachis::cluster::AppliedCommand& c) {
  if (c.databases.empty() && !c.topology_changed && c.type != "Snapshot") return;
  if (c.type == rachis::cluster::ClusterTransactionCommand::kType) {
    // The common case on a busy cluster: only these databases have new
    // transactions; no record changed, so no need to look at the others.
    std::lock_guard lock(mu_);
    for (const auto& name : c.databases) {
      if (auto db = landlord_.get(name)) apply_cluster_transactions(db);
    }
    return;
  }
  reconcile();
}

void DatabasesObserver::reconcile() {
  std::lock_guard lock(mu_);
  const std::string tag = cluster_.node_tag("");
  if (tag.empty()) return;  // not in a topology yet (joining)
  std::set<std::string> wanted;
  for (const auto& stored : cluster_.state().records()) {
    const rachis::cluster::DatabaseRecord& r = *stored;
    const std::string key = storage::lower_id(r.name);
    if (r.topology.contains(tag)) {
      wanted.insert(key);
      auto db = landlord_.open(r.name, tag);
      if (!db.ok()) {
        log::error("cannot open database").kv("database", r.name).kv("error", db.status().to_string());
        continue;
      }
      // The record's revisions configuration is what the writes read (the
      // same immutable object; swapping it is one atomic store).
      if (db.value()->storage().revisions_configuration() != r.revisions) {
        db.value()->storage().set_revisions_configuration(r.revisions);
      }
      // Likewise the conflict policy that replication applies to this copy.
      db.value()->storage().set_conflict_policy(rachis::cluster::conflict_policy_of(r.conflict_solver.get()));
      db.value()->set_conflict_solver(r.conflict_solver);
      apply_cluster_transactions(db.value());
      replicate(*db.value(), r, tag);
      continue;
    }
    auto deleting = r.deletion_in_progress.find(tag);
    if (deleting == r.deletion_in_progress.end()) continue;
    wanted.insert(key);  // handled here, not as a stray below
    if (Status s = landlord_.close(r.name, deleting->second); !s.ok()) {
      log::warn("cannot remove database yet").kv("database", r.name).kv("error", s.to_string());
      continue;
    }
    {
      std::lock_guard confirming(confirming_mu_);
      if (!confirming_.insert(key).second) continue;
    }
    rachis::cluster::ConfirmDatabaseDeletionCommand confirm;
    confirm.name = r.name;
    confirm.node_tag = tag;
    log::info("database removed from this node").kv("database", r.name).kv("hard_delete", deleting->second);
    cluster_.execute(confirm, [this, key](rachis::cluster::CommandResult result, rachis::core::Index) {
      // Applied or not, let the next reconcile decide (it re-proposes if the
      // record still lists this node).
      if (!result.status.ok()) log::warn("deletion not confirmed yet").kv("error", result.status.to_string());
      std::lock_guard confirming(confirming_mu_);
      confirming_.erase(key);
    });
  }
  for (const auto& db : landlord_.all()) {
    if (wanted.count(storage::lower_id(db->name()))) continue;
    // No record names this node any more (it left the cluster, or the record
    // is gone): stop serving it, keep its files.
    if (Status s = landlord_.close(db->name(), false); !s.ok()) {
      log::warn("cannot close database yet").kv("database", db->name()).kv("error", s.to_string());
    }
  }
}

void DatabasesObserver::replicate(DocumentDatabase& db, const rachis::cluster::DatabaseRecord& r,
                                  const std::string& self) {
  const auto topology = cluster_.node().state().topology();
  std::vector<replication::ReplicationPeer> peers;
  for (const auto& tag : r.topology.all_nodes()) {
    if (tag == self) continue;
    auto node = topology.nodes.find(tag);
    if (node != topology.nodes.end()) peers.push_back({tag, node->second.address});
  }
  replication::ReplicationIdentity identity;
  identity.cluster_id = cluster_.topology_id();
  identity.node_tag = self;
  identity.database = r.name;
  identity.log = [](const char* level, const std::string& message) {
    if (std::string(level) == "warn") {
      log::warn("replication").kv("message", message);
    } else {
      log::info("replication").kv("message", message);
    }
  };
  identity.dial_peer = [&cluster = cluster_](const std::string& address) { return cluster.dial_replication(address); };
  db.replicate_to(identity, peers);
  if (auto replication = db.replication()) {
    std::set<std::string> required;
    for (const auto& id : r.hub_sink_database_ids) required.insert(std::string(replication::kSinkKeyPrefix) + id);
    for (const auto& t : r.external_replications)
      required.insert(external_replication::ExternalReplicationSet::key_of(t.task_id));
    replication->set_required_positions(std::move(required));
  }
  // One node of the group runs the database's pull replication sinks: the
  // first member (the clients' preferred node), so a sink never runs twice.
  std::vector<pull_replication::SinkSpec> sinks;
  if (!r.topology.members.empty() && r.topology.members.front() == self) {
    for (const auto& d : r.sink_pull_replications) {
      auto cs = r.raven_connection_strings.find(d.connection_string_name);
      if (d.disabled || cs == r.raven_connection_strings.end()) continue;
      auto me = topology.nodes.find(self);
      sinks.push_back({d, cs->second, me == topology.nodes.end() ? std::string() : me->second.url});
    }
  }
  db.run_sinks(sinks);
  // Each enabled external replication runs on one member (its mentor, else a
  // stable choice among the members: external_replication_config.h).
  std::vector<external_replication::ExternalSpec> externals;
  std::set<std::uint64_t> existing;
  for (const auto& d : r.external_replications) {
    existing.insert(d.task_id);
    auto cs = r.raven_connection_strings.find(d.connection_string_name);
    if (d.disabled || cs == r.raven_connection_strings.end()) continue;
    if (rachis::cluster::external_replication_responsible_node(r.topology.members, d) != self) continue;
    auto me = topology.nodes.find(self);
    externals.push_back({d, cs->second, me == topology.nodes.end() ? std::string() : me->second.url, node_tls_});
  }
  db.run_external_replications(externals, existing);
}

void DatabasesObserver::apply_cluster_transactions(const std::shared_ptr<DocumentDatabase>& db) {
  for (;;) {
    auto last = db->storage().last_cluster_transaction_index();
    if (!last.ok()) {
      log::error("cannot read the cluster transaction position").kv("database", db->name()).kv("error", last.status().to_string());
      return;
    }
    db->cluster_transactions().advance(*last);
    auto pending = cluster_.state().cluster_transactions(db->name(), *last, kTransactionsPerBatch);
    if (!pending.ok()) {
      log::error("cannot read cluster transactions").kv("database", db->name()).kv("error", pending.status().to_string());
      return;
    }
    if (pending->empty()) return;
    auto txs = std::make_shared<std::vector<rachis::cluster::ClusterTransactionRecord>>(std::move(pending).value());
    CORVUS_FAILPOINT("cluster-tx.before-documents-applied");
    // Every member applies the same documents with the same change vector and
    // time, in Raft order; the position moves in the same batch, so each
    // transaction is applied exactly once, also across a crash.
    Status s = db->storage().write([txs](storage::WriteTransaction& txn) -> Status {
      for (const auto& tx : *txs) {
        boost::system::error_code ec;
        auto v = json::parse(tx.commands_json, ec);
        if (ec || !v.is_object()) return Status::Corruption("cluster transaction " + std::to_string(tx.index) + " is not JSON");
        const auto& o = v.as_object();
        storage::ExternalVersion version;
        if (auto* cv = o.if_contains("ChangeVector"); cv && cv->is_string()) version.change_vector = std::string(cv->as_string());
        if (auto* lm = o.if_contains("LastModified"); lm && lm->is_int64()) version.last_modified_us = lm->as_int64();
        auto* commands = o.if_contains("Commands");
        if (!commands || !commands->is_array()) return Status::Corruption("cluster transaction without commands");
        for (const auto& c : commands->as_array()) {
          const auto& co = c.as_object();
          const std::string id(co.at("Id").as_string());
          if (co.at("Type").as_string() == "PUT") {
            auto r = txn.put(id, co.at("Document").as_object(), std::nullopt, &version);
            if (!r.ok()) return r.status();
          } else {
            auto r = txn.remove(id, std::nullopt, &version);
            if (!r.ok()) return r.status();
          }
        }
        txn.set_last_cluster_transaction_index(tx.index);
      }
      return Status::Ok();
    });
    if (!s.ok()) {
      log::error("cannot apply cluster transactions").kv("database", db->name()).kv("error", s.to_string());
      return;
    }
    db->cluster_transactions().advance(txs->back().index);
  }
}

}  // namespace corvus::server::cluster
