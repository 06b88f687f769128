#include "rachis/cluster/commands/subscription_commands.h"

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"
#include "storage/document.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

namespace {

Status database_exists(const ApplyContext& ctx, const std::string& database) {
  auto record = ctx.state.record(database);
  if (!record || !record->active()) return Status::NotFound("Database '" + database + "' does not exist");
  return Status::Ok();
}

// The subscription with id `id` (update by id, when the client gave no name).
Result<std::optional<SubscriptionRecord>> find_by_id(const ApplyContext& ctx, const std::string& database,
                                                     std::uint64_t id) {
  auto all = ctx.state.subscriptions(database);
  if (!all.ok()) return all.status();
  for (auto& r : all.value()) {
    if (r.id == id) return std::optional<SubscriptionRecord>(std::move(r));
  }
  return std::optional<SubscriptionRecord>();
}

}  // namespace

json::object PutSubscriptionCommand::fields() const {
  json::object o{{"DatabaseName", database},  {"SubscriptionName", name}, {"SubscriptionId", id},
                 {"Update", update},          {"Query", query},           {"StartChangeVector", start_change_vector},
                 {"StartDatabaseId", start_database_id},
                 {"MentorNode", mentor_node}, {"PinToMentorNode", pin_to_mentor_node}, {"Disabled", disabled}};
  if (start_etag) o["StartEtag"] = *start_etag;
  return o;
}

