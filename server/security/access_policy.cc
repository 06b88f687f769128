#include "server/security/access_policy.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <boost/beast/http/verb.hpp>

#include "server/http/error_response.h"
#include "server/security/certificate_upload.h"

namespace corvus::server::security {

namespace rc = rachis::cluster;
using http::RouteAccess;

namespace {

std::string subject_of(const http::ClientCertificate& cert) {
  return "'" + (cert.subject.empty() ? std::string("(no subject)") : cert.subject) + "'";
}

// "'CN=client' (thumbprint AB12...)" — how a message names a certificate.
std::string describe(const http::ClientCertificate& cert) {
  return subject_of(cert) + " (thumbprint " + cert.thumbprint + ")";
}

// "certificate 'name' (thumbprint T, clearance C" + permissions + ")".
std::string describe(const Identity& id, const http::ClientCertificate& cert) {
  std::string out = "certificate ";
  if (id.record) {
    out += "'" + id.record->name + "' (thumbprint " + cert.thumbprint;
    if (id.source == Identity::Source::RegisteredByPublicKeyHash) {
      out += ", registered as " + id.record->thumbprint + " over the same public key";
    }
  } else {
    out += subject_of(cert) + " (thumbprint " + cert.thumbprint;
    out += id.source == Identity::Source::ServerCertificate ? ", this server's own certificate"
                                                            : ", a well-known admin certificate";
  }
  out += ", clearance " + std::string(rc::to_string(id.clearance));
  if (id.clearance == rc::SecurityClearance::ValidUser) {
    if (!id.record || id.record->permissions.empty()) {
      out += ", no database permissions";
    } else {
      out += ", permissions ";
      bool first = true;
      for (const auto& [db, access] : id.record->permissions) {
        if (!first) out += ", ";
        first = false;
        out += db + ": " + std::string(rc::to_string(access));
      }
    }
  }
  return out + ")";
}

rc::DatabaseAccess needed_access(RouteAccess a) {
  switch (a) {
    case RouteAccess::DatabaseAdmin: return rc::DatabaseAccess::Admin;
    case RouteAccess::DatabaseReadWrite: return rc::DatabaseAccess::ReadWrite;
    default: return rc::DatabaseAccess::Read;
  }
}

Refusal forbidden(std::string message) {
  return Refusal{403, std::string(kAuthorizationExceptionType), std::move(message)};
}

constexpr std::string_view kGrantHint =
    " A ClusterAdmin or Operator changes it with EditClientCertificateOperation (POST /admin/certificates/edit).";

}  // namespace

std::string_view to_string(Identity::Source s) {
  switch (s) {
    case Identity::Source::None: return "None";
    case Identity::Source::Unknown: return "Unknown";
    case Identity::Source::ServerCertificate: return "ServerCertificate";
    case Identity::Source::WellKnownAdmin: return "WellKnownAdmin";
    case Identity::Source::Registered: return "Registered";
    case Identity::Source::RegisteredByPublicKeyHash: return "RegisteredByPublicKeyHash";
  }
  return "Unknown";
}

Identity identify(const SecurityOptions& options, const rc::ClusterState& state, const http::ClientCertificate* cert) {
  Identity id;
  if (cert == nullptr || cert->thumbprint.empty()) return id;
  id.clearance = rc::SecurityClearance::ClusterAdmin;
  if ((!options.server_thumbprint.empty() && cert->thumbprint == options.server_thumbprint) ||
      (!options.server_public_key_hash.empty() && cert->public_key_hash == options.server_public_key_hash)) {
    id.source = Identity::Source::ServerCertificate;
    return id;
  }
  if (std::find(options.admin_thumbprints.begin(), options.admin_thumbprints.end(), cert->thumbprint) !=
          options.admin_thumbprints.end() ||
      std::find(options.admin_key_hashes.begin(), options.admin_key_hashes.end(), cert->public_key_hash) !=
          options.admin_key_hashes.end()) {
    id.source = Identity::Source::WellKnownAdmin;
    return id;
  }
  if ((id.record = state.certificate(cert->thumbprint))) {
    id.source = Identity::Source::Registered;
  } else if ((id.record = state.certificate_by_key_hash(cert->public_key_hash))) {
    id.source = Identity::Source::RegisteredByPublicKeyHash;
  } else {
    id.source = Identity::Source::Unknown;
    id.clearance = rc::SecurityClearance::ValidUser;
    return id;
  }
  id.clearance = id.record->clearance;
  return id;
}

std::optional<Refusal> decide(const SecurityOptions& options, const rc::ClusterState& state, RouteAccess access,
                              std::string_view database, const http::ClientCertificate* cert, int64_t now_unix,
                              std::string_view what) {
  if (!options.secured || access == RouteAccess::Open) return std::nullopt;
  if (cert == nullptr || cert->thumbprint.empty()) {
    return Refusal{403, std::string(kAuthenticationExceptionType),
                   "This server requires client certificate for authentication, but none was provided by the client (" +
                       std::string(what) + "). Connect over https with a registered certificate (npm client: new "
                       "DocumentStore(urls, database, { certificate, type: \"pem\" })); a ClusterAdmin registers it "
                       "with PutClientCertificateOperation (PUT /admin/certificates)."};
  }
  if (cert->not_after_unix != 0 && now_unix > cert->not_after_unix) {
    return Refusal{403, std::string(kAuthenticationExceptionType),
                   "The client certificate " + describe(*cert) + " expired on " +
                       format_certificate_date(cert->not_after_unix) + " (now " + format_certificate_date(now_unix) +
                       "). Renew it and register the new one (PutClientCertificateOperation), or re-issue it over "
                       "the same key if it is registered by public key hash."};
  }
  if (cert->not_before_unix != 0 && now_unix < cert->not_before_unix) {
    return Refusal{403, std::string(kAuthenticationExceptionType),
                   "The client certificate " + describe(*cert) + " is not valid before " +
                       format_certificate_date(cert->not_before_unix) + " (now " + format_certificate_date(now_unix) +
                       "). Wait until then, or check the clocks of the client's issuer and of this server."};
  }
  const Identity id = identify(options, state, cert);
  // A certificate registered for a pull replication hub may open that hub's
  // replication connection (judged by the hub, not here) and nothing else,
  // even when someone also registered it as a client certificate: an edge's
  // certificate leaves the building and must not grow into anything more.
  if (id.source != Identity::Source::ServerCertificate && id.source != Identity::Source::WellKnownAdmin) {
    if (auto grants = state.hub_grants(cert->thumbprint, cert->public_key_hash); !grants.empty()) {
      std::string hubs;
      for (const auto& g : grants) {
        if (!hubs.empty()) hubs += ", ";
        hubs += "hub '" + g.access.hub_name + "' of database '" + g.database + "' (access '" + g.access.name + "')";
      }
      return forbidden("The client certificate " + describe(*cert) + " is registered for pull replication only: " +
                       hubs + ". It may open that hub's replication connection and nothing else, so it may not call " +
                       std::string(what) + ". Use a certificate registered with PutClientCertificateOperation "
                       "(PUT /admin/certificates) for anything else.");
    }
  }
  if (!id.known()) {
    return forbidden("The client certificate " + describe(*cert) + " with public key hash " + cert->public_key_hash +
                     " is not registered on this cluster, so it may not call " + std::string(what) +
                     ". A ClusterAdmin registers it with PutClientCertificateOperation (PUT /admin/certificates: "
                     "Name, Certificate, SecurityClearance, Permissions), or starts corvusd with "
                     "--admin-certificate-thumbprint " + cert->thumbprint + ".");
  }
  switch (access) {
    case RouteAccess::Open:
    case RouteAccess::ValidUser:
      return std::nullopt;
    case RouteAccess::Operator:
    case RouteAccess::ClusterAdmin: {
      const auto needed =
          access == RouteAccess::Operator ? rc::SecurityClearance::Operator : rc::SecurityClearance::ClusterAdmin;
      if (id.clearance >= needed) return std::nullopt;
      return forbidden(std::string(what) + " requires clearance " + std::string(rc::to_string(needed)) + "; the " +
                       describe(id, *cert) + " does not have it." + std::string(kGrantHint));
    }
    case RouteAccess::DatabaseRead:
    case RouteAccess::DatabaseReadWrite:
    case RouteAccess::DatabaseAdmin:
      break;
  }
  // Operators and cluster admins reach every database.
  if (id.clearance >= rc::SecurityClearance::Operator) return std::nullopt;
  const rc::DatabaseAccess needed = needed_access(access);
  if (database.empty()) {
    return forbidden(std::string(what) + " names no database, and the " + describe(id, *cert) +
                     " has database permissions only.");
  }
  const auto granted = id.record ? id.record->access_to(database) : std::nullopt;
  if (!granted) {
    return forbidden("The " + describe(id, *cert) + " has no access to database '" + std::string(database) +
                     "' (" + std::string(what) + " needs " + std::string(rc::to_string(needed)) + ")." +
                     std::string(kGrantHint));
  }
  if (*granted < needed) {
    return forbidden(std::string(what) + " needs " + std::string(rc::to_string(needed)) + " access to database '" +
                     std::string(database) + "'; the " + describe(id, *cert) + " has " +
                     std::string(rc::to_string(*granted)) + " there." + std::string(kGrantHint));
  }
  return std::nullopt;
}

std::optional<Refusal> decide_pull_replication(const SecurityOptions& options, const rc::ClusterState& state,
                                               std::string_view database, std::string_view hub,
                                               const http::ClientCertificate* cert, int64_t now_unix) {
  if (!options.secured) return std::nullopt;
  if (cert == nullptr || cert->thumbprint.empty()) {
    return Refusal{403, std::string(kAuthenticationExceptionType),
                   "A pull replication sink must present the certificate registered for hub '" + std::string(hub) +
                       "' of database '" + std::string(database) + "'; none was presented."};
  }
  if ((cert->not_after_unix != 0 && now_unix > cert->not_after_unix) ||
      (cert->not_before_unix != 0 && now_unix < cert->not_before_unix)) {
    return Refusal{403, std::string(kAuthenticationExceptionType),
                   "The sink certificate " + describe(*cert) + " is not valid now (valid " +
                       format_certificate_date(cert->not_before_unix) + " to " +
                       format_certificate_date(cert->not_after_unix) + ")."};
  }
  const auto lower = [](std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  for (const auto& g : state.hub_grants(cert->thumbprint, cert->public_key_hash)) {
    if (lower(g.database) == lower(database) && lower(g.access.hub_name) == lower(hub)) return std::nullopt;
  }
  return forbidden("The certificate " + describe(*cert) + " is not registered for pull replication hub '" +
                   std::string(hub) + "' of database '" + std::string(database) +
                   "'. Register it on the hub with RegisterReplicationHubAccessOperation (PUT "
                   "/databases/{db}/admin/tasks/pull-replication/hub/access?name=<hub>).");
}

std::optional<Refusal> refuse_certificate_management(const SecurityOptions& options, const rc::ClusterState& state,
                                                     const http::ClientCertificate* cert,
                                                     rc::SecurityClearance touched) {
  if (!options.secured || touched != rc::SecurityClearance::ClusterAdmin) return std::nullopt;
  const Identity id = identify(options, state, cert);
  if (id.clearance == rc::SecurityClearance::ClusterAdmin && id.known()) return std::nullopt;
  return forbidden("Only a ClusterAdmin certificate may register, change or delete a ClusterAdmin certificate; the "
                   "caller's clearance is " + std::string(id.known() ? rc::to_string(id.clearance) : "none") + ".");
}

std::optional<http::Response> authorize(const SecurityOptions& options, const rc::ClusterState& state,
                                        const http::Request& req, RouteAccess access) {
  if (!options.secured || access == RouteAccess::Open) return std::nullopt;
  // The common case (allowed) builds no strings: the database is a view of the
  // route parameter, and the request is only named once a refusal needs it.
  std::optional<std::string> name_query;
  std::string_view database = req.param("db");
  if (database.empty() && (name_query = req.query.get("name"))) database = *name_query;
  const auto now = static_cast<int64_t>(std::time(nullptr));
  // A sink asks its hub where the TCP port is with the hub's certificate.
  if (req.path == "/info/remote-task/tcp" && req.client_certificate) {
    const auto db = req.query.get("database");
    const auto task = req.query.get("remote-task");
    if (db && task && !decide_pull_replication(options, state, *db, *task, req.client_certificate, now)) {
      return std::nullopt;
    }
  }
  if (!decide(options, state, access, database, req.client_certificate, now, "")) return std::nullopt;
  std::string what(req.method == boost::beast::http::verb::unknown && !req.method_name.empty()
                       ? std::string_view(req.method_name)
                       : std::string_view(boost::beast::http::to_string(req.method)));
  what += ' ';
  what += req.path.empty() ? std::string_view(req.target).substr(0, req.target.find('?')) : std::string_view(req.path);
  auto refusal = decide(options, state, access, database, req.client_certificate, now, what);
  if (!refusal) return std::nullopt;  // cannot happen (same inputs); allowed rather than a message-less refusal
  return http::error_response(refusal->status, refusal->type, refusal->message, req.target);
}

}  // namespace corvus::server::security
