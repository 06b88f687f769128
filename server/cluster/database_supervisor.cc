#include "server/cluster/database_supervisor.h"

#include <algorithm>

#include <boost/json.hpp>

#include "rachis/cluster/commands/database_commands.h"
#include "server/logging/logger.h"

namespace corvus::server::cluster {

namespace {

constexpr auto kCheckEvery = std::chrono::seconds(1);
// Heard from within this long counts as answering again.
constexpr auto kAlive = std::chrono::seconds(3);

bool erase(std::vector<std::string>& v, const std::string& tag) {
  auto it = std::find(v.begin(), v.end(), tag);
  if (it == v.end()) return false;
  v.erase(it);
  return true;
}

}  // namespace

DatabaseSupervisor::DatabaseSupervisor(ClusterManager& cluster, std::chrono::seconds grace)
    : cluster_(cluster), grace_(grace) {}

void DatabaseSupervisor::start() { thread_ = std::thread([this] { run(); }); }

void DatabaseSupervisor::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DatabaseSupervisor::run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, kCheckEvery, [&] { return stopping_; })) {
    lock.unlock();
    check();
    lock.lock();
  }
}

std::chrono::system_clock::time_point DatabaseSupervisor::last_heard(const std::string& tag,
                                                                     const rachis::NodeView& view,
                                                                     const rachis::cluster::Topology& topo) {
  auto it = topo.nodes.find(tag);
  if (it == topo.nodes.end()) return {};
  if (it->second.id == view.identity.node_id) return std::chrono::system_clock::now();
  const auto peers = cluster_.node().peer_status();
  auto p = peers.find(it->second.id);
  return p == peers.end() ? std::chrono::system_clock::time_point{} : p->second.last_received;
}

std::optional<storage::ChangeVector> DatabaseSupervisor::database_change_vector(const std::string& url,
                                                                                const std::string& database) {
  auto r = cluster_.connections().call(boost::beast::http::verb::get, url, "/databases/" + database + "/stats", "",
                                       std::chrono::seconds(2));
  if (!r.ok() || r->status != 200) return std::nullopt;
  boost::system::error_code ec;
  auto v = boost::json::parse(r->body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* cv = v.as_object().if_contains("DatabaseChangeVector");
  if (!cv || !cv->is_string()) return std::nullopt;
  auto parsed = storage::ChangeVector::parse(std::string(cv->as_string()));
  if (!parsed.ok()) return std::nullopt;
  return std::move(parsed).value();
}

bool DatabaseSupervisor::caught_up_with_members(const rachis::cluster::DatabaseRecord& record, const std::string& url,
                                                const rachis::cluster::Topology& topo) {
  storage::ChangeVector members;
  for (const auto& tag : record.topology.members) {
    auto node = topo.nodes.find(tag);
    if (node == topo.nodes.end()) continue;
    if (auto cv = database_change_vector(node->second.url, record.name)) members.merge(*cv);
  }
  auto own = database_change_vector(url, record.name);
  if (!own) return false;
  const auto order = own->compare(members);
  return order == storage::ChangeVectorOrder::Equal || order == storage::ChangeVectorOrder::Newer;
}

void DatabaseSupervisor::check() {
  const auto view = cluster_.node().view();
  if (view.role != rachis::core::Role::Leader) return;
  const auto now = std::chrono::system_clock::now();
  // A new leader has heard from nobody yet: give everyone the grace first.
  const auto leading_for = std::chrono::steady_clock::now() - view.leader_since;
  const auto topo = cluster_.node().state().topology();
  for (const auto& stored : cluster_.state().records()) {
    const rachis::cluster::DatabaseRecord& record = *stored;
    if (!record.active()) continue;
    rachis::cluster::DatabaseTopology next = record.topology;
    std::string why;
    for (const auto& tag : record.topology.members) {
      if (next.members.size() <= 1) break;
      const auto heard = last_heard(tag, view, topo);
      if (leading_for > grace_ && now - heard > grace_) {
        erase(next.members, tag);
        next.rehabs.push_back(tag);
        why += "node " + tag + " not heard from for over " + std::to_string(grace_.count()) + " s; ";
      }
    }
    std::vector<std::string> candidates = record.topology.rehabs;
    candidates.insert(candidates.end(), record.topology.promotables.begin(), record.topology.promotables.end());
    for (const auto& tag : candidates) {
      auto node = topo.nodes.find(tag);
      if (node == topo.nodes.end() || now - last_heard(tag, view, topo) > kAlive) continue;
      auto match = view.match.find(node->second.id);
      const bool caught_up = node->second.id == view.identity.node_id ||
                             (match != view.match.end() && match->second >= record.topology.stamp);
      if (!caught_up || !caught_up_with_members(record, node->second.url, topo)) continue;
      if (!erase(next.rehabs, tag)) erase(next.promotables, tag);
      next.members.push_back(tag);
      why += "node " + tag + " answers and has caught up (cluster log and replication); ";
    }
    if (next.members == record.topology.members && next.rehabs == record.topology.rehabs &&
        next.promotables == record.topology.promotables) {
      continue;
    }
    rachis::cluster::UpdateDatabaseTopologyCommand cmd;
    cmd.name = record.name;
    cmd.expected_stamp = record.topology.stamp;
    cmd.topology = next;
    log::info("database group change").kv("database", record.name).kv("why", why);
    cluster_.execute(cmd, [name = record.name](rachis::cluster::CommandResult r, rachis::core::Index) {
      if (!r.status.ok()) log::info("database group change not applied").kv("database", name).kv("error", r.status.to_string());
    });
  }
}

}  // namespace corvus::server::cluster
