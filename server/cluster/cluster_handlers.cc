// Cluster HTTP API (RavenDB's routes where they exist); the policy behind each
// request lives in ClusterManager (server/cluster/cluster_membership.cc):
//   PUT    /admin/cluster/node?url=&tag=&watcher=   add a node (leader; forwarded)
//   DELETE /admin/cluster/node?nodeTag=             remove a node (leader; forwarded)
//   POST   /admin/cluster/reelect                   leadership transfer (leader; forwarded)
//   GET    /admin/cluster/rachis                    this node's Rachis identity/state
//   POST   /admin/cluster/leave?topologyId=[&force=true]  sent by the leader to a removed node;
//          refused unless another node confirms the removal; force=true wipes the node
//          anyway and loses its cluster data
//   PUT    /admin/cluster/values?key=  (body=value) a small replicated key/value command
//   GET    /admin/cluster/values?key=               read it from the local applied state
//   POST   /admin/rachis/execute                    a follower's forwarded command (leader)
//   GET    /admin/rachis/wait-for?index=            answers once this node processed index
// The key/value pair is the smallest cluster command (tests and the Rachis bench).
// Membership requests that reach a follower are forwarded to the leader over HTTP
// (header Corvus-Forwarded stops loops) and answered once applied locally too;
// typed commands go through ClusterManager::execute. No known leader: 503.

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "rachis/cluster/commands/value_commands.h"
#include "server/cluster/cluster_manager.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;
using cluster::ClusterManager;

constexpr auto kForwardTimeout = std::chrono::seconds(20);
constexpr auto kApplyWait = std::chrono::seconds(10);
constexpr const char* kForwardedHeader = "Corvus-Forwarded";

http::Response json_ok(const json::object& o) { return http::Response::json(200, json::serialize(o)); }

// Waits until the local node applied the command index found in a leader's answer.
void wait_local_apply(ClusterManager& cm, const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return;
  auto* idx = v.as_object().if_contains("RaftCommandIndex");
  if (!idx || !idx->is_number()) return;
  // On timeout the answer stands: the command is committed; this node is merely behind.
  cm.feed().wait_processed(idx->to_number<std::uint64_t>(), kApplyWait);
}

// The answer when ClusterManager::run_async refuses more work.
Status too_many_in_flight() {
  return Status::Busy("too many cluster requests in flight on this node (at most " +
                      std::to_string(ClusterManager::kMaxWorkers) + "); retry shortly");
}

// Runs `on_leader` here when this node leads, else forwards the request to the
// leader and relays its answer.
template <typename F>
void leader_or_forward(ClusterManager& cm, const http::Request& req, const http::Respond& respond, F on_leader) {
  const auto view = cm.node().view();
  if (view.role == rachis::core::Role::Leader) return on_leader();
  if (!req.header(kForwardedHeader).empty()) {
    return respond_error(respond, Status::NotLeader("this node is not the leader (leadership moved); retry"), req);
  }
  const std::string leader = cm.leader_url();
  if (leader.empty()) {
    return respond_error(respond,
                         Status::NotLeader("there is no cluster leader at the moment (an election may be in "
                                           "progress or a majority is unreachable); retry shortly"),
                         req);
  }
  const std::string self = cm.node_tag("?");
  const bool started = cm.run_async([&cm, respond, method = req.method, target = req.target, body = req.body, leader, self, url = req.target] {
    auto r = cm.connections().call(method, leader, target, body, kForwardTimeout, kForwardedHeader, self);
    if (!r.ok()) {
      respond(http::error_response(Status::NotLeader("cannot reach the leader at " + leader + ": " + r.status().message()),
                                   url));
      return;
    }
    if (r->status >= 200 && r->status < 300) wait_local_apply(cm, r->body);
    respond(http::Response::json(r->status, std::move(r->body)));
  });
  if (!started) respond_error(respond, too_many_in_flight(), req);
}

void respond_after_commit(ClusterManager& cm, const http::Respond& respond, const std::string& url, Status s,
                          rachis::core::Index index, json::object extra = {}) {
  if (!s.ok()) return respond(http::error_response(s, url));
  extra["RaftCommandIndex"] = index;
  (void)cm;
  respond(json_ok(extra));
}

bool valid_tag(const std::string& t) {
  if (t.empty() || t.size() > 4) return false;
  for (char c : t) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

void handle_add_node(ClusterManager& cm, const http::Request& req, const http::Respond& respond) {
  std::string url = req.query.get("url").value_or("");
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.empty()) return respond_error(respond, Status::InvalidArgument("Query string parameter 'url' is required"), req);
  auto hp = parse_http_url(url);
  if (!hp.ok()) return respond_error(respond, hp.status(), req);
  if (hp->https != (cm.tls() != nullptr)) {
    return respond_error(respond,
                         Status::InvalidArgument(
                             cm.tls() ? "cannot add " + url +
                                            ": this cluster is secured (its nodes have certificates); add the node "
                                            "by its https:// URL, started with --certificate"
                                      : "cannot add " + url +
                                            ": this cluster is not secured (no certificates); a secured (https) "
                                            "node cannot join it"),
                         req);
  }
  const std::string tag = req.query.get("tag").value_or("");
  if (!tag.empty() && !valid_tag(tag)) {
    return respond_error(respond, Status::InvalidArgument("tag must be 1-4 upper-case letters, got '" + tag + "'"), req);
  }
  const std::string watcher_text = req.query.get("watcher").value_or("false");
  const bool watcher = watcher_text == "true" || watcher_text == "True" || watcher_text == "1";
  leader_or_forward(cm, req, respond, [&cm, respond, url, tag, watcher, target = req.target] {
    cm.add_node(url, tag, watcher,
                [&cm, respond, target](Status s, rachis::core::Index i, const std::string& added) {
                  json::object extra;
                  if (!added.empty()) extra["Tag"] = added;
                  respond_after_commit(cm, respond, target, s, i, std::move(extra));
                });
  });
}

