#pragma once
// SubscriptionRecord: one data subscription of a database as the cluster
// stores it (ClusterState family "subscriptions", key: lowered database and
// lowered name): its definition (the RQL query, as written) and how far its
// workers acknowledged (an etag of the serving node's storage, the change
// vector of the last acknowledged document). Plain value; JSON both ways.
// Commands that change it: rachis/cluster/commands/subscription_commands.h.

#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

#include "storage/status.h"

namespace corvus::rachis::cluster {

struct SubscriptionRecord {
  std::uint64_t id = 0;   // the Raft index that created it (RavenDB's SubscriptionId)
  std::string name;       // as the user spelled it
  std::string query;      // RQL text, parsed again by whoever serves it
  // Every entry with etag <= last_etag was delivered and acknowledged (or did
  // not match): a worker resumes after it.
  std::uint64_t last_etag = 0;
  // Whose etags last_etag counts: the database id of the storage (the member
  // of the group) that served it. Another member's etags are another order:
  // it scans from the start point and skips what the acknowledgements
  // recorded as delivered (ClusterState::delivered_change_vector). Empty: any (etag 0).
  std::string position_database_id;
  std::string change_vector;  // of the last acknowledged document (or the start point given)
  // The start point given at creation (or by an update that moved it): kept
  // when acknowledgements move change_vector, so that a member taking over
  // from another one's position scans from it, not from the beginning.
  // Empty: from the beginning (or a record written before it existed).
  std::string start_change_vector;
  std::string mentor_node;
  bool pin_to_mentor_node = false;
  bool disabled = false;
  std::string last_ack_time;  // ISO-8601 UTC, empty before the first acknowledgement

  boost::json::object to_json() const;
  // Corruption when `o` lacks the name or the id.
  static Result<SubscriptionRecord> from_json(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
