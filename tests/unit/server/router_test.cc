#include "server/http/router.h"

#include <doctest/doctest.h>

#include "server/http/error_response.h"

using namespace corvus::server::http;
namespace bhttp = boost::beast::http;

namespace {
Handler named(std::string* out, std::string name) {
  return [out, name](const Request&, Respond respond) {
    *out = name;
    respond(Response::empty(204));
  };
}
}  // namespace

TEST_CASE("Router: literal and param segments, params decoded") {
  Router r;
  std::string hit;
  r.add(bhttp::verb::get, "/databases/{db}/docs", RouteAccess::Open, "docs_get", named(&hit, "docs_get"));
  r.add(bhttp::verb::put, "/databases/{db}/docs", RouteAccess::Open, "docs_put", named(&hit, "docs_put"));
  r.add(bhttp::verb::get, "/topology", RouteAccess::Open, "topology", named(&hit, "topology"));
  std::unordered_map<std::string, std::string> params;

  const auto* route = r.match(bhttp::verb::get, "/databases/Shop%20One/docs", params);
  REQUIRE(route != nullptr);
  CHECK(route->name == "docs_get");
  CHECK(params.at("db") == "Shop One");

  route = r.match(bhttp::verb::put, "/databases/x/docs", params);
  REQUIRE(route != nullptr);
  CHECK(route->name == "docs_put");

  route = r.match(bhttp::verb::get, "/topology", params);
  REQUIRE(route != nullptr);
  CHECK(params.empty());
  CHECK(r.routes().size() == 3);
  CHECK(r.routes()[2]->index == 2);
}

TEST_CASE("Router: no match for unknown path, wrong method, empty param, extra segments") {
  Router r;
  std::string hit;
  r.add(bhttp::verb::get, "/databases/{db}/docs", RouteAccess::Open, "docs_get", named(&hit, "docs_get"));
  std::unordered_map<std::string, std::string> params;
  CHECK(r.match(bhttp::verb::get, "/nope", params) == nullptr);
  CHECK(r.match(bhttp::verb::delete_, "/databases/x/docs", params) == nullptr);
  CHECK(r.match(bhttp::verb::get, "/databases//docs", params) == nullptr);
  CHECK(r.match(bhttp::verb::get, "/databases/x/docs/more", params) == nullptr);
  CHECK(r.match(bhttp::verb::get, "/databases/x", params) == nullptr);
  CHECK(r.match(bhttp::verb::get, "", params) == nullptr);
}

TEST_CASE("Router: case-insensitive literals and one trailing slash") {
  Router r;
  std::string hit;
  r.add(bhttp::verb::get, "/cluster/topology", RouteAccess::Open, "cluster_topology", named(&hit, "ct"));
  r.add(bhttp::verb::get, "/", RouteAccess::Open, "root", named(&hit, "root"));
  std::unordered_map<std::string, std::string> params;
  CHECK(r.match(bhttp::verb::get, "/Cluster/Topology", params) != nullptr);
  CHECK(r.match(bhttp::verb::get, "/cluster/topology/", params) != nullptr);
  const auto* root = r.match(bhttp::verb::get, "/", params);
  REQUIRE(root != nullptr);
  CHECK(root->name == "root");
}

TEST_CASE("Router: literal preferred over param, with backtracking by method") {
  Router r;
  std::string hit;
  r.add(bhttp::verb::get, "/databases/{db}/stats", RouteAccess::Open, "stats", named(&hit, "stats"));
  r.add(bhttp::verb::post, "/databases/admin/stats", RouteAccess::Open, "admin_stats", named(&hit, "admin"));
  r.add(bhttp::verb::get, "/databases/{db}/docs/{id}", RouteAccess::Open, "doc", named(&hit, "doc"));
  std::unordered_map<std::string, std::string> params;

  const auto* route = r.match(bhttp::verb::post, "/databases/admin/stats", params);
  REQUIRE(route != nullptr);
  CHECK(route->name == "admin_stats");
  // GET on the literal path falls back to the {db} route.
  route = r.match(bhttp::verb::get, "/databases/admin/stats", params);
  REQUIRE(route != nullptr);
  CHECK(route->name == "stats");
  CHECK(params.at("db") == "admin");

  route = r.match(bhttp::verb::get, "/databases/d1/docs/users%2F1", params);
  REQUIRE(route != nullptr);
  CHECK(params.at("db") == "d1");
  CHECK(params.at("id") == "users/1");  // %2F inside a segment does not split it
}