void handle_remove_node(ClusterManager& cm, const http::Request& req, const http::Respond& respond) {
  auto tag_or = required_query(req, "nodeTag");
  if (!tag_or.ok()) return respond_error(respond, tag_or.status(), req);
  const std::string tag = std::move(tag_or).value();
  leader_or_forward(cm, req, respond, [&cm, respond, tag, target = req.target] {
    cm.remove_node(tag, [&cm, respond, target](Status s, rachis::core::Index i) {
      respond_after_commit(cm, respond, target, s, i);
    });
  });
}

void handle_reelect(ClusterManager& cm, const http::Request& req, const http::Respond& respond) {
  leader_or_forward(cm, req, respond, [&cm, respond, target = req.target] {
    cm.node().reelect([respond, target](Status s, rachis::core::Index) {
      if (!s.ok()) return respond(http::error_response(s, target));
      respond(json_ok(json::object{{"Message", "leadership transfer started"}}));
    });
  });
}

void handle_leave(ClusterManager& cm, const http::Request& req, const http::Respond& respond) {
  auto topology_or = required_query(req, "topologyId");
  if (!topology_or.ok()) return respond_error(respond, topology_or.status(), req);
  const std::string force = req.query.get("force").value_or("false");
  cm.leave(std::move(topology_or).value(), force == "true" || force == "True",
           [respond, target = req.target](Status s) {
             if (!s.ok()) return respond(http::error_response(s, target));
             respond(json_ok(json::object{{"Message", "left the cluster"}}));
           });
}

void handle_put_value(ClusterManager& cm, const http::Request& req, const http::Respond& respond) {
  auto key_or = required_query(req, "key");
  if (!key_or.ok()) return respond_error(respond, key_or.status(), req);
  rachis::cluster::PutValueCommand cmd;
  cmd.key = std::move(key_or).value();
  cmd.value = req.body;
  cm.execute(cmd, [respond, target = req.target](rachis::cluster::CommandResult r, rachis::core::Index i) {
    if (!r.status.ok()) return respond(http::error_response(r.status, target));
    respond(json_ok(json::object{{"RaftCommandIndex", i}}));
  });
}

void handle_get_value(ClusterManager& cm, const http::Request& req, const http::Respond& respond) {
  auto key_or = required_query(req, "key");
  if (!key_or.ok()) return respond_error(respond, key_or.status(), req);
  const std::string key = std::move(key_or).value();
  auto v = cm.node().state().value(key);
  if (!v) return respond_error(respond, Status::NotFound("no cluster value '" + key + "'"), req);
  respond(json_ok(json::object{{"Key", key}, {"Value", *v}, {"AppliedIndex", cm.node().state().applied()}}));
}

void handle_execute(ClusterManager& cm, const http::Request& req, const http::Respond& respond) {
  cm.execute_forwarded(req.body, [respond](rachis::cluster::CommandResult r, rachis::core::Index i) {
    respond(json_ok(cluster::forwarded_reply_json(r, i)));
  });
}

void handle_wait_for(ClusterManager& cm, const http::Request& req, const http::Respond& respond) {
  auto index = query_uint(req, "index", 0);
  if (!index.ok()) return respond_error(respond, index.status(), req);
  cm.feed().when_processed(*index, [respond, &cm] {
    respond(json_ok(json::object{{"Processed", cm.feed().processed()}}));
  });
}

}  // namespace

void register_cluster_routes(http::Router& router, ServerStore& store) {
  ClusterManager& cm = store.cluster();
  router.add(verb::put, "/admin/cluster/node", http::RouteAccess::ClusterAdmin, "cluster_add_node",
             [&cm](const http::Request& req, http::Respond respond) { handle_add_node(cm, req, respond); });
  router.add(verb::delete_, "/admin/cluster/node", http::RouteAccess::ClusterAdmin, "cluster_remove_node",
             [&cm](const http::Request& req, http::Respond respond) { handle_remove_node(cm, req, respond); });
  router.add(verb::post, "/admin/cluster/reelect", http::RouteAccess::ClusterAdmin, "cluster_reelect",
             [&cm](const http::Request& req, http::Respond respond) { handle_reelect(cm, req, respond); });
  router.add(verb::post, "/admin/cluster/leave", http::RouteAccess::ClusterAdmin, "cluster_leave",
             [&cm](const http::Request& req, http::Respond respond) { handle_leave(cm, req, respond); });
  router.add(verb::get, "/admin/cluster/rachis", http::RouteAccess::ClusterAdmin, "cluster_rachis",
             [&cm](const http::Request&, http::Respond respond) { respond(json_ok(cm.rachis_info_json())); });
  router.add(verb::put, "/admin/cluster/values", http::RouteAccess::ClusterAdmin, "cluster_put_value",
             [&cm](const http::Request& req, http::Respond respond) { handle_put_value(cm, req, respond); });
  router.add(verb::get, "/admin/cluster/values", http::RouteAccess::ClusterAdmin, "cluster_get_value",
             [&cm](const http::Request& req, http::Respond respond) { handle_get_value(cm, req, respond); });
  router.add(verb::post, "/admin/rachis/execute", http::RouteAccess::ClusterAdmin, "rachis_execute",
             [&cm](const http::Request& req, http::Respond respond) { handle_execute(cm, req, respond); });
  router.add(verb::get, "/admin/rachis/wait-for", http::RouteAccess::ClusterAdmin, "rachis_wait_for",
             [&cm](const http::Request& req, http::Respond respond) { handle_wait_for(cm, req, respond); });
}

}  // namespace corvus::server::handlers
