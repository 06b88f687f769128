#include "server/subscriptions/delivered_versions.h"

#include "rachis/cluster/commands/subscription_commands.h"
#include "storage/change_vector.h"

namespace corvus::server::subscriptions {

bool records_delivered(const rachis::cluster::DatabaseRecord& database, const rachis::cluster::Topology& topology) {
  if (database.topology.all_nodes().size() <= 1) return false;
  for (const auto& [tag, node] : topology.nodes) {
    if (node.command_version < rachis::cluster::kAcknowledgeDeliveredVersion) return false;
  }
  return true;
}

bool delivered_covers(std::string_view delivered, std::string_view current) {
  if (delivered.empty() || current.empty()) return false;
  auto d = storage::ChangeVector::parse(delivered);
  auto c = storage::ChangeVector::parse(current);
  if (!d.ok() || !c.ok()) return false;
  const auto order = c.value().compare(d.value());
  return order == storage::ChangeVectorOrder::Older || order == storage::ChangeVectorOrder::Equal;
}

}  // namespace corvus::server::subscriptions
