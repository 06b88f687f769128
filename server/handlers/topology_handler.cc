// The bootstrap endpoints the official clients call first: the database
// topology (/topology), the cluster topology (/cluster/topology), node info,
// build version and client configuration. Corvus answers them for the
// single-node cluster this node forms until Rachis joins it to others; the
// cluster topology comes from the Rachis state (server/cluster).

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
  auto db = store.databases().get(*name);
  if (!db) return respond(database_missing(*name, req.target));
  boost::json::object node{{"Url", store.public_url()},
                           {"ClusterTag", store.node_tag()},
                           {"ServerRole", "Member"},
                           {"Database", db->name()}};
  boost::json::object out{{"Nodes", boost::json::array{node}}, {"Etag", store.cluster().node().state().topology().etag}};
  respond(http::Response::json(200, boost::json::serialize(out)));
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
  router.add(verb::get, "/topology", "topology", [&store](const http::Request& req, http::Respond respond) {
    handle_database_topology(store, req, respond);
  });
  router.add(verb::get, "/cluster/topology", "cluster_topology",
             [&store](const http::Request& req, http::Respond respond) { handle_cluster_topology(store, req, respond); });
  router.add(verb::get, "/cluster/node-info", "cluster_node_info",
             [&store](const http::Request& req, http::Respond respond) { handle_node_info(store, req, respond); });
  router.add(verb::get, "/build/version", "build_version",
             [](const http::Request&, http::Respond respond) { handle_build_version(respond); });
  router.add(verb::get, "/databases/{db}/configuration/client", "client_configuration",
             [&store](const http::Request& req, http::Respond respond) {
               handle_client_configuration(store, req, respond);
             });
}

}  // namespace corvus::server::handlers
