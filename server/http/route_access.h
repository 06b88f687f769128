#pragma once
// RouteAccess: the clearance a route requires, stated beside the route when it
// is registered (Router::add takes one, so no route exists without it). The
// HTTP layer only carries it; server/security/access_policy decides whether a
// request's client certificate meets it (and only on a secured server).
// Values; thread-safe.

#include <cstdint>
#include <string_view>

namespace corvus::server::http {

enum class RouteAccess : std::uint8_t {
  Open,               // anyone, even without a certificate: /healthz, /build/version, whoami
  ValidUser,          // any registered certificate: topology, the database list
  DatabaseRead,       // Read access to the database in the path ({db}, else ?name=)
  DatabaseReadWrite,  // ReadWrite access to it
  DatabaseAdmin,      // Admin access to it
  Operator,           // Operator or ClusterAdmin clearance: creating/deleting databases, metrics
  ClusterAdmin,       // ClusterAdmin clearance: cluster membership, certificates, node-to-node calls
};

constexpr std::string_view to_string(RouteAccess a) {
  switch (a) {
    case RouteAccess::Open: return "Open";
    case RouteAccess::ValidUser: return "ValidUser";
    case RouteAccess::DatabaseRead: return "DatabaseRead";
    case RouteAccess::DatabaseReadWrite: return "DatabaseReadWrite";
    case RouteAccess::DatabaseAdmin: return "DatabaseAdmin";
    case RouteAccess::Operator: return "Operator";
    case RouteAccess::ClusterAdmin: return "ClusterAdmin";
  }
  return "ClusterAdmin";
}

}  // namespace corvus::server::http
