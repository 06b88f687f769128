#include "rachis/cluster/topology.h"

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

const char* node_role_name(NodeRole r) {
  switch (r) {
    case NodeRole::Member: return "Member";
    case NodeRole::Promotable: return "Promotable";
    case NodeRole::Watcher: return "Watcher";
  }
  return "Member";
}

namespace {

std::optional<NodeRole> parse_role(std::string_view s) {
  if (s == "Member") return NodeRole::Member;
  if (s == "Promotable") return NodeRole::Promotable;
  if (s == "Watcher") return NodeRole::Watcher;
  return std::nullopt;
}

// A, B, ..., Z, AA, AB, ...: the tag after `t` in that order.
std::string increment_tag(std::string t) {
  if (t.empty()) return "A";
  int i = static_cast<int>(t.size()) - 1;
  while (i >= 0 && t[i] == 'Z') t[i--] = 'A';
  if (i < 0) return "A" + t;
  ++t[i];
  return t;
}

}  // namespace

json::object NodeInfo::to_json() const {
  return {{"Tag", tag},        {"Id", id},   {"Url", url}, {"Address", address}, {"Role", node_role_name(role)},
          {"CommandVersion", command_version}};
}

std::optional<NodeInfo> NodeInfo::from_json(const json::value& v, bool need_id) {
  if (!v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  NodeInfo n;
  n.tag = get_string(o, "Tag");
  n.id = get_u64(o, "Id");
  n.url = get_string(o, "Url");
  n.address = get_string(o, "Address");
  const std::uint64_t version = get_u64(o, "CommandVersion");
  n.command_version = version == 0 ? 1 : static_cast<std::uint32_t>(version);
  auto role = parse_role(get_string(o, "Role"));
  if (n.tag.empty() || (need_id && n.id == core::kNoNode) || !role) return std::nullopt;
  n.role = *role;
  return n;
}

const NodeInfo* Topology::by_id(core::NodeId id) const {
  for (const auto& [tag, n] : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::string Topology::next_free_tag() const {
  std::string t = increment_tag(last_node_tag);
  while (nodes.count(t)) t = increment_tag(t);
  return t;
}

json::object Topology::to_json() const {
  json::array list;
  for (const auto& [tag, n] : nodes) list.push_back(n.to_json());
  return {{"TopologyId", cluster_id},
          {"Nodes", std::move(list)},
          {"LastNodeTag", last_node_tag},
          {"LastNodeId", last_node_id},
          {"Etag", etag}};
}

bool Topology::from_json(const json::object& o, Topology* out) {
  Topology t;
  t.cluster_id = get_string(o, "TopologyId");
  t.last_node_tag = get_string(o, "LastNodeTag");
  t.last_node_id = get_u64(o, "LastNodeId");
  t.etag = get_u64(o, "Etag");
  if (auto* list = o.if_contains("Nodes"); list && list->is_array()) {
    for (const auto& v : list->as_array()) {
      auto n = NodeInfo::from_json(v);
      if (!n) return false;
      t.nodes[n->tag] = *n;
    }
  }
  *out = std::move(t);
  return true;
}

}  // namespace corvus::rachis::cluster
