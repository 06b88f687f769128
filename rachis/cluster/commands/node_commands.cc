#include "rachis/cluster/commands/node_commands.h"

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

json::object BootstrapCommand::fields() const { return {{"TopologyId", cluster_id}, {"Node", self.to_json()}}; }

Result<std::unique_ptr<ClusterCommand>> BootstrapCommand::decode(const json::object& o) {
  auto c = std::make_unique<BootstrapCommand>();
  c->cluster_id = get_string(o, "TopologyId");
  auto* node = o.if_contains("Node");
  auto n = node ? NodeInfo::from_json(*node) : std::nullopt;
  if (!n) return Status::InvalidArgument("Bootstrap without a valid Node");
  c->self = *n;
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult BootstrapCommand::apply(ApplyContext& ctx) const {
  Topology& t = ctx.topology;
  if (!t.nodes.empty()) return {Status::InvalidArgument("Bootstrap on a non-empty topology"), nullptr};
  t.cluster_id = cluster_id;
  NodeInfo n = self;
  n.role = NodeRole::Member;
  t.nodes[n.tag] = n;
  t.last_node_tag = n.tag;
  if (n.id > t.last_node_id) t.last_node_id = n.id;
  t.etag = ctx.index;
  ctx.batch.put_topology(t);
  return {};
}

json::object UpdateNodeCommand::fields() const { return {{"Node", node.to_json()}}; }

Result<std::unique_ptr<ClusterCommand>> UpdateNodeCommand::decode(const json::object& o) {
  auto c = std::make_unique<UpdateNodeCommand>();
  auto* node = o.if_contains("Node");
  auto n = node ? NodeInfo::from_json(*node) : std::nullopt;
  if (!n) return Status::InvalidArgument("UpdateNode without a valid Node");
  c->node = *n;
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult UpdateNodeCommand::apply(ApplyContext& ctx) const {
  Topology& t = ctx.topology;
  auto it = t.nodes.find(node.tag);
  if (it == t.nodes.end() || it->second.id != node.id) return {Status::NotFound("no node " + node.tag), nullptr};
  it->second.url = node.url;
  it->second.address = node.address;
  it->second.command_version = node.command_version;
  t.etag = ctx.index;
  ctx.batch.put_topology(t);
  return {};
}

}  // namespace corvus::rachis::cluster
