// /admin/failpoints: arm, release and list failpoints (failpoints/README.md).
// Registered only when corvusd runs with --enable-failpoints; otherwise the
// routes do not exist (400 RouteNotFound like any unknown path).

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "failpoints/failpoints.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/server_store.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;

void handle_arm(const http::Request& req, const http::Respond& respond) {
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  const std::string action = req.query.get("action").value_or("");
  failpoints::Arming arming;
  if (action == "pause") {
    arming.action = failpoints::Action::Pause;
  } else if (action == "delay") {
    arming.action = failpoints::Action::Delay;
  } else if (action == "crash") {
    arming.action = failpoints::Action::Crash;
  } else if (action != "off") {
    return respond_error(respond,
                         Status::InvalidArgument("action must be pause, delay, crash or off; got '" + action + "'"), req);
  }
  auto ms = query_uint(req, "ms", 0);
  auto times = query_uint(req, "times", 0);
  if (!ms.ok()) return respond_error(respond, ms.status(), req);
  if (!times.ok()) return respond_error(respond, times.status(), req);
  arming.delay = std::chrono::milliseconds(*ms);
  arming.times = *times;
  if (Status s = failpoints::arm(*name, arming); !s.ok()) return respond_error(respond, s, req);
  respond(http::Response::json(200, json::serialize(json::object{{"Name", *name}, {"Action", action}})));
}

void handle_release(const http::Request& req, const http::Respond& respond) {
  auto name = required_query(req, "name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  failpoints::release(*name);
  respond(http::Response::json(200, json::serialize(json::object{{"Name", *name}, {"Released", true}})));
}

void handle_list(const http::Respond& respond) {
  json::array points;
  for (const auto& p : failpoints::list()) {
    points.push_back(json::object{
        {"Name", p.name}, {"Action", failpoints::action_name(p.action)}, {"Hits", p.hits}, {"Paused", p.paused}});
  }
  respond(http::Response::json(200, json::serialize(json::object{{"Failpoints", std::move(points)}})));
}

}  // namespace

void register_failpoint_routes(http::Router& router, ServerStore& store) {
  if (!store.options().enable_failpoints) return;
  failpoints::enable();
  router.add(verb::put, "/admin/failpoints", http::RouteAccess::ClusterAdmin, "failpoints_arm",
             [](const http::Request& req, http::Respond respond) { handle_arm(req, respond); });
  router.add(verb::post, "/admin/failpoints/release", http::RouteAccess::ClusterAdmin, "failpoints_release",
             [](const http::Request& req, http::Respond respond) { handle_release(req, respond); });
  router.add(verb::get, "/admin/failpoints", http::RouteAccess::ClusterAdmin, "failpoints_list",
             [](const http::Request&, http::Respond respond) { handle_list(respond); });
}

}  // namespace corvus::server::handlers
