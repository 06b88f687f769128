#include "server/pull_replication/sink_set.h"

#include <boost/json.hpp>

namespace corvus::server::pull_replication {
namespace json = boost::json;

SinkSet::SinkSet(storage::DocumentsStorage& storage, replication::ReplicationIdentity identity)
    : storage_(storage), identity_(std::move(identity)) {}

SinkSet::~SinkSet() { stop(); }

void SinkSet::set(const std::shared_ptr<replication::DatabaseReplication>& replication,
                  const std::vector<SinkSpec>& sinks) {
  std::lock_guard lock(mu_);
  std::map<std::uint64_t, std::string> wanted;
  for (const auto& s : sinks) {
    wanted[s.definition.task_id] =
        json::serialize(json::array{s.definition.to_json(), s.connection_string.to_json()});
  }
  for (auto it = running_.begin(); it != running_.end();) {
    auto w = wanted.find(it->first);
    if (w == wanted.end() || w->second != it->second.fingerprint) {
      it->second.sink->stop();
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
  if (!replication) return;
  for (const auto& s : sinks) {
    if (running_.count(s.definition.task_id)) continue;
    HubTarget target;
    target.urls = s.connection_string.urls;
    target.database = s.connection_string.database;
    target.server_key_hash = s.connection_string.server_key_hash;
    target.hub = s.definition.hub_name;
    if (!s.definition.certificate_with_private_key.empty()) {
      auto tls = sink_tls_context(s.definition.certificate_with_private_key, s.definition.certificate_password);
      if (!tls.ok()) {
        if (identity_.log) {
          identity_.log("warn",
                        "pull replication sink '" + s.definition.name + "' cannot start: " + tls.status().message());
        }
        continue;
      }
      target.tls = std::move(tls).value();
    }
    running_[s.definition.task_id] = Running{
        wanted[s.definition.task_id],
        std::make_unique<SinkReplication>(storage_, replication, identity_, s.definition, std::move(target), s.own_url)};
  }
}

std::optional<SinkState> SinkSet::state(std::uint64_t task_id) {
  std::lock_guard lock(mu_);
  auto it = running_.find(task_id);
  if (it == running_.end()) return std::nullopt;
  return SinkState{it->second.sink->connected(), it->second.sink->hub_url()};
}

void SinkSet::stop() {
  std::map<std::uint64_t, Running> running;
  {
    std::lock_guard lock(mu_);
    running.swap(running_);
  }
  for (auto& [id, r] : running) r.sink->stop();
}

}  // namespace corvus::server::pull_replication