TEST_CASE("Router: dispatch calls the handler or answers RouteNotFound") {
  Router r;
  std::string hit;
  r.add(bhttp::verb::get, "/databases/{db}/docs", RouteAccess::Open, "docs_get", named(&hit, "docs_get"));

  Request req;
  req.method = bhttp::verb::get;
  req.target = "/databases/db1/docs?id=users%2F1";
  Response got;
  r.dispatch(req, [&](Response resp) { got = std::move(resp); });
  CHECK(hit == "docs_get");
  CHECK(got.status == 204);
  CHECK(req.params.at("db") == "db1");

  req.method = bhttp::verb::post;
  r.dispatch(req, [&](Response resp) { got = std::move(resp); });
  CHECK(got.status == 400);
  CHECK(got.body ==
        R"({"Url":"/databases/db1/docs?id=users%2F1","Type":"Raven.Client.Exceptions.Routing.RouteNotFoundException",)"
        R"("Message":"There is no handler for path: POST /databases/db1/docs?id=users%2F1",)"
        R"("Error":"There is no handler for path: POST /databases/db1/docs?id=users%2F1"})");
}

TEST_CASE("Router: the authorizer sees each route's access and may answer instead of the handler") {
  Router r;
  std::string hit;
  r.add(bhttp::verb::get, "/healthz", RouteAccess::Open, "healthz", named(&hit, "healthz"));
  r.add(bhttp::verb::put, "/admin/databases", RouteAccess::Operator, "db_put", named(&hit, "db_put"));
  CHECK(r.routes()[1]->access == RouteAccess::Operator);
  std::vector<RouteAccess> seen;
  r.set_authorizer([&](const Request&, RouteAccess access) -> std::optional<Response> {
    seen.push_back(access);
    if (access == RouteAccess::Open) return std::nullopt;
    return error_response(403, "Raven.Client.Exceptions.Security.AuthorizationException", "no", "/admin/databases");
  });
  Request req;
  req.method = bhttp::verb::get;
  req.target = "/healthz";
  unsigned status = 0;
  r.dispatch(req, [&](Response resp) { status = resp.status; });
  CHECK(status == 204);
  CHECK(hit == "healthz");
  hit.clear();
  req.method = bhttp::verb::put;
  req.target = "/admin/databases?name=x";
  r.dispatch(req, [&](Response resp) { status = resp.status; });
  CHECK(status == 403);
  CHECK(hit.empty());  // the handler never ran
  CHECK(seen == std::vector<RouteAccess>{RouteAccess::Open, RouteAccess::Operator});
}

TEST_CASE("Router: an extension method (RESET) is matched by its name, beside the verbs of the same path") {
  Router r;
  std::string hit;
  r.add(bhttp::verb::delete_, "/databases/{db}/indexes", RouteAccess::Open, "index_delete", named(&hit, "delete"));
  r.add_extension_method("RESET", "/databases/{db}/indexes", RouteAccess::Open, "index_reset", named(&hit, "reset"));
  std::unordered_map<std::string, std::string> params;
  const auto* route = r.match(bhttp::verb::unknown, "/databases/db/indexes", params, "reset");
  REQUIRE(route != nullptr);
  CHECK(route->name == "index_reset");
  CHECK(params.at("db") == "db");
  CHECK(r.match(bhttp::verb::delete_, "/databases/db/indexes", params)->name == "index_delete");
  // Another unknown method, or none given, matches nothing.
  CHECK(r.match(bhttp::verb::unknown, "/databases/db/indexes", params, "PURGEALL") == nullptr);
  CHECK(r.match(bhttp::verb::unknown, "/databases/db/indexes", params) == nullptr);

  Request req;
  req.method = bhttp::verb::unknown;
  req.method_name = "RESET";
  req.target = "/databases/db1/indexes?name=x";
  Response got;
  r.dispatch(req, [&](Response resp) { got = std::move(resp); });
  CHECK(hit == "reset");
  req.method_name = "FROB";
  r.dispatch(req, [&](Response resp) { got = std::move(resp); });
  CHECK(got.status == 400);
  CHECK(got.body.find("There is no handler for path: FROB /databases/db1/indexes?name=x") != std::string::npos);
}