Result<std::unique_ptr<ClusterCommand>> PutSubscriptionCommand::decode(const json::object& o) {
  auto c = std::make_unique<PutSubscriptionCommand>();
  c->database = get_string(o, "DatabaseName");
  if (c->database.empty()) return Status::InvalidArgument("needs DatabaseName");
  c->name = get_string(o, "SubscriptionName");
  c->id = get_u64(o, "SubscriptionId");
  c->update = get_bool(o, "Update");
  c->query = get_string(o, "Query");
  if (!c->update && c->query.empty()) return Status::InvalidArgument("needs Query");
  if (o.contains("StartEtag")) c->start_etag = get_u64(o, "StartEtag");
  c->start_change_vector = get_string(o, "StartChangeVector");
  c->start_database_id = get_string(o, "StartDatabaseId");
  c->mentor_node = get_string(o, "MentorNode");
  c->pin_to_mentor_node = get_bool(o, "PinToMentorNode");
  c->disabled = get_bool(o, "Disabled");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult PutSubscriptionCommand::apply(ApplyContext& ctx) const {
  if (Status s = database_exists(ctx, database); !s.ok()) return {s, nullptr};
  SubscriptionRecord r;
  if (update) {
    auto found = name.empty() ? find_by_id(ctx, database, id) : ctx.state.subscription(database, name);
    if (!found.ok()) return {found.status(), nullptr};
    if (!found.value()) {
      return {Status::NotFound("Subscription '" + (name.empty() ? std::to_string(id) : name) + "' does not exist"),
              nullptr};
    }
    r = *found.value();
    if (!query.empty()) r.query = query;
    if (start_etag) {
      // What was delivered after the old start point says nothing about the
      // new one: a takeover must deliver from the new start point.
      if (Status s = ctx.batch.delete_delivered(database, r.id); !s.ok()) return {s, nullptr};
      r.last_etag = *start_etag;
      r.change_vector = start_change_vector;
      r.start_change_vector = start_change_vector;
      r.position_database_id = start_database_id;
    }
  } else {
    r.name = name.empty() ? std::to_string(ctx.index) : name;
    auto existing = ctx.state.subscription(database, r.name);
    if (!existing.ok()) return {existing.status(), nullptr};
    if (existing.value()) {
      return {Status::InvalidArgument("A subscription named '" + r.name + "' already exists in database '" + database +
                                      "'"),
              nullptr};
    }
    r.id = ctx.index;
    r.query = query;
    r.last_etag = start_etag.value_or(0);
    r.change_vector = start_change_vector;
    r.start_change_vector = start_change_vector;
    r.position_database_id = start_database_id;
  }
  r.mentor_node = mentor_node;
  r.pin_to_mentor_node = pin_to_mentor_node;
  r.disabled = disabled;
  ctx.batch.put_subscription(database, r);
  return {Status::Ok(), json::object{{"Name", r.name}, {"SubscriptionId", r.id}}};
}

json::object AcknowledgeSubscriptionBatchCommand::fields() const {
  json::object o{{"DatabaseName", database}, {"SubscriptionName", name},   {"SubscriptionId", id},
                 {"LastEtag", last_etag},    {"DatabaseId", database_id}, {"ChangeVector", change_vector},
                 {"AckTime", ack_time}};
  // Absent when empty: the entry then reads as version 6 did.
  if (!delivered.empty()) {
    json::array pairs;
    pairs.reserve(delivered.size());
    for (const auto& d : delivered) pairs.push_back(json::array{json::string(d.id), json::string(d.change_vector)});
    o["Delivered"] = std::move(pairs);
  }
  return o;
}

Result<std::unique_ptr<ClusterCommand>> AcknowledgeSubscriptionBatchCommand::decode(const json::object& o) {
  auto c = std::make_unique<AcknowledgeSubscriptionBatchCommand>();
  c->database = get_string(o, "DatabaseName");
  c->name = get_string(o, "SubscriptionName");
  if (c->database.empty() || c->name.empty()) return Status::InvalidArgument("needs DatabaseName and SubscriptionName");
  c->id = get_u64(o, "SubscriptionId");
  c->last_etag = get_u64(o, "LastEtag");
  c->database_id = get_string(o, "DatabaseId");
  c->change_vector = get_string(o, "ChangeVector");
  c->ack_time = get_string(o, "AckTime");
  if (const auto* d = o.if_contains("Delivered")) {
    // Strict: a pair read wrongly would make a takeover skip a document.
    if (!d->is_array()) return Status::InvalidArgument("Delivered must be an array of [id, change vector] pairs");
    c->delivered.reserve(d->as_array().size());
    for (const auto& pair : d->as_array()) {
      const auto* a = pair.if_array();
      if (!a || a->size() != 2 || !(*a)[0].is_string() || !(*a)[1].is_string() || (*a)[0].as_string().empty()) {
        return Status::InvalidArgument("Delivered must be an array of [id, change vector] pairs");
      }
      c->delivered.push_back({std::string((*a)[0].as_string()), std::string((*a)[1].as_string())});
    }
  }
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult AcknowledgeSubscriptionBatchCommand::apply(ApplyContext& ctx) const {
  if (Status s = database_exists(ctx, database); !s.ok()) return {s, nullptr};
  auto found = ctx.state.subscription(database, name);
  if (!found.ok()) return {found.status(), nullptr};
  if (!found.value() || found.value()->id != id) {
    return {Status::NotFound("Subscription '" + name + "' does not exist (deleted or recreated)"), nullptr};
  }
  SubscriptionRecord r = *found.value();
  r.last_etag = last_etag;
  r.position_database_id = database_id;
  if (!change_vector.empty()) r.change_vector = change_vector;
  r.last_ack_time = ack_time;
  ctx.batch.put_subscription(database, r);
  for (const auto& d : delivered) ctx.batch.put_delivered(database, r.id, d.id, d.change_vector);
  return {};
}

json::object DeleteSubscriptionCommand::fields() const { return {{"DatabaseName", database}, {"SubscriptionName", name}}; }

Result<std::unique_ptr<ClusterCommand>> DeleteSubscriptionCommand::decode(const json::object& o) {
  auto c = std::make_unique<DeleteSubscriptionCommand>();
  c->database = get_string(o, "DatabaseName");
  c->name = get_string(o, "SubscriptionName");
  if (c->database.empty() || c->name.empty()) return Status::InvalidArgument("needs DatabaseName and SubscriptionName");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult DeleteSubscriptionCommand::apply(ApplyContext& ctx) const {
  if (Status s = database_exists(ctx, database); !s.ok()) return {s, nullptr};
  auto found = ctx.state.subscription(database, name);
  if (!found.ok()) return {found.status(), nullptr};
  if (!found.value()) return {Status::NotFound("Subscription '" + name + "' does not exist"), nullptr};
  ctx.batch.delete_subscription(database, name);
  if (Status s = ctx.batch.delete_delivered(database, found.value()->id); !s.ok()) return {s, nullptr};
  return {};
}

}  // namespace corvus::rachis::cluster
