#pragma once
// The authorization decision of a secured corvusd, in one place: given the
// clearance a route requires (http::RouteAccess, stated at registration), the
// database the request names, and the client certificate the TLS layer
// recorded, allow or refuse with an explanation a person can act on. Every
// refusal is a 403, as RavenDB answers (the official clients turn a 403 into
// AuthorizationException with the server's message appended): Type
// AuthenticationException for no certificate, expired, not yet valid;
// AuthorizationException for an unknown thumbprint, no access to this
// database, insufficient clearance.
//
// Who a certificate is (identify()): the node's own certificate and the
// --admin-certificate-thumbprint ones are ClusterAdmin; otherwise the
// certificate registered in the cluster state with its thumbprint, or else
// with its public key hash (a pinned key keeps its access across re-issued
// certificates).
//
// A certificate registered for a pull replication hub (the database record's
// hub accesses) is refused everything here, whatever else it is registered
// as, unless it is the node's own or a well-known admin certificate: the hub
// authorizes its replication connection itself.
//
// An unsecured server (no --certificate) allows everything, as RavenDB does:
// SecurityOptions::secured is that one switch.
//
// Free functions of their inputs (the cluster state is only read); thread-safe.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rachis/cluster/certificate_record.h"
#include "rachis/cluster/cluster_state.h"
#include "server/http/request.h"
#include "server/http/response.h"
#include "server/http/route_access.h"

namespace corvus::server::security {

// Set once at start-up (main), before the server answers requests.
struct SecurityOptions {
  // Serving TLS (--certificate): requests are authorized. Off: all allowed.
  bool secured = false;
  // The node's own certificate (what other nodes present): ClusterAdmin.
  std::string server_thumbprint;
  std::string server_public_key_hash;
  // --admin-certificate-thumbprint (upper-case hex): ClusterAdmin.
  std::vector<std::string> admin_thumbprints;
  // --admin-certificate-key-hash (base64 SHA-256 of the public key): ClusterAdmin.
  std::vector<std::string> admin_key_hashes;
};

// Who a presented certificate is to this server.
struct Identity {
  enum class Source {
    None,                       // no certificate presented
    Unknown,                    // neither registered nor well known
    ServerCertificate,          // the node's own certificate
    WellKnownAdmin,             // --admin-certificate-thumbprint
    Registered,                 // registered with this thumbprint
    RegisteredByPublicKeyHash,  // a registered certificate over the same public key
  };
  Source source = Source::None;
  rachis::cluster::SecurityClearance clearance = rachis::cluster::SecurityClearance::ValidUser;
  std::shared_ptr<const rachis::cluster::CertificateRecord> record;  // Registered* only
  bool known() const { return source != Source::None && source != Source::Unknown; }
};
std::string_view to_string(Identity::Source s);

Identity identify(const SecurityOptions& options, const rachis::cluster::ClusterState& state,
                  const http::ClientCertificate* cert);

struct Refusal {
  unsigned status;     // 403
  std::string type;    // RavenDB exception type (the clients map it)
  std::string message;
};

inline constexpr std::string_view kAuthenticationExceptionType =
    "Raven.Client.Exceptions.Security.AuthenticationException";
inline constexpr std::string_view kAuthorizationExceptionType =
    "Raven.Client.Exceptions.Security.AuthorizationException";

// The decision for one request. `database`: the database the request names
// ("" when none); `what`: how to name the request in a message ("PUT
// /admin/databases"); `now_unix`: the current time. nullopt = allowed.
std::optional<Refusal> decide(const SecurityOptions& options, const rachis::cluster::ClusterState& state,
                              http::RouteAccess access, std::string_view database,
                              const http::ClientCertificate* cert, int64_t now_unix, std::string_view what);

// A pull replication sink's connection to hub `hub` of `database` (the TCP
// operation "PullReplication", and GET /info/remote-task/tcp, which tells
// the sink where that is): allowed for a certificate registered for that hub
// (by thumbprint or public key hash) and valid now; nothing else is. nullopt
// = allowed; always allowed on an unsecured server.
std::optional<Refusal> decide_pull_replication(const SecurityOptions& options,
                                               const rachis::cluster::ClusterState& state, std::string_view database,
                                               std::string_view hub, const http::ClientCertificate* cert,
                                               int64_t now_unix);

// Certificate management (register, edit, delete) on top of the route's
// Operator clearance: a certificate that is, or becomes, ClusterAdmin is
// managed by a ClusterAdmin only (as in RavenDB), so an Operator cannot raise
// itself or anyone else. `touched`: the highest clearance involved (old and
// new). nullopt = allowed; always allowed on an unsecured server.
std::optional<Refusal> refuse_certificate_management(const SecurityOptions& options,
                                                     const rachis::cluster::ClusterState& state,
                                                     const http::ClientCertificate* cert,
                                                     rachis::cluster::SecurityClearance touched);

// decide() for an HTTP request (the database from the {db} route parameter,
// else ?name=; the clock now), as the refusal response; nullopt = allowed.
std::optional<http::Response> authorize(const SecurityOptions& options, const rachis::cluster::ClusterState& state,
                                        const http::Request& req, http::RouteAccess access);

}  // namespace corvus::server::security
