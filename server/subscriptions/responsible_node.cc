#include "server/subscriptions/responsible_node.h"

#include <algorithm>

namespace corvus::server::subscriptions {

std::string responsible_node(const rachis::cluster::DatabaseRecord& database,
                             const rachis::cluster::SubscriptionRecord& subscription) {
  const auto& members = database.topology.members;
  if (!subscription.mentor_node.empty() &&
      std::find(members.begin(), members.end(), subscription.mentor_node) != members.end()) {
    return subscription.mentor_node;
  }
  return members.empty() ? std::string() : members.front();
}

}  // namespace corvus::server::subscriptions
