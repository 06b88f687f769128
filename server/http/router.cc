#include "server/http/router.h"

#include <array>
#include <cstdio>
#include <cstdlib>

#include "server/http/error_response.h"
#include "server/http/query_string.h"

namespace corvus::server::http {
namespace http = boost::beast::http;

namespace {

constexpr size_t kMaxSegments = 64;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Splits "/a/b/c" into {"a","b","c"}; "/" gives zero segments. One trailing '/' is
// dropped. Returns false if there are more than `max` segments or no leading '/'.
bool split_path(std::string_view path, std::string_view* out, size_t max, size_t& n) {
  n = 0;
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return true;
  while (true) {
    if (n == max) return false;
    size_t slash = path.find('/');
    out[n++] = path.substr(0, slash);
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

[[noreturn]] void wiring_bug(const std::string& what) {
  std::fprintf(stderr, "corvus::server::http::Router: %s\n", what.c_str());
  std::abort();
}

}  // namespace

struct Router::Node {
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> literals;
  std::unique_ptr<Node> param;
  std::vector<const Route*> routes;  // routes ending here, one per method
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

void Router::add(http::verb method, std::string pattern, RouteAccess access, std::string route_name,
                 Handler handler, RouteOptions options) {
  if (method == http::verb::unknown) wiring_bug("route " + pattern + " has no method (use add_extension_method)");
  add_route(method, "", std::move(pattern), access, std::move(route_name), std::move(handler), std::move(options));
}

void Router::add_extension_method(std::string method_name, std::string pattern, RouteAccess access,
                                  std::string route_name, Handler handler) {
  if (method_name.empty() || http::string_to_verb(method_name) != http::verb::unknown)
    wiring_bug("'" + method_name + "' is not an extension method (use add)");
  add_route(http::verb::unknown, std::move(method_name), std::move(pattern), access, std::move(route_name),
            std::move(handler), {});
}

void Router::add_route(http::verb method, std::string method_name, std::string pattern, RouteAccess access,
                       std::string route_name, Handler handler, RouteOptions options) {
  std::array<std::string_view, kMaxSegments> segs;
  size_t n = 0;
  if (!split_path(pattern, segs.data(), segs.size(), n)) wiring_bug("bad route pattern '" + pattern + "'");

  auto route = std::make_unique<Route>();
  Node* node = root_.get();
  for (size_t i = 0; i < n; ++i) {
    std::string_view seg = segs[i];
    bool is_param = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
    if (!is_param && (seg.find('{') != std::string_view::npos || seg.find('}') != std::string_view::npos)) {
      wiring_bug("braces must span a whole segment in route pattern '" + pattern + "'");
    }
    if (seg.empty()) wiring_bug("empty segment in route pattern '" + pattern + "'");
    if (is_param) {
      if (!node->param) node->param = std::make_unique<Node>();
      route->params.emplace_back(i, std::string(seg.substr(1, seg.size() - 2)));
      node = node->param.get();
      continue;
    }
    Node* next = nullptr;
    for (auto& [lit, child] : node->literals) {
      if (iequals(lit, seg)) next = child.get();
    }
    if (next == nullptr) {
      node->literals.emplace_back(std::string(seg), std::make_unique<Node>());
      next = node->literals.back().second.get();
    }
    node = next;
  }
  for (const Route* r : node->routes) {
    if (r->method == method && iequals(r->method_name, method_name)) {
      wiring_bug("duplicate route " + (method_name.empty() ? std::string(http::to_string(method)) : method_name) + " " +
                 pattern + " (already " + r->pattern + ")");
    }
  }
  route->method = method;
  route->method_name = std::move(method_name);
  route->pattern = std::move(pattern);
  route->name = std::move(route_name);
  route->access = access;
  // The check lives in the stored handler, so every way of reaching a route
  // (the connection, dispatch()) passes it.
  route->handler = [this, access, inner = std::move(handler)](const Request& req, Respond respond) {
    if (authorizer_) {
      if (auto refusal = authorizer_(req, access)) {
        respond(std::move(*refusal));
        return;
      }
    }
    inner(req, std::move(respond));
  };
  route->index = routes_.size();
  route->options = options;
  node->routes.push_back(route.get());
  routes_.push_back(std::move(route));
}

const Router::Route* Router::match_node(const Node& node, const std::string_view* segs, size_t n, size_t i,
                                        http::verb method, std::string_view method_name) const {
  if (i == n) {
    for (const Route* r : node.routes) {
      if (r->method == method && (method != http::verb::unknown || iequals(r->method_name, method_name))) return r;
    }
    return nullptr;
  }
  for (const auto& [lit, child] : node.literals) {
    if (iequals(lit, segs[i])) {
      if (const Route* r = match_node(*child, segs, n, i + 1, method, method_name)) return r;
      break;
    }
  }
  if (node.param && !segs[i].empty()) return match_node(*node.param, segs, n, i + 1, method, method_name);
  return nullptr;
}

const Router::Route* Router::match(http::verb method, std::string_view raw_path,
                                   std::unordered_map<std::string, std::string>& params,
                                   std::string_view method_name) const {
  params.clear();
  std::array<std::string_view, kMaxSegments> segs;
  size_t n = 0;
  if (!split_path(raw_path, segs.data(), segs.size(), n)) return nullptr;
  const Route* r = match_node(*root_, segs.data(), n, 0, method, method_name);
  if (r == nullptr) return nullptr;
  for (const auto& [idx, name] : r->params) {
    std::string& value = params[name];
    percent_decode(segs[idx], value, false);
  }
  return r;
}

void Router::dispatch(Request& req, Respond respond) const {
  std::string_view target = req.target;
  std::string_view raw_path = target.substr(0, target.find('?'));
  const Route* r = match(req.method, raw_path, req.params, req.method_name);
  if (r == nullptr) {
    respond(route_not_found(req.method, req.target, req.method_name));
    return;
  }
  r->handler(req, std::move(respond));
}

Response Router::route_not_found(http::verb method, std::string_view target, std::string_view method_name) {
  std::string message = "There is no handler for path: ";
  if (method == http::verb::unknown && !method_name.empty())
    message += method_name;
  else
    message += http::to_string(method);
  message += ' ';
  message += target;
  return error_response(400, kRouteNotFoundType, message, target);
}

}  // namespace corvus::server::http
