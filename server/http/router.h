#pragma once
// Router: maps (method, path) to a Handler and its metrics label.
//
// Built once at startup with add() and then only read: after the HttpServer has
// started, the Router must not change, and concurrent match() calls from all I/O
// threads need no lock. The Router must outlive the HttpServer using it.
//
// Patterns are "/"-separated; a segment "{name}" matches exactly one non-empty path
// segment, whose percent-decoded value lands in Request::params["name"]. Literal
// segments compare ASCII case-insensitively (as RavenDB does). A literal child is
// preferred to a {param} at the same position, with backtracking, so
// "/admin/databases" and "/{x}/databases" can coexist. One trailing '/' on the
// request path is ignored. Matching walks a segment trie: no allocation apart from
// the params map.

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/http/request.h"
#include "server/http/route_access.h"
#include "server/http/response.h"

namespace corvus::server::http {

// Per-route choices made at wiring time.
struct RouteOptions {
  // The handler pulls the body through Request::body_reader instead of getting
  // it whole: no max_body_bytes limit (max_streamed_body_bytes instead), a
  // bounded idle time per chunk. For attachment uploads.
  bool streaming_body = false;
  // Decides per request, from its header, whether the body is streamed (e.g.
  // bulk_docs streams multipart/form-data and reads JSON whole). Ignored when
  // streaming_body is set. Called on I/O threads.
  std::function<bool(const boost::beast::http::fields&)> streaming_body_if;
};

class Router {
 public:
  struct Route {
    boost::beast::http::verb method;
    std::string method_name;  // an extension method (verb::unknown to Beast), e.g. "RESET"; else empty
    std::string pattern;
    std::string name;  // metrics label "route"
    RouteAccess access;  // the clearance it requires
    Handler handler;     // checks `access` through the authorizer first
    size_t index;      // position in routes(), dense from 0
    RouteOptions options;
    std::vector<std::pair<size_t, std::string>> params;  // segment index -> param name
  };

  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Registers `handler` for `method` on `pattern` (e.g. "/databases/{db}/docs"),
  // requiring `access`. `route_name` is the metrics label, e.g. "docs_get".
  // Every request first goes through the authorizer (set_authorizer), which may
  // answer it instead of the handler. Registering the same method
  // and pattern twice, or a malformed pattern (not starting with '/', braces not
  // spanning a whole segment), is a wiring bug: logged and aborts.
  void add(boost::beast::http::verb method, std::string pattern, RouteAccess access, std::string route_name,
           Handler handler, RouteOptions options = {});
  // The same for a method Beast has no verb for (RavenDB's RESET): matched by
  // its name (case-insensitive) on requests whose verb is unknown.
  void add_extension_method(std::string method_name, std::string pattern, RouteAccess access, std::string route_name,
                            Handler handler);

  // Finds the route for `method` and `raw_path` (the target's path, still
  // percent-encoded, without the query). On success fills `params` (cleared first)
  // and returns the route, valid for the Router's lifetime; nullptr if no route
  // matches the path, or none for that method. `method_name` is the request's
  // method as sent, which decides among extension methods (verb::unknown).
  const Route* match(boost::beast::http::verb method, std::string_view raw_path,
                     std::unordered_map<std::string, std::string>& params, std::string_view method_name = {}) const;

  // Convenience for the connection and tests: matches `req` (target/method), fills
  // req.params and calls the handler; otherwise responds with route_not_found().
  void dispatch(Request& req, Respond respond) const;

  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

  // Extra response headers decided from the request alone, before its handler
  // runs (e.g. Refresh-Topology for a client with an old topology). Set once
  // at wiring time; called on I/O threads.
  using HeaderHook = std::function<std::vector<std::pair<std::string, std::string>>(const Request&)>;
  void set_header_hook(HeaderHook hook) { header_hook_ = std::move(hook); }
  const HeaderHook& header_hook() const { return header_hook_; }

  // Decides whether `req` may reach a route requiring `access`: nullopt lets
  // the handler run, a Response (a refusal) answers instead. Set once at wiring
  // time, before the server starts; called on I/O threads. Without one every
  // request reaches its handler.
  using Authorizer = std::function<std::optional<Response>(const Request&, RouteAccess)>;
  void set_authorizer(Authorizer authorizer) { authorizer_ = std::move(authorizer); }

  // 400 {"Type":"Raven.Client.Exceptions.Routing.RouteNotFoundException",
  //      "Message":"There is no handler for path: GET /x", ...}
  static Response route_not_found(boost::beast::http::verb method, std::string_view target,
                                  std::string_view method_name = {});

 private:
  struct Node;
  const Route* match_node(const Node& node, const std::string_view* segs, size_t n, size_t i,
                          boost::beast::http::verb method, std::string_view method_name) const;
  // add()'s work; `method_name` only for verb::unknown.
  void add_route(boost::beast::http::verb method, std::string method_name, std::string pattern, RouteAccess access,
                 std::string route_name, Handler handler, RouteOptions options);

  std::unique_ptr<Node> root_;
  std::vector<std::unique_ptr<Route>> routes_;
  HeaderHook header_hook_;
  Authorizer authorizer_;
};

}  // namespace corvus::server::http
