#include "rachis/cluster/cluster_state_machine.h"

#include <mutex>

#include <boost/json.hpp>

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

std::string get_string(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::uint64_t get_u64(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return 0;
}

json::object node_to_json(const NodeInfo& n) {
  return {{"Tag", n.tag}, {"Id", n.id}, {"Url", n.url}, {"Address", n.address}, {"Role", node_role_name(n.role)}};
}

std::optional<NodeInfo> node_from_json(const json::value& v, bool need_id = true) {
  if (!v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  NodeInfo n;
  n.tag = get_string(o, "Tag");
  n.id = get_u64(o, "Id");
  n.url = get_string(o, "Url");
  n.address = get_string(o, "Address");
  auto role = parse_role(get_string(o, "Role"));
  if (n.tag.empty() || (need_id && n.id == core::kNoNode) || !role) return std::nullopt;
  n.role = *role;
  return n;
}

std::optional<json::object> parse_object(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
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

std::string make_bootstrap_command(const std::string& cluster_id, const NodeInfo& self) {
  return json::serialize(json::object{{"Type", "Bootstrap"}, {"TopologyId", cluster_id}, {"Node", node_to_json(self)}});
}

std::string make_put_value_command(const std::string& key, const std::string& value) {
  return json::serialize(json::object{{"Type", "PutValue"}, {"Key", key}, {"Value", value}});
}

std::string make_update_node_command(const NodeInfo& node) {
  return json::serialize(json::object{{"Type", "UpdateNode"}, {"Node", node_to_json(node)}});
}

std::string encode_node_context(const NodeInfo& n) { return json::serialize(node_to_json(n)); }

std::optional<NodeInfo> decode_node_context(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  if (ec) return std::nullopt;
  return node_from_json(v, false);  // the id travels in the ConfigChange itself
}

Status ClusterStateMachine::apply(const core::Entry& e) {
  Status s;
  {
    std::unique_lock lock(mu_);
    if (e.type == core::EntryType::Normal) {
      s = apply_command(e.data, e.index);
    } else if (e.type == core::EntryType::ConfigChange) {
      s = apply_config_change(e.data, e.index);
    }
    if (e.index > topology_.applied) topology_.applied = e.index;
  }
  return s;
}

Status ClusterStateMachine::apply_command(const std::string& data, core::Index index) {
  auto o = parse_object(data);
  if (!o) return Status::InvalidArgument("cluster command at " + std::to_string(index) + " is not a JSON object");
  const std::string type = get_string(*o, "Type");
  if (type == "Bootstrap") {
    auto* node = o->if_contains("Node");
    auto n = node ? node_from_json(*node) : std::nullopt;
    if (!n) return Status::InvalidArgument("Bootstrap command without a valid Node");
    if (!topology_.nodes.empty()) return Status::InvalidArgument("Bootstrap command on a non-empty topology");
    topology_.cluster_id = get_string(*o, "TopologyId");
    n->role = NodeRole::Member;
    topology_.nodes[n->tag] = *n;
    topology_.last_node_tag = n->tag;
    if (n->id > topology_.last_node_id) topology_.last_node_id = n->id;
    topology_.etag = index;
    return Status::Ok();
  }
  if (type == "UpdateNode") {
    auto* node = o->if_contains("Node");
    auto n = node ? node_from_json(*node) : std::nullopt;
    if (!n) return Status::InvalidArgument("UpdateNode command without a valid Node");
    auto it = topology_.nodes.find(n->tag);
    if (it == topology_.nodes.end() || it->second.id != n->id) return Status::NotFound("no node " + n->tag);
    it->second.url = n->url;
    it->second.address = n->address;
    topology_.etag = index;
    return Status::Ok();
  }
  if (type == "PutValue") {
    values_[get_string(*o, "Key")] = get_string(*o, "Value");
    return Status::Ok();
  }
  return Status::InvalidArgument("unknown cluster command type '" + type + "' at " + std::to_string(index));
}

Status ClusterStateMachine::apply_config_change(const std::string& data, core::Index index) {
  core::ConfigChange cc;
  core::Configuration result;
  if (!core::decode_config_change(data, &cc, &result)) {
    return Status::InvalidArgument("config change at " + std::to_string(index) + " is unreadable");
  }
  topology_.etag = index;
  switch (cc.type) {
    case core::ConfigChangeType::AddLearner: {
      auto n = decode_node_context(cc.context);
      if (!n) return Status::InvalidArgument("AddLearner at " + std::to_string(index) + " lacks node info");
      n->id = cc.node;
      if (n->role == NodeRole::Member) n->role = NodeRole::Promotable;
      topology_.nodes[n->tag] = *n;
      topology_.last_node_tag = n->tag;
      if (n->id > topology_.last_node_id) topology_.last_node_id = n->id;
      return Status::Ok();
    }
    case core::ConfigChangeType::PromoteVoter:
      for (auto& [tag, n] : topology_.nodes) {
        if (n.id == cc.node) n.role = NodeRole::Member;
      }
      return Status::Ok();
    case core::ConfigChangeType::RemoveNode:
      for (auto it = topology_.nodes.begin(); it != topology_.nodes.end(); ++it) {
        if (it->second.id == cc.node) {
          topology_.nodes.erase(it);
          break;
        }
      }
      return Status::Ok();
  }
  return Status::Ok();
}

std::string ClusterStateMachine::snapshot() const {
  std::shared_lock lock(mu_);
  json::array nodes;
  for (const auto& [tag, n] : topology_.nodes) nodes.push_back(node_to_json(n));
  json::object values;
  for (const auto& [k, v] : values_) values[k] = v;
  return json::serialize(json::object{{"TopologyId", topology_.cluster_id},
                                      {"Nodes", std::move(nodes)},
                                      {"LastNodeTag", topology_.last_node_tag},
                                      {"LastNodeId", topology_.last_node_id},
                                      {"Etag", topology_.etag},
                                      {"Values", std::move(values)}});
}

Status ClusterStateMachine::restore(const std::string& data, core::Index index) {
  Topology t;
  std::map<std::string, std::string> values;
  if (!data.empty()) {
    auto o = parse_object(data);
    if (!o) return Status::Corruption("cluster snapshot is not a JSON object");
    t.cluster_id = get_string(*o, "TopologyId");
    t.last_node_tag = get_string(*o, "LastNodeTag");
    t.last_node_id = get_u64(*o, "LastNodeId");
    t.etag = get_u64(*o, "Etag");
    if (auto* nodes = o->if_contains("Nodes"); nodes && nodes->is_array()) {
      for (const auto& v : nodes->as_array()) {
        auto n = node_from_json(v);
        if (!n) return Status::Corruption("cluster snapshot has an invalid node");
        t.nodes[n->tag] = *n;
      }
    }
    if (auto* vals = o->if_contains("Values"); vals && vals->is_object()) {
      for (const auto& kv : vals->as_object()) {
        if (kv.value().is_string()) values[std::string(kv.key())] = std::string(kv.value().as_string());
      }
    }
  }
  t.applied = index;
  std::unique_lock lock(mu_);
  topology_ = std::move(t);
  values_ = std::move(values);
  return Status::Ok();
}

void ClusterStateMachine::clear() {
  std::unique_lock lock(mu_);
  topology_ = Topology{};
  values_.clear();
}

Topology ClusterStateMachine::topology() const {
  std::shared_lock lock(mu_);
  return topology_;
}

core::Index ClusterStateMachine::applied() const {
  std::shared_lock lock(mu_);
  return topology_.applied;
}

std::optional<std::string> ClusterStateMachine::value(const std::string& key) const {
  std::shared_lock lock(mu_);
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::size_t ClusterStateMachine::value_count() const {
  std::shared_lock lock(mu_);
  return values_.size();
}

}  // namespace corvus::rachis::cluster
