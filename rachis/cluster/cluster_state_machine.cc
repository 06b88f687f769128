#include "rachis/cluster/cluster_state_machine.h"

#include <boost/json.hpp>

#include "rachis/cluster/commands/database_commands.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

namespace {

bool is_storage_failure(const Status& s) {
  return s.code() == StatusCode::IOError || s.code() == StatusCode::Corruption;
}

}  // namespace

std::string encode_node_context(const NodeInfo& n) { return json::serialize(n.to_json()); }

std::optional<NodeInfo> decode_node_context(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  if (ec) return std::nullopt;
  return NodeInfo::from_json(v, false);  // the id travels in the ConfigChange itself
}

Result<std::unique_ptr<ClusterStateMachine>> ClusterStateMachine::open(const std::string& path) {
  auto state = ClusterState::open(path);
  if (!state.ok()) return state.status();
  return std::unique_ptr<ClusterStateMachine>(new ClusterStateMachine(std::move(state).value()));
}

ClusterStateMachine::Outcome ClusterStateMachine::apply(const core::Entry& e) {
  Outcome out;
  out.applied.index = e.index;
  if (e.index <= state_->applied()) return out;
  if (e.type == core::EntryType::Normal) {
    out = apply_command(e);
  } else if (e.type == core::EntryType::ConfigChange) {
    out = apply_config_change(e);
  } else {
    ClusterState::Batch batch(*state_);  // a no-op still moves the applied index
    if (Status s = state_->commit(batch, e.index); !s.ok()) {
      out.result.status = s;
      out.fatal = true;
    }
  }
  out.applied.index = e.index;
  return out;
}

ClusterStateMachine::Outcome ClusterStateMachine::apply_command(const core::Entry& e) {
  Outcome out;
  DecodedCommand decoded = decode_command(e.data);
  out.applied.type = decoded.type;
  if (!decoded.command) {
    out.result.status = Status::Corruption("cannot apply the cluster command at index " + std::to_string(e.index) +
                                           ": " + decoded.status.message());
    out.fatal = true;
    return out;
  }
  ClusterState::Batch batch(*state_);
  Topology topology = state_->topology();
  const core::Index topology_etag = topology.etag;
  ApplyContext ctx{e.index, *state_, batch, topology, {}};
  out.result = decoded.command->apply(ctx);
  if (is_storage_failure(out.result.status)) {
    out.fatal = true;
    return out;
  }
  // A refused command (a failed compare-exchange check, a duplicate database)
  // stages nothing, but still moves the applied index.
  if (Status s = state_->commit(batch, e.index); !s.ok()) {
    out.result.status = s;
    out.fatal = true;
    return out;
  }
  out.applied.databases = std::move(ctx.databases_changed);
  out.applied.topology_changed = topology.etag != topology_etag;
  return out;
}

ClusterStateMachine::Outcome ClusterStateMachine::apply_config_change(const core::Entry& e) {
  Outcome out;
  out.applied.type = "ConfigChange";
  core::ConfigChange cc;
  core::Configuration result;
  if (!core::decode_config_change(e.data, &cc, &result)) {
    out.result.status = Status::Corruption("the config change at index " + std::to_string(e.index) + " is unreadable");
    out.fatal = true;
    return out;
  }
  ClusterState::Batch batch(*state_);
  Topology t = state_->topology();
  ApplyContext ctx{e.index, *state_, batch, t, {}};
  t.etag = e.index;
  switch (cc.type) {
    case core::ConfigChangeType::AddLearner: {
      auto n = decode_node_context(cc.context);
      if (!n) {
        out.result.status = Status::Corruption("AddLearner at " + std::to_string(e.index) + " lacks node info");
        out.fatal = true;
        return out;
      }
      n->id = cc.node;
      if (n->role == NodeRole::Member) n->role = NodeRole::Promotable;
      t.nodes[n->tag] = *n;
      t.last_node_tag = n->tag;
      if (n->id > t.last_node_id) t.last_node_id = n->id;
      break;
    }
    case core::ConfigChangeType::PromoteVoter:
      for (auto& [tag, n] : t.nodes) {
        if (n.id == cc.node) n.role = NodeRole::Member;
      }
      break;
    case core::ConfigChangeType::RemoveNode:
      for (auto it = t.nodes.begin(); it != t.nodes.end(); ++it) {
        if (it->second.id == cc.node) {
          drop_node_from_databases(ctx, it->first);
          t.nodes.erase(it);
          break;
        }
      }
      break;
  }
  batch.put_topology(t);
  if (Status s = state_->commit(batch, e.index); !s.ok()) {
    out.result.status = s;
    out.fatal = true;
    return out;
  }
  out.applied.databases = std::move(ctx.databases_changed);
  out.applied.topology_changed = true;
  return out;
}

std::optional<std::string> ClusterStateMachine::value(const std::string& key) const {
  auto v = state_->value(key);
  if (!v.ok()) return std::nullopt;
  return *v;
}

}  // namespace corvus::rachis::cluster

namespace corvus::rachis::cluster {

std::size_t ClusterStateMachine::value_count() const {
  auto n = state_->value_count();
  return n.ok() ? static_cast<std::size_t>(*n) : 0;
}

}  // namespace corvus::rachis::cluster
