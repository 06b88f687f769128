#pragma once
// Which member of a database group serves a data subscription: its mentor
// node when that is a member, else the first member. The leader's
// DatabaseSupervisor moves a silent member out of the members, so another one
// takes over when it fails. A pure function of the cluster state; any thread.

#include <string>

#include "rachis/cluster/database_record.h"
#include "rachis/cluster/subscription_record.h"

namespace corvus::server::subscriptions {

// Empty when the group has no member.
std::string responsible_node(const rachis::cluster::DatabaseRecord& database,
                             const rachis::cluster::SubscriptionRecord& subscription);

}  // namespace corvus::server::subscriptions
