#include "server/external_replication/external_replication_set.h"

#include <cstdlib>

#include <boost/json.hpp>

#include "server/external_replication/delay_window.h"
#include "storage/replication_items.h"
#include "storage/write_transaction.h"

namespace corvus::server::external_replication {
namespace json = boost::json;

ExternalReplicationSet::ExternalReplicationSet(storage::DocumentsStorage& storage,
                                               replication::ReplicationIdentity identity)
    : storage_(storage), identity_(std::move(identity)) {}

ExternalReplicationSet::~ExternalReplicationSet() { stop(); }

std::string ExternalReplicationSet::key_of(std::uint64_t task_id) {
  return std::string(replication::kExternalKeyPrefix) + std::to_string(task_id);
}

void ExternalReplicationSet::set(const std::shared_ptr<replication::DatabaseReplication>& replication,
                                 const std::vector<ExternalSpec>& tasks) {
  std::lock_guard lock(mu_);
  std::map<std::uint64_t, std::string> wanted;
  for (const auto& t : tasks) {
    wanted[t.definition.task_id] =
        json::serialize(json::array{t.definition.to_json(), t.connection_string.to_json(), t.own_url}) +
        std::to_string(reinterpret_cast<std::uintptr_t>(t.tls.get()));
  }
  for (auto it = running_.begin(); it != running_.end();) {
    auto w = wanted.find(it->first);
    if (w == wanted.end() || w->second != it->second.fingerprint || it->second.replication != replication) {
      it->second.replication->remove_external_outgoing(key_of(it->first));
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
  if (!replication) return;
  for (const auto& t : tasks) {
    const auto& d = t.definition;
    if (running_.count(d.task_id)) continue;
    pull_replication::HubTarget target;
    target.urls = t.connection_string.urls;
    target.database = t.connection_string.database;
    target.server_key_hash = t.connection_string.server_key_hash;
    target.hub = identity_.database;
    target.tls = t.tls;
    auto connector = std::make_shared<pull_replication::HubConnector>(std::move(target), identity_.database,
                                                                      storage_.database_id(), t.own_url);
    pull_replication::TcpNegotiation negotiation;
    negotiation.operation = kExternalReplicationOperation;
    negotiation.version = kExternalReplicationVersion;
    negotiation.hello = json::object{{"SourceDatabaseId", storage_.database_id()},
                                     {"SourceDatabase", identity_.database},
                                     {"SourceUrl", t.own_url},
                                     {"TaskName", d.name}};
    negotiation.what = "external replication '" + d.name + "' to database '" + t.connection_string.database + "'";
    replication::OutgoingOptions options;
    options.dial = [connector, negotiation] { return connector->connect(negotiation); };
    if (d.delay.count() > 0) {
      options.send_limit = [window = std::make_shared<DelayWindow>(d.delay), storage = &storage_] {
        return window->limit(DelayWindow::Clock::now(), storage->published().last_etag);
      };
    }
    options.labels = {{"ExternalReplication", d.name}, {"DestinationDatabase", t.connection_string.database}};
    replication->add_external_outgoing(key_of(d.task_id), "external replication '" + d.name + "'", std::move(options));
    if (identity_.log) {
      identity_.log("info", "external replication '" + d.name + "' started: pushing to database '" +
                                t.connection_string.database + "'");
    }
    running_[d.task_id] = Running{wanted[d.task_id], std::move(connector), replication};
  }
}

std::optional<ExternalState> ExternalReplicationSet::state(std::uint64_t task_id) {
  std::shared_ptr<replication::DatabaseReplication> replication;
  std::shared_ptr<pull_replication::HubConnector> connector;
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(task_id);
    if (it == running_.end()) return std::nullopt;
    replication = it->second.replication;
    connector = it->second.connector;
  }
  ExternalState s;
  s.destination_url = connector->last_url();
  const std::string key = key_of(task_id);
  for (const auto& e : replication->externals()) {
    if (e.key != key) continue;
    s.connected = e.connected;
    s.last_error = e.last_error;
  }
  return s;
}

Status ExternalReplicationSet::forget_deleted(const std::set<std::uint64_t>& existing) {
  auto stored = storage::acknowledged_positions(storage_);
  if (!stored.ok()) return stored.status();
  std::vector<std::string> stale;
  const std::string prefix(replication::kExternalKeyPrefix);
  for (const auto& [key, etag] : *stored) {
    if (key.rfind(prefix, 0) != 0) continue;
    const std::uint64_t task_id = std::strtoull(key.c_str() + prefix.size(), nullptr, 10);
    if (!existing.count(task_id)) stale.push_back(key);
  }
  if (stale.empty()) return Status::Ok();
  return storage_.write([&](storage::WriteTransaction& txn) -> Status {
    for (const auto& key : stale) storage::remove_acknowledged_position(txn, key);
    return Status::Ok();
  });
}

void ExternalReplicationSet::stop() {
  std::map<std::uint64_t, Running> running;
  {
    std::lock_guard lock(mu_);
    running.swap(running_);
  }
  for (auto& [id, r] : running) r.replication->remove_external_outgoing(key_of(id));
}

}  // namespace corvus::server::external_replication
