#include "server/cluster/cluster_manager.h"

#include <unistd.h>

#include <ctime>
#include <filesystem>

#include <boost/json.hpp>

#include "rachis/cluster/command_registry.h"
#include "server/logging/logger.h"

namespace corvus::server::cluster {
namespace json = boost::json;

namespace {

std::string iso8601(std::chrono::system_clock::time_point tp) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(tp);
  const auto frac = std::chrono::duration_cast<std::chrono::microseconds>(tp - secs).count();
  std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%07lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac) * 10);
  return buf;
}

const char* state_name(const rachis::NodeView& v) {
  if (v.removed || !v.config.contains(v.identity.node_id)) return "Passive";
  switch (v.role) {
    case rachis::core::Role::Leader: return "Leader";
    case rachis::core::Role::Candidate:
    case rachis::core::Role::PreCandidate: return "Candidate";
    case rachis::core::Role::Follower: return "Follower";
  }
  return "Follower";
}

}  // namespace

Result<std::unique_ptr<ClusterManager>> ClusterManager::open(const ServerOptions& options,
                                                             const std::string& new_cluster_id,
                                                             const std::string& public_url,
                                                             const std::string& bootstrap_tag) {
  std::unique_ptr<ClusterManager> cm(new ClusterManager());
  cm->bootstrap_tag_ = bootstrap_tag;
  rachis::NodeOptions no;
  no.path = (std::filesystem::path(options.data_dir) / "rachis").string();
  no.new_cluster_id = new_cluster_id;
  no.bootstrap_tag = bootstrap_tag;
  no.url = public_url;
  no.listen.host = options.host;
  if (options.host == "0.0.0.0" || options.host == "::") {
    // Listening everywhere: tell peers the host of the public URL (http or https) instead.
    if (auto hp = parse_listen_url(public_url); hp.ok() && hp->host != "0.0.0.0" && hp->host != "::") {
      no.advertise_host = hp->host.find(':') != std::string::npos ? "[" + hp->host + "]" : hp->host;
    }
  }
  no.tick = std::chrono::milliseconds(options.cluster_tick_ms);
  no.election_tick = static_cast<std::uint32_t>(options.cluster_election_ticks);
  cm->election_timeout_ = no.tick * no.election_tick;
  no.log = [](const char* level, const std::string& message) {
    const std::string l(level);
    if (l == "error") {
      log::error("rachis").kv("message", message);
    } else if (l == "warn") {
      log::warn("rachis").kv("message", message);
    } else {
      log::info("rachis").kv("message", message);
    }
  };
  ClusterManager* raw = cm.get();
  if (!options.certificate_path.empty()) {
    // A secured node: the cluster port speaks TLS with the node's
    // certificate, and so do its HTTP calls to other nodes.
    auto tls = NodeTls::load(options.certificate_path, options.certificate_password,
                             options.admin_certificate_thumbprints, options.admin_certificate_key_hashes);
    if (!tls.ok()) return tls.status();
    cm->tls_ = std::move(tls).value();
    cm->connections_.set_tls(cm->tls_, [raw](X509* certificate) { return raw->refuse_peer(certificate); });
    no.listen.tls = cm->tls_->native();
    no.listen.check_peer = [raw](X509* certificate) { return raw->refuse_peer(certificate); };
  }
  no.on_applied = [raw](const rachis::cluster::AppliedCommand& c) { raw->feed_.push(c); };
  no.on_channel = [raw](char kind, std::string payload, rachis::ChannelConnection connection) {
    raw->dispatch_channel(kind, std::move(payload), connection);
  };
  const bool explicit_port = options.cluster_port >= 0;
  no.listen.port = explicit_port ? static_cast<std::uint16_t>(options.cluster_port)
                   : options.port == 0 || options.port == 65535 ? 0
                                                                 : static_cast<std::uint16_t>(options.port + 1);
  auto node = rachis::Node::open([&] {
    auto o = no;
    if (!options.cluster_advertise.empty()) o.advertise_address = options.cluster_advertise;
    return o;
  }());
  if (!node.ok() && !explicit_port && no.listen.port != 0) {
    log::warn("cluster port taken, using any free port").kv("port", static_cast<uint64_t>(no.listen.port));
    no.listen.port = 0;
    if (!options.cluster_advertise.empty()) no.advertise_address = options.cluster_advertise;
    node = rachis::Node::open(no);
  }
  if (!node.ok()) return node.status();
  cm->node_ = std::move(node).value();
  cm->trust_state_.store(&cm->node_->state().state(), std::memory_order_release);
  // Answer the first requests from a settled state: replay the committed log, and
  // let a lone node register itself in its own topology (one tick or two).
  const auto view = cm->node_->view();
  if (!cm->node_->wait_applied(view.commit, std::chrono::seconds(5))) {
    log::warn("cluster log replay is slow").kv("commit", view.commit);
  }
  if (view.config.voters.size() == 1 && view.config.is_voter(view.identity.node_id)) {
    for (int i = 0; i < 500 && !cm->node_->state().topology().by_id(view.identity.node_id); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  log::info("cluster listener")
      .kv("port", static_cast<uint64_t>(cm->node_->cluster_port()))
      .kv("advertise", cm->node_->advertise_address())
      .kv("topology_id", cm->node_->view().identity.cluster_id);
  return cm;
}

ClusterManager::~ClusterManager() { close(); }

void ClusterManager::close() {
  std::list<Worker> workers;
  {
    std::lock_guard lock(workers_mu_);
    if (closed_) return;
    closed_ = true;
    workers.swap(workers_);
  }
  // Workers wait on the node (bounded); stop the node first so they finish fast.
  if (node_) node_->stop();
  feed_.stop();
  for (auto& w : workers) {
    if (w.thread.joinable()) w.thread.join();
  }
}

bool ClusterManager::run_async(std::function<void()> fn) {
  std::lock_guard lock(workers_mu_);
  if (closed_) return false;
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  if (workers_.size() >= kMaxWorkers) return false;
  auto done = std::make_shared<std::atomic<bool>>(false);
  workers_.push_back(Worker{std::thread([fn = std::move(fn), done] {
                              fn();
                              done->store(true);
                            }),
                            done});
  return true;
}

namespace {

constexpr auto kForwardTimeout = std::chrono::seconds(20);
constexpr auto kCatchUpTimeout = std::chrono::seconds(10);
constexpr auto kLeaderWait = std::chrono::seconds(10);

json::object status_to_json(const Status& s) {
  return {{"Code", status_code_name(s.code())}, {"Message", s.message()}};
}

Status status_from_json(const json::value& v) {
  if (!v.is_object()) return Status::Ok();
  const auto& o = v.as_object();
  auto str = [&](const char* k) {
    auto* x = o.if_contains(k);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  const std::string code = str("Code");
  std::string message = str("Message");
  if (code == "OK") return Status::Ok();
  if (code == "NotFound") return Status::NotFound(std::move(message));
  if (code == "ConcurrencyConflict") return Status::ConcurrencyConflict(std::move(message));
  if (code == "InvalidArgument") return Status::InvalidArgument(std::move(message));
  if (code == "AccessDenied") return Status::AccessDenied(std::move(message));
  if (code == "NotLeader") return Status::NotLeader(std::move(message));
  if (code == "Timeout") return Status::Timeout(std::move(message));
  if (code == "Busy") return Status::Busy(std::move(message));
  if (code == "ShuttingDown") return Status::ShuttingDown(std::move(message));
  if (code == "IOError") return Status::IOError(std::move(message));
  if (code == "Corruption") return Status::Corruption(std::move(message));
  if (code == "AlreadyExists") return Status::AlreadyExists(std::move(message));
  return Status::Internal(message);
}

}  // namespace

json::object forwarded_reply_json(const rachis::cluster::CommandResult& r, rachis::core::Index index) {
  return {{"Index", index}, {"Status", status_to_json(r.status)}, {"Result", r.value}};
}

ClusterManager::CommandDone ClusterManager::after_processed(CommandDone done) {
  return [this, done = std::move(done)](rachis::cluster::CommandResult r, rachis::core::Index i) {
    // Not proposed, timed out or lost to a leader change: nothing of it was applied.
    const StatusCode c = r.status.code();
    if (i == 0 || c == StatusCode::Timeout || c == StatusCode::Internal || c == StatusCode::ShuttingDown) {
      return done(std::move(r), i);
    }
    feed_.when_processed(i, [done, r = std::move(r), i]() mutable { done(std::move(r), i); });
  };
}

void ClusterManager::execute(const rachis::cluster::ClusterCommand& command, CommandDone done) {
  if (node_->view().role == rachis::core::Role::Leader) return node_->propose(command, after_processed(std::move(done)));
  const bool started = run_async([this, payload = rachis::cluster::encode_command(command), done]() mutable {
    forward_to_leader(std::move(payload), std::move(done));
  });
  if (!started) done({Status::Busy("too many cluster requests in flight on this node; retry shortly"), nullptr}, 0);
}

void ClusterManager::forward_to_leader(std::string payload, CommandDone done) {
  // Like RavenDB's followers, wait (bounded) through an election instead of
  // failing at once: retry while there is no leader, the leader cannot be
  // reached before the request was sent, or it answers it is no longer leader.
  const auto deadline = std::chrono::steady_clock::now() + kLeaderWait;
  const std::string self = node_tag("?");
  Status last = Status::NotLeader("there is no cluster leader at the moment (an election may be in progress or a "
                                  "majority is unreachable); retry shortly");
  for (;;) {
    if (node_->view().role == rachis::core::Role::Leader) {
      return node_->propose_encoded(std::move(payload), after_processed(std::move(done)));
    }
    const std::string leader = leader_url();
    if (!leader.empty()) {
      auto reply = connections_.call(boost::beast::http::verb::post, leader, "/admin/rachis/execute", payload,
                                     kForwardTimeout, "Corvus-Forwarded", self);
      if (!reply.ok() && !reply.status().is_busy()) {
        // Sent but unanswered: it may have been applied; the caller decides.
        return done({Status::NotLeader("no answer from the leader at " + leader + ": " + reply.status().message()), nullptr},
                    0);
      }
      if (reply.ok()) {
        boost::system::error_code ec;
        auto v = json::parse(reply->body, ec);
        if (ec || !v.is_object() || reply->status != 200) {
          return done({Status::NotLeader("the leader at " + leader + " answered HTTP " + std::to_string(reply->status)),
                       nullptr},
                      0);
        }
        const auto& o = v.as_object();
        const auto* idx = o.if_contains("Index");
        const rachis::core::Index index = idx && idx->is_number() ? idx->to_number<std::uint64_t>() : 0;
        rachis::cluster::CommandResult r;
        if (auto* st = o.if_contains("Status")) r.status = status_from_json(*st);
        if (auto* res = o.if_contains("Result")) r.value = *res;
        if (index != 0) return wait_local_apply(std::move(r), index, std::move(done));
        if (!r.status.is_not_leader()) return done(std::move(r), 0);
        last = r.status;  // leadership moved before it proposed: try the next leader
      } else {
        last = Status::NotLeader("cannot reach the leader at " + leader + ": " + reply.status().message());
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) return done({last, nullptr}, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void ClusterManager::wait_local_apply(rachis::cluster::CommandResult r, rachis::core::Index index, CommandDone done) {
  // Answer once this node applied it too (a read here then sees the write),
  // but not forever: a lagging node says so instead of hanging.
  if (!feed_.wait_processed(index, kCatchUpTimeout)) {
    return done({Status::Timeout("the command was committed at index " + std::to_string(index) +
                                 " but this node has not applied it yet; read from another node or retry"),
                 nullptr},
                index);
  }
  done(std::move(r), index);
}

void ClusterManager::execute_forwarded(std::string payload, CommandDone done) {
  node_->propose_encoded(std::move(payload), std::move(done));
}

void ClusterManager::leave(const std::string& topology_id, bool force, std::function<void(Status)> done) {
  auto finish = [done](Status s, rachis::core::Index) { done(s); };
  if (force || topology_id != node_->view().identity.cluster_id) return node_->leave(topology_id, force, finish);
  const std::string self = node_tag("");
  const auto topo = node_->state().topology();
  std::vector<std::string> peers;
  for (const auto& [tag, n] : topo.nodes) {
    if (tag != self) peers.push_back(n.url);
  }
  const bool started = run_async([this, topology_id, self, peers, finish, done] {
    // A peer that applied our removal proves it is committed: then wiping our
    // log loses nothing the cluster still counts on.
    for (const auto& url : peers) {
      auto r = connections_.call(boost::beast::http::verb::get, url, "/admin/cluster/rachis", "", std::chrono::seconds(3));
      if (!r.ok() || r->status != 200) continue;
      boost::system::error_code ec;
      auto v = json::parse(r->body, ec);
      if (ec || !v.is_object()) continue;
      const auto& o = v.as_object();
      const auto* id = o.if_contains("TopologyId");
      const auto* all = o.if_contains("AllNodes");
      if (!id || !id->is_string() || id->as_string() != topology_id || !all || !all->is_object()) continue;
      if (!all->as_object().contains(self)) return node_->leave(topology_id, true, finish);
    }
    done(Status::InvalidArgument("no node of cluster " + topology_id + " confirms that node " + self +
                                 " was removed; remove it on the leader first (DELETE /admin/cluster/node?nodeTag=" +
                                 self + "), or add force=true to wipe this node anyway (its cluster data is lost)"));
  });
  if (!started) done(Status::Busy("too many cluster requests in flight on this node; retry shortly"));
}

void ClusterManager::read_barrier(std::function<void(Status)> then) {
  read_barrier_until(std::chrono::steady_clock::now() + kLeaderWait, std::move(then));
}

void ClusterManager::read_barrier_until(std::chrono::steady_clock::time_point deadline,
                                        std::function<void(Status)> then) {
  node_->read_index([this, deadline, then = std::move(then)](Status s, rachis::core::Index index) mutable {
    if (s.ok()) return feed_.when_processed(index, [then] { then(Status::Ok()); });
    // No leader yet, or the request was lost: ask again (off the Raft thread) until the deadline.
    if (std::chrono::steady_clock::now() >= deadline) return then(s);
    const bool started = run_async([this, deadline, then]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      read_barrier_until(deadline, std::move(then));
    });
    if (!started) then(s);
  });
}

std::string ClusterManager::node_tag(const std::string& fallback) const {
  const auto v = node_->view();
  const auto topo = node_->state().topology();
  if (const auto* n = topo.by_id(v.identity.node_id)) return n->tag;
  return fallback;
}

std::string ClusterManager::leader_url() const {
  const auto v = node_->view();
  if (v.leader == rachis::core::kNoNode) return "";
  const auto topo = node_->state().topology();
  const auto* n = topo.by_id(v.leader);
  return n ? n->url : "";
}

json::object ClusterManager::topology_json() const {
  const auto v = node_->view();
  const auto topo = node_->state().topology();
  const auto peers = node_->peer_status();
  json::object all, members, promotables, watchers, status;
  std::string self_tag = bootstrap_tag_;
  std::string self_role = "Member";
  const auto now = std::chrono::system_clock::now();
  for (const auto& [tag, n] : topo.nodes) {
    all[tag] = n.url;
    switch (n.role) {
      case rachis::cluster::NodeRole::Member: members[tag] = n.url; break;
      case rachis::cluster::NodeRole::Promotable: promotables[tag] = n.url; break;
      case rachis::cluster::NodeRole::Watcher: watchers[tag] = n.url; break;
    }
    if (n.id == v.identity.node_id) {
      self_tag = tag;
      self_role = rachis::cluster::node_role_name(n.role);
      continue;
    }
    json::object st{{"Name", tag}};
    auto p = peers.find(n.id);
    bool connected = false;
    if (p != peers.end()) {
      const bool heard = p->second.last_received.time_since_epoch().count() != 0;
      connected = p->second.connected && heard &&
                  now - p->second.last_received < std::max<std::chrono::milliseconds>(2 * election_timeout_,
                                                                                      std::chrono::seconds(2));
      st["LastReply"] = heard ? json::value(iso8601(p->second.last_received)) : json::value(nullptr);
      st["ErrorDetails"] = p->second.last_error.empty() ? json::value(nullptr) : json::value(p->second.last_error);
    } else {
      st["LastReply"] = nullptr;
      st["ErrorDetails"] = nullptr;
    }
    st["Connected"] = connected;
    if (v.role == rachis::core::Role::Leader) {
      auto m = v.match.find(n.id);
      st["LastMatchingIndex"] = m == v.match.end() ? 0 : m->second;
    }
    status[tag] = std::move(st);
  }
  std::string leader_tag;
  if (const auto* l = topo.by_id(v.leader)) leader_tag = l->tag;
  std::int64_t leadership_ms = 0;
  if (v.role == rachis::core::Role::Leader) {
    leadership_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                          v.leader_since)
                        .count();
  }
  json::object topology{{"TopologyId", v.identity.cluster_id},
                        {"AllNodes", std::move(all)},
                        {"Members", std::move(members)},
                        {"Promotables", std::move(promotables)},
                        {"Watchers", std::move(watchers)},
                        {"LastNodeId", topo.last_node_tag},
                        {"Etag", topo.etag}};
  return json::object{{"Topology", std::move(topology)},
                      {"Etag", topo.etag},
                      {"Leader", leader_tag.empty() ? json::value(nullptr) : json::value(leader_tag)},
                      {"LeaderShipDuration", leadership_ms},
                      {"CurrentState", state_name(v)},
                      {"NodeTag", self_tag},
                      {"CurrentTerm", v.term},
                      {"ServerRole", self_role},
                      {"CommitIndex", v.commit},
                      {"AppliedIndex", v.applied},
                      {"Status", std::move(status)}};
}

json::object ClusterManager::rachis_info_json() const {
  const auto v = node_->view();
  const auto topo = node_->state().topology();
  json::object all;
  for (const auto& [tag, n] : topo.nodes) all[tag] = n.url;
  std::string leader_tag;
  if (const auto* l = topo.by_id(v.leader)) leader_tag = l->tag;
  return json::object{{"TopologyId", v.identity.cluster_id},
                      {"NodeTag", node_tag(bootstrap_tag_)},
                      {"NodeId", v.identity.node_id},
                      {"ClusterAddress", node_->advertise_address()},
                      {"Fresh", v.fresh},
                      {"CommandVersion", rachis::cluster::kCommandVersion},
                      {"Removed", v.removed},
                      {"NodeCount", topo.nodes.size()},
                      {"AllNodes", std::move(all)},
                      {"Leader", leader_tag},
                      {"CurrentState", state_name(v)},
                      {"CurrentTerm", v.term},
                      {"CommitIndex", v.commit},
                      {"AppliedIndex", v.applied},
                      {"LastIndex", v.last_index}};
}

void ClusterManager::set_channel_handler(ChannelHandler handler) {
  std::lock_guard lock(channel_mu_);
  channel_handler_ = std::move(handler);
}

void ClusterManager::dispatch_channel(char kind, std::string payload, rachis::ChannelConnection connection) {
  ChannelHandler handler;
  {
    std::lock_guard lock(channel_mu_);
    handler = channel_handler_;
  }
  if (!handler || !run_async([handler, kind, payload = std::move(payload), connection]() mutable {
        handler(kind, std::move(payload), connection);
      })) {
    if (connection.ssl) SSL_free(connection.ssl);
    ::close(connection.fd);
  }
}

std::string ClusterManager::refuse_peer(X509* certificate) const {
  if (!tls_) return "";
  return tls_->refuse_peer(certificate, trust_state_.load(std::memory_order_acquire));
}

Result<std::unique_ptr<replication::FrameSocket>> ClusterManager::dial_replication(const std::string& address) const {
  constexpr auto kConnectTimeout = std::chrono::seconds(2);
  if (!tls_) return replication::FrameSocket::connect(address, kConnectTimeout);
  return tls_->dial(address, kConnectTimeout, trust_state_.load(std::memory_order_acquire));
}

}  // namespace corvus::server::cluster
