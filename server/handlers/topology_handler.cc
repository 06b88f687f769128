// The bootstrap endpoints the official clients call first: the database
// topology (/topology, from the database record's group), the cluster
// topology (/cluster/topology), node info, build version and client
// configuration. Also the Refresh-Topology header: a database request whose
// Topology-Etag is older than the group's stamp is told to fetch /topology.

#include <charconv>
#include <thread>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;

constexpr const char* kProductVersion = "7.0";
constexpr const char* kFullVersion = "7.0.0";
constexpr int kBuildVersion = 70;

void handle_database_topology(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  auto record = store.cluster().state().record(*name);
  if (!record || !record->active()) return respond(database_missing(*name, req.target));
  const auto topo = store.cluster().node().state().topology();
  boost::json::array nodes;
  auto add = [&](const std::vector<std::string>& tags, const char* role) {
    for (const auto& tag : tags) {
      auto it = topo.nodes.find(tag);
      if (it == topo.nodes.end()) continue;
      nodes.push_back(boost::json::object{
          {"Url", it->second.url}, {"ClusterTag", tag}, {"ServerRole", role}, {"Database", record->name}});
    }
  };
  // Members first: the clients prefer the first healthy Member.
  add(record->topology.members, "Member");
  add(record->topology.promotables, "Promotable");
  add(record->topology.rehabs, "Rehab");
  boost::json::object out{{"Nodes", std::move(nodes)}, {"Etag", record->topology.stamp}};
  respond(http::Response::json(200, boost::json::serialize(out)));
}

// Refresh-Topology for /databases/{db}/... requests with an older Topology-Etag.
std::vector<std::pair<std::string, std::string>> topology_headers(ServerStore& store, const http::Request& req) {
  constexpr std::string_view kPrefix = "/databases/";
  std::string_view target = req.target;
  const std::string_view etag_header = unquote(req.header("Topology-Etag"));
  if (etag_header.empty() || !target.starts_with(kPrefix)) return {};
  target.remove_prefix(kPrefix.size());
  const std::string_view name = target.substr(0, target.find_first_of("/?"));
  std::int64_t known = 0;
  auto [ptr, ec] = std::from_chars(etag_header.data(), etag_header.data() + etag_header.size(), known);
  if (ec != std::errc()) return {};
  auto record = store.cluster().state().record(name);
  // A database being deleted is "missing", not "moved": no refresh then.
  if (!record || !record->active() || static_cast<std::int64_t>(record->topology.stamp) <= known) return {};
  return {{"Refresh-Topology", "true"}};
}

void handle_cluster_topology(ServerStore& store, const http::Request&, const http::Respond& respond) {
  respond(http::Response::json(200, boost::json::serialize(store.cluster().topology_json())));
}

void handle_node_info(ServerStore& store, const http::Request&, const http::Respond& respond) {
  boost::json::object out{{"NodeTag", store.node_tag()},
                          {"ServerRole", "Member"},
                          {"TopologyId", store.topology_id()},
                          {"ServerId", store.server_id()},
                          {"Certificate", nullptr},
                          {"NumberOfCores", std::thread::hardware_concurrency()},
                          {"HasFixedPort", true}};
  respond(http::Response::json(200, boost::json::serialize(out)));
}

void handle_build_version(const http::Respond& respond) {
  boost::json::object out{{"BuildVersion", kBuildVersion},
                          {"ProductVersion", kProductVersion},
                          {"CommitHash", "corvus"},
                          {"FullVersion", kFullVersion}};
  respond(http::Response::json(200, boost::json::serialize(out)));
}

void handle_client_configuration(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  if (!find_database(store, req, respond)) return;
  respond(http::Response::json(200, "{\"Etag\":0,\"Configuration\":null}"));
}

}  // namespace

void register_topology_routes(http::Router& router, ServerStore& store) {
  router.set_header_hook([&store](const http::Request& req) { return topology_headers(store, req); });
  router.add(verb::get, "/topology", http::RouteAccess::ValidUser, "topology", [&store](const http::Request& req, http::Respond respond) {
    handle_database_topology(store, req, respond);
  });
  router.add(verb::get, "/cluster/topology", http::RouteAccess::ValidUser, "cluster_topology",
             [&store](const http::Request& req, http::Respond respond) { handle_cluster_topology(store, req, respond); });
  router.add(verb::get, "/cluster/node-info", http::RouteAccess::ValidUser, "cluster_node_info",
             [&store](const http::Request& req, http::Respond respond) { handle_node_info(store, req, respond); });
  router.add(verb::get, "/build/version", http::RouteAccess::Open, "build_version",
             [](const http::Request&, http::Respond respond) { handle_build_version(respond); });
  router.add(verb::get, "/databases/{db}/configuration/client", http::RouteAccess::DatabaseRead, "client_configuration",
             [&store](const http::Request& req, http::Respond respond) {
               handle_client_configuration(store, req, respond);
             });
}

}  // namespace corvus::server::handlers
