// ClusterManager's membership policy (leader side): probe a node before adding
// it, and tell a removed node to leave. HTTP handlers only translate requests.

#include <boost/json.hpp>

#include "server/cluster/cluster_manager.h"
#include "server/logging/logger.h"

namespace corvus::server::cluster {
namespace json = boost::json;
using boost::beast::http::verb;

void ClusterManager::add_node(const std::string& url, const std::string& tag, bool watcher, AddNodeDone done) {
  const bool started = run_async([this, url, tag, watcher, done] {
    // Ask the node who it is before touching the log: it must be reachable and
    // must not belong to another multi-node cluster.
    auto info = connections_.call(verb::get, url, "/admin/cluster/rachis", "", std::chrono::seconds(5));
    if (!info.ok() || info->status != 200) {
      return done(Status::InvalidArgument("cannot add " + url + ": the node does not answer (" +
                                          (info.ok() ? "HTTP " + std::to_string(info->status)
                                                     : info.status().message()) +
                                          ")"),
                  0, "");
    }
    boost::system::error_code ec;
    auto v = json::parse(info->body, ec);
    if (ec || !v.is_object()) return done(Status::InvalidArgument("cannot add " + url + ": not a Corvus node"), 0, "");
    const auto& o = v.as_object();
    auto str = [&](const char* k) {
      auto* x = o.if_contains(k);
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    const bool fresh = o.if_contains("Fresh") && o.at("Fresh").is_bool() && o.at("Fresh").as_bool();
    const std::string their_topology = str("TopologyId");
    const std::string address = str("ClusterAddress");
    if (their_topology == topology_id()) {
      return done(Status::InvalidArgument("the node at " + url + " is already a member of this cluster (tag " +
                                          str("NodeTag") + ")"),
                  0, "");
    }
    if (!fresh) {
      std::string nodes;
      if (auto* all = o.if_contains("AllNodes"); all && all->is_object()) {
        for (const auto& kv : all->as_object()) nodes += (nodes.empty() ? "" : ", ") + std::string(kv.key());
      }
      return done(Status::InvalidArgument("the node at " + url + " already belongs to another cluster (topology " +
                                          their_topology + ", nodes " + nodes +
                                          "); remove it from that cluster before adding it here"),
                  0, "");
    }
    if (address.empty()) {
      return done(Status::InvalidArgument("the node at " + url + " did not report its cluster address"), 0, "");
    }
    const auto* version = o.if_contains("CommandVersion");
    const std::uint32_t command_version =
        version && version->is_number() ? static_cast<std::uint32_t>(version->to_number<std::uint64_t>()) : 1;
    node_->add_node(tag, url, address, watcher, command_version, [this, url, done](Status s, rachis::core::Index i) {
      std::string added;
      if (s.ok()) {
        for (const auto& [t, n] : node_->state().topology().nodes) {
          if (n.url == url) added = t;
        }
      }
      done(s, i, added);
    });
  });
  if (!started) done(Status::Busy("too many cluster requests in flight on this node; retry shortly"), 0, "");
}

void ClusterManager::remove_node(const std::string& tag, rachis::Node::Done done) {
  const auto topo = node_->state().topology();
  auto it = topo.nodes.find(tag);
  const std::string removed_url = it == topo.nodes.end() ? "" : it->second.url;
  const std::string cluster_id = topology_id();
  const bool self = it != topo.nodes.end() && it->second.id == node_->view().identity.node_id;
  node_->remove_node(tag, [this, done, removed_url, cluster_id, self](Status s, rachis::core::Index i) {
    done(s, i);
    if (!s.ok()) return;
    // The removed node never sees the commit (the leader stops replicating to
    // it): tell it, so it leaves and starts over as a fresh one-node cluster.
    if (self) {
      node_->leave(cluster_id, true, [](Status, rachis::core::Index) {});  // the leader itself: committed
      return;
    }
    const bool started = run_async([this, removed_url, cluster_id] {
      for (int attempt = 0; attempt < 5; ++attempt) {
        auto r = connections_.call(verb::post, removed_url, "/admin/cluster/leave?topologyId=" + cluster_id, "",
                           std::chrono::seconds(3));
        if (r.ok() && r->status < 500) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(200 * (attempt + 1)));
      }
    });
    if (!started) {
      log::warn("removed node not told to leave: too many cluster requests in flight; it keeps its old "
                "cluster view until restarted or removed again")
          .kv("url", removed_url);
    }
  });
}

}  // namespace corvus::server::cluster
