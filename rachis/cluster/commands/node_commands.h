#pragma once
// Commands that change the node list (besides Raft's own ConfigChange entries):
// Bootstrap registers the first node of a new cluster; UpdateNode corrects a
// node's URL, cluster address or command version.

#include "rachis/cluster/cluster_command.h"

namespace corvus::rachis::cluster {

struct BootstrapCommand final : ClusterCommand {
  static constexpr std::string_view kType = "Bootstrap";
  std::string cluster_id;
  NodeInfo self;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 1; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

struct UpdateNodeCommand final : ClusterCommand {
  static constexpr std::string_view kType = "UpdateNode";
  NodeInfo node;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 1; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
