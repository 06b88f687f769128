#include "rachis/cluster/subscription_record.h"

#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {

boost::json::object SubscriptionRecord::to_json() const {
  return {{"SubscriptionId", id},
          {"SubscriptionName", name},
          {"Query", query},
          {"LastEtag", last_etag},
          {"PositionDatabaseId", position_database_id},
          {"ChangeVector", change_vector},
          {"StartChangeVector", start_change_vector},
          {"MentorNode", mentor_node},
          {"PinToMentorNode", pin_to_mentor_node},
          {"Disabled", disabled},
          {"LastBatchAckTime", last_ack_time}};
}

Result<SubscriptionRecord> SubscriptionRecord::from_json(const boost::json::object& o) {
  SubscriptionRecord r;
  r.id = get_u64(o, "SubscriptionId");
  r.name = get_string(o, "SubscriptionName");
  if (r.id == 0 || r.name.empty()) return Status::Corruption("subscription record without SubscriptionId or SubscriptionName");
  r.query = get_string(o, "Query");
  r.last_etag = get_u64(o, "LastEtag");
  r.position_database_id = get_string(o, "PositionDatabaseId");
  r.change_vector = get_string(o, "ChangeVector");
  r.start_change_vector = get_string(o, "StartChangeVector");
  r.mentor_node = get_string(o, "MentorNode");
  r.pin_to_mentor_node = get_bool(o, "PinToMentorNode");
  r.disabled = get_bool(o, "Disabled");
  r.last_ack_time = get_string(o, "LastBatchAckTime");
  return r;
}

}  // namespace corvus::rachis::cluster
