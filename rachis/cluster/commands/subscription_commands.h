#pragma once
// Commands on a database's data subscriptions (RavenDB's PutSubscriptionCommand,
// AcknowledgeSubscriptionBatchCommand, DeleteSubscriptionCommand). The proposer
// (server/handlers/subscriptions_handler.cc, server/subscriptions/) validates
// the query and turns a start point ("LastDocument", a change vector) into an
// etag, so apply stays deterministic: it only checks that the database and the
// subscription exist and writes the SubscriptionRecord (cluster_state.h).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rachis/cluster/cluster_command.h"

namespace corvus::rachis::cluster {

// Creates a subscription, or (`update`) changes one found by name or, when the
// name is empty, by id. Create: the id is the entry's index and an empty name
// becomes that number; InvalidArgument when the name is taken. Update:
// NotFound when there is no such subscription; the query changes when given,
// the position only when `start_etag` is set (and then the delivered versions
// recorded so far are forgotten: they belonged to the old start point).
// NotFound when the database has no active record. Result: {"Name", "SubscriptionId"}.
struct PutSubscriptionCommand final : ClusterCommand {
  static constexpr std::string_view kType = "PutSubscription";
  std::string database;
  std::string name;
  std::uint64_t id = 0;    // update: find by id when name is empty
  bool update = false;
  std::string query;       // empty on update: keep
  std::optional<std::uint64_t> start_etag;  // nullopt: beginning (create) / do not change (update)
  std::string start_change_vector;
  std::string start_database_id;  // whose etag start_etag is
  std::string mentor_node;
  bool pin_to_mentor_node = false;
  bool disabled = false;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 6; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// One document an acknowledged batch delivered, at the version it delivered.
struct DeliveredDocument {
  std::string id;
  std::string change_vector;
  bool operator==(const DeliveredDocument&) const = default;
};

// The command version that added `Delivered` to AcknowledgeSubscriptionBatch.
inline constexpr std::uint32_t kAcknowledgeDeliveredVersion = 11;

// Records that the workers of subscription `name` (created as `id`) processed
// everything up to `last_etag`, and (`delivered`, when not empty) which
// versions of which documents the batch delivered: each replaces what was
// recorded for its id (ClusterState::delivered_change_vector), so a member
// taking the subscription over skips exactly what was delivered. NotFound when
// it was deleted or recreated since (another id): the worker must stop and
// nothing is recorded. Result: null.
//
// Version: 6 without `delivered` (what every node since 6 applies, so a
// cluster with an older node still acknowledges), 11 with it; the proposer
// sends `delivered` only once every node runs 11 (kAcknowledgeDeliveredVersion).
struct AcknowledgeSubscriptionBatchCommand final : ClusterCommand {
  static constexpr std::string_view kType = "AcknowledgeSubscriptionBatch";
  std::string database;
  std::string name;
  std::uint64_t id = 0;
  std::uint64_t last_etag = 0;
  std::string database_id;  // of the storage whose etag last_etag is
  std::string change_vector;
  std::string ack_time;  // ISO-8601, the proposer's clock
  std::vector<DeliveredDocument> delivered;  // "Delivered": [[id, change vector], ...]

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return delivered.empty() ? 6 : kAcknowledgeDeliveredVersion; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Deletes subscription `name` and the delivered versions recorded for it.
// NotFound when there is none. Result: null.
struct DeleteSubscriptionCommand final : ClusterCommand {
  static constexpr std::string_view kType = "DeleteSubscription";
  std::string database;
  std::string name;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 6; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
