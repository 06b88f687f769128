// ChangesNotifier: see changes_notifier.h.

#include "server/cluster/changes_notifier.h"

#include <set>
#include <utility>

#include "rachis/cluster/commands/cluster_transaction_command.h"
#include "server/document_database.h"
#include "storage/document.h"

namespace corvus::server::cluster {

namespace {
std::shared_ptr<const changes::ChangeEvent> event_of(changes::ChangeEvent::Kind kind, const std::string& name,
                                                     std::string message) {
  auto e = std::make_shared<changes::ChangeEvent>();
  e->kind = kind;
  e->name = name;
  e->message = std::move(message);
  return e;
}
}  // namespace

ChangesNotifier::ChangesNotifier(ClusterManager& cluster, DatabasesLandlord& landlord,
                                 std::shared_ptr<changes::ChangesFeed> server_feed, std::string url)
    : cluster_(cluster), landlord_(landlord), server_feed_(std::move(server_feed)), url_(std::move(url)) {}

void ChangesNotifier::start() {
  for (const auto& r : cluster_.state().records()) {
    known_[storage::lower_id(r->name)] = Known{r->name, r->topology.stamp};
  }
  cluster_.feed().subscribe([this](const rachis::cluster::AppliedCommand& c) { on_applied(c); });
}

void ChangesNotifier::on_applied(const rachis::cluster::AppliedCommand& c) {
  // Cluster-wide transactions touch documents, not records.
  if (c.type == rachis::cluster::ClusterTransactionCommand::kType) return;
  if (c.type == "Snapshot") {
    // A snapshot replaced the whole state: compare every record, known or new.
    std::set<std::string> names;
    for (const auto& [_, k] : known_) names.insert(k.name);
    for (const auto& r : cluster_.state().records()) names.insert(r->name);
    for (const auto& name : names) check(name, c.index);
    return;
  }
  for (const auto& name : c.databases) check(name, c.index);
}

void ChangesNotifier::check(const std::string& name, uint64_t raft_index) {
  const std::string key = storage::lower_id(name);
  auto record = cluster_.state().record(name);
  auto it = known_.find(key);
  if (!record) {
    if (it == known_.end()) return;
    server_feed_->publish_now(event_of(changes::ChangeEvent::Kind::Database, it->second.name,
                                       changes::database_change_message(it->second.name, "Delete", raft_index)));
    known_.erase(it);
    return;
  }
  server_feed_->publish_now(event_of(changes::ChangeEvent::Kind::Database, record->name,
                                     changes::database_change_message(record->name, "Put", raft_index)));
  const bool topology_moved = it == known_.end() || it->second.topology_stamp != record->topology.stamp;
  known_[key] = Known{record->name, record->topology.stamp};
  if (!topology_moved) return;
  auto topology = event_of(changes::ChangeEvent::Kind::Topology, record->name,
                           changes::topology_change_message(url_, record->name));
  server_feed_->publish_now(topology);
  if (auto db = landlord_.get(record->name)) {
    if (auto feed = db->changes_if_started()) feed->publish_now(topology);
  }
}

}  // namespace corvus::server::cluster
