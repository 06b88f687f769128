// Client certificates over HTTP, what the official clients send:
//   POST   /admin/certificates              generate, register and download a zip of .crt/.key/.pfx
//                                           (CreateClientCertificateOperation): {Name, SecurityClearance,
//                                           Password, Permissions}
//   PUT    /admin/certificates              register (PutClientCertificateOperation):
//                                           {Name, Certificate (base64 DER or PEM), SecurityClearance, Permissions}
//   GET    /admin/certificates?thumbprint=  one (GetCertificateOperation); 404 when unknown
//   GET    /admin/certificates?start=&pageSize=  all, by thumbprint (GetCertificatesOperation)
//          &name= only those with this name; &metadataOnly=true without the certificate
//          (GetCertificateMetadataOperation, GetCertificatesMetadataOperation)
//   POST   /admin/certificates/edit         name, clearance, permissions (EditClientCertificateOperation)
//   DELETE /admin/certificates?thumbprint=  (DeleteCertificateOperation)
//   GET    /certificates/whoami             the presented certificate: who it is and what it may do
//   POST   /admin/certificates/replace-cluster-cert  validated only: replacing is not built (501)
// Changes go through the cluster (PutCertificate / DeleteCertificate) and are
// answered once every node applied them, so the next request anywhere sees
// them. Bad input is a 400 that changes nothing. On a secured server an
// Operator may manage certificates up to Operator; ClusterAdmin ones need a
// ClusterAdmin (as in RavenDB).

#include <algorithm>
#include <ctime>
#include <limits>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "rachis/cluster/commands/certificate_commands.h"
#include "server/handlers/handler_support.h"
#include "server/handlers/routes.h"
#include "server/http/router.h"
#include "server/security/access_policy.h"
#include "server/security/certificate_generator.h"
#include "server/security/certificate_upload.h"
#include "server/server_store.h"
#include "storage/document.h"

namespace corvus::server::handlers {
namespace {

using boost::beast::http::verb;
namespace json = boost::json;
namespace rc = rachis::cluster;

// A body field by name, any case (the clients send "Name"; the edit command
// sends "name": its payload is not PascalCased).
const json::value* field(const json::object& o, std::string_view name) {
  for (const auto& [k, v] : o) {
    if (storage::lower_id(k) == storage::lower_id(name)) return &v;
  }
  return nullptr;
}

Result<std::string> string_field(const json::object& o, std::string_view name) {
  const json::value* v = field(o, name);
  if (!v || v->is_null()) return Status::InvalidArgument(std::string(name) + " is required");
  if (!v->is_string()) return Status::InvalidArgument(std::string(name) + " must be a string");
  if (v->as_string().empty()) return Status::InvalidArgument(std::string(name) + " must not be empty");
  return std::string(v->as_string());
}

// Clearance and permissions from a body into `r`. InvalidArgument names the
// bad part.
Status read_access(const json::object& body, rc::CertificateRecord& r) {
  auto clearance_text = string_field(body, "SecurityClearance");
  if (!clearance_text.ok()) return clearance_text.status();
  auto clearance = rc::parse_clearance(*clearance_text);
  if (!clearance) {
    return Status::InvalidArgument("SecurityClearance '" + *clearance_text +
                                   "' is not one a client certificate can have (ClusterAdmin, Operator or ValidUser)");
  }
  r.clearance = *clearance;
  r.permissions.clear();
  if (const json::value* p = field(body, "Permissions"); p && !p->is_null()) {
    if (!p->is_object()) return Status::InvalidArgument("Permissions must be an object {\"database\": \"Read\"|\"ReadWrite\"|\"Admin\"}");
    for (const auto& [db, access] : p->as_object()) {
      auto parsed = access.is_string() ? rc::parse_database_access(access.as_string()) : std::nullopt;
      if (!parsed) {
        return Status::InvalidArgument("Permissions of database '" + std::string(db) + "' is " + json::serialize(access) +
                                       "; expected Read, ReadWrite or Admin");
      }
      r.permissions[std::string(db)] = *parsed;
    }
  }
  return r.validate();
}

// RavenDB's CertificateDefinition as the clients read it.
json::object definition(const rc::CertificateRecord& r) {
  json::object perms;
  for (const auto& [db, access] : r.permissions) perms[db] = rc::to_string(access);
  return {{"Name", r.name},
          {"Thumbprint", r.thumbprint},
          {"SecurityClearance", rc::to_string(r.clearance)},
          {"Permissions", std::move(perms)},
          {"NotBefore", security::format_certificate_date(r.not_before_unix)},
          {"NotAfter", security::format_certificate_date(r.not_after_unix)},
          {"PublicKeyPinningHash", r.public_key_hash},
          {"Subject", r.subject},
          {"Certificate", r.certificate}};
}

// The refusal when the caller may not manage a certificate of `touched`
// clearance (security::refuse_certificate_management), as a response.
std::optional<http::Response> refuse_escalation(ServerStore& store, const http::Request& req,
                                                rc::SecurityClearance touched) {
  auto refusal = security::refuse_certificate_management(*store.security(), store.cluster().state(),
                                                          req.client_certificate, touched);
  if (!refusal) return std::nullopt;
  return http::error_response(refusal->status, refusal->type, refusal->message, req.target);
}

// Runs `cmd` through the cluster and answers `ok` once every node applied it.
void execute_and_answer(ServerStore& store, const rc::ClusterCommand& cmd, const http::Request& req,
                        const http::Respond& respond, http::Response ok) {
  store.cluster().execute(cmd, [&store, respond, ok = std::move(ok), url = req.target](rc::CommandResult r,
                                                                                      rachis::core::Index index) {
    if (!r.status.ok()) return respond(http::error_response(r.status, url));
    std::vector<std::string> tags;
    for (const auto& [tag, node] : store.cluster().state().topology().nodes) tags.push_back(tag);
    const bool started = store.cluster().run_async([&store, respond, tags, index, ok] {
      wait_for_members(store, tags, index);
      respond(ok);
    });
    if (!started) {
      respond(http::error_response(
          Status::Busy("too many cluster requests in flight; the change was applied at index " + std::to_string(index)),
          url));
    }
  });
}

// A register or create request's body: a JSON object with a "Name".
struct NamedBody {
  json::object object;
  std::string name;
};
Result<NamedBody> named_body(const http::Request& req) {
  auto body = parse_json_body(req);
  if (!body.ok()) return body.status();
  if (!body->is_object()) return Status::InvalidArgument("the body must be a JSON object");
  NamedBody out{std::move(body->as_object()), {}};
  auto name = string_field(out.object, "Name");
  if (!name.ok()) return name.status();
  out.name = *name;
  return out;
}

void handle_put(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto body = named_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  const json::object& o = body->object;
  rc::CertificateRecord r;
  r.name = std::move(body->name);
  auto text = string_field(o, "Certificate");
  if (!text.ok()) return respond_error(respond, text.status(), req);
  auto parsed = security::parse_certificate(*text);
  if (!parsed.ok()) return respond_error(respond, parsed.status(), req);
  r.thumbprint = parsed->info.thumbprint;
  r.certificate = parsed->der_base64;
  r.public_key_hash = parsed->info.public_key_hash;
  r.subject = parsed->info.subject;
  r.not_before_unix = parsed->info.not_before_unix;
  r.not_after_unix = parsed->info.not_after_unix;
  if (Status s = read_access(o, r); !s.ok()) return respond_error(respond, s, req);
  if (r.not_after_unix != 0 && r.not_after_unix < static_cast<int64_t>(std::time(nullptr))) {
    return respond_error(respond,
                         Status::InvalidArgument("the certificate " + r.thumbprint + " expired on " +
                                                 security::format_certificate_date(r.not_after_unix) +
                                                 "; register a valid one"),
                         req);
  }
  if (auto refusal = refuse_escalation(store, req, r.clearance)) return respond(std::move(*refusal));
  if (auto existing = store.cluster().state().certificate(r.thumbprint)) {
    if (auto refusal = refuse_escalation(store, req, existing->clearance)) return respond(std::move(*refusal));
  }
  rc::PutCertificateCommand cmd;
  cmd.record = std::move(r);
  // No body: the clients' commands for these calls read none (a body makes
  // them fail), as RavenDB answers.
  execute_and_answer(store, cmd, req, respond, http::Response::empty(201));
}

// CreateClientCertificateOperation: the server makes the key pair and the
// certificate, registers it, and hands back the zip (.crt, .key, .pfx).
void handle_create(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  constexpr int kValidDays = 5 * 365;  // RavenDB's default for generated client certificates
  auto body = named_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  const json::object& o = body->object;
  rc::CertificateRecord r;
  r.name = std::move(body->name);
  std::string password;
  if (const json::value* p = field(o, "Password"); p && p->is_string()) password = std::string(p->as_string());
  // Checked before the (slow) key generation; the thumbprint is filled below.
  r.thumbprint = "pending";
  r.certificate = "pending";
  if (Status s = read_access(o, r); !s.ok()) return respond_error(respond, s, req);
  if (auto refusal = refuse_escalation(store, req, r.clearance)) return respond(std::move(*refusal));
  auto made = security::generate_client_certificate(r.name, password, kValidDays);
  if (!made.ok()) return respond_error(respond, made.status(), req);
  auto parsed = security::parse_certificate(made->certificate_pem);
  if (!parsed.ok()) return respond_error(respond, parsed.status(), req);
  r.thumbprint = parsed->info.thumbprint;
  r.certificate = parsed->der_base64;
  r.public_key_hash = parsed->info.public_key_hash;
  r.subject = parsed->info.subject;
  r.not_before_unix = parsed->info.not_before_unix;
  r.not_after_unix = parsed->info.not_after_unix;
  rc::PutCertificateCommand cmd;
  cmd.record = std::move(r);
  http::Response zip = http::Response::json(201, std::move(made->zip));
  zip.content_type = "application/zip";
  execute_and_answer(store, cmd, req, respond, std::move(zip));
}

// ReplaceClusterCertificateOperation. Input that is no certificate is
// refused as RavenDB refuses it; replacing the nodes' certificate through the
// cluster is not built (each node takes its certificate from --certificate at
// start), and a valid upload is told so rather than silently ignored.
void handle_replace_cluster_certificate(const http::Request& req, const http::Respond& respond) {
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  const json::value* cert = body->is_object() ? field(body->as_object(), "Certificate") : nullptr;
  const std::string text = cert && cert->is_string() ? std::string(cert->as_string()) : std::string();
  if (!security::is_pkcs12(text) && !security::parse_certificate(text).ok()) {
    return respond(http::error_response(400, http::kBadRequestType,
                                        "Unable to load the provided certificate: \"Certificate\" must be base64 of "
                                        "a PKCS#12 (.pfx) bundle with the certificate and its private key",
                                        req.target));
  }
  respond(http::error_response(
      501, "System.NotSupportedException",
      "Replacing the cluster certificate is not supported by this server yet: restart each node with the new "
      "--certificate (one node at a time)",
      req.target));
}

void handle_edit(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto body = parse_json_body(req);
  if (!body.ok()) return respond_error(respond, body.status(), req);
  if (!body->is_object()) return respond_error(respond, Status::InvalidArgument("the body must be a JSON object"), req);
  const json::object& o = body->as_object();
  auto thumbprint = string_field(o, "Thumbprint");
  if (!thumbprint.ok()) return respond_error(respond, thumbprint.status(), req);
  auto existing = store.cluster().state().certificate(*thumbprint);
  if (!existing) {
    return respond(http::error_response(404, http::kBadRequestType,
                                        "No certificate with thumbprint '" + *thumbprint +
                                            "' is registered; register it first with PutClientCertificateOperation",
                                        req.target));
  }
  rc::CertificateRecord r = *existing;
  auto name = string_field(o, "Name");
  if (!name.ok()) return respond_error(respond, name.status(), req);
  r.name = *name;
  if (Status s = read_access(o, r); !s.ok()) return respond_error(respond, s, req);
  if (auto refusal = refuse_escalation(store, req, std::max(r.clearance, existing->clearance))) {
    return respond(std::move(*refusal));
  }
  rc::PutCertificateCommand cmd;
  cmd.record = std::move(r);
  execute_and_answer(store, cmd, req, respond, http::Response::empty(204));
}

void handle_delete(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  auto thumbprint = required_query(req, "thumbprint");
  if (!thumbprint.ok()) return respond_error(respond, thumbprint.status(), req);
  auto existing = store.cluster().state().certificate(*thumbprint);
  if (!existing) {
    return respond(http::error_response(404, http::kBadRequestType,
                                        "No certificate with thumbprint '" + *thumbprint + "' is registered",
                                        req.target));
  }
  if (auto refusal = refuse_escalation(store, req, existing->clearance)) return respond(std::move(*refusal));
  rc::DeleteCertificateCommand cmd;
  cmd.thumbprint = existing->thumbprint;
  execute_and_answer(store, cmd, req, respond, http::Response::empty(204));
}

void handle_get(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  const auto& state = store.cluster().state();
  // GetCertificateMetadataOperation / GetCertificatesMetadataOperation: the
  // same without the certificate itself.
  const bool metadata_only = req.query.get("metadataOnly").value_or("") == "true";
  auto shown = [metadata_only](const rc::CertificateRecord& r) {
    json::object d = definition(r);
    if (metadata_only) d.erase("Certificate");
    return d;
  };
  if (auto thumbprint = req.query.get("thumbprint")) {
    auto r = state.certificate(*thumbprint);
    if (!r) return respond(http::Response::empty(404));
    return respond(http::Response::json(200, json::serialize(json::object{{"Results", json::array{shown(*r)}}})));
  }
  auto paging = query_paging(req, std::numeric_limits<int32_t>::max());
  if (!paging.ok()) return respond_error(respond, paging.status(), req);
  const auto name = req.query.get("name");
  std::vector<std::shared_ptr<const rc::CertificateRecord>> matching;
  for (auto& r : state.certificates()) {
    if (!name || storage::lower_id(r->name) == storage::lower_id(*name)) matching.push_back(std::move(r));
  }
  json::array results;
  for (std::size_t i = paging->start; i < matching.size() && results.size() < paging->page_size; ++i) {
    results.push_back(shown(*matching[i]));
  }
  respond(http::Response::json(200, json::serialize(json::object{{"Results", std::move(results)}})));
}

// Who the presented certificate is and what it may do; answered on any
// server, to anyone (it only describes the caller's own certificate).
void handle_whoami(ServerStore& store, const http::Request& req, const http::Respond& respond) {
  const auto options = store.security();
  const http::ClientCertificate* cert = req.client_certificate;
  const auto id = security::identify(*options, store.cluster().state(), cert);
  json::object out = id.record ? definition(*id.record) : json::object{};
  out["Secured"] = options->secured;
  out["Source"] = security::to_string(id.source);
  if (cert) {
    out["Thumbprint"] = cert->thumbprint;
    out["Subject"] = cert->subject;
    out["PublicKeyPinningHash"] = cert->public_key_hash;
    out["NotBefore"] = security::format_certificate_date(cert->not_before_unix);
    out["NotAfter"] = security::format_certificate_date(cert->not_after_unix);
  }
  if (!id.record) out["SecurityClearance"] = id.known() ? rc::to_string(id.clearance) : "UnauthenticatedClients";
  // The same judgement a ValidUser route would get: expired, unknown, ...
  auto refusal = security::decide(*options, store.cluster().state(), http::RouteAccess::ValidUser, "", cert,
                                  static_cast<int64_t>(std::time(nullptr)), "GET /certificates/whoami");
  out["Authenticated"] = !refusal.has_value();
  out["Message"] = refusal ? refusal->message
                   : !options->secured
                       ? "This server is not secured (no --certificate): every request is allowed."
                       : "Clearance " + std::string(rc::to_string(id.clearance)) + " (" +
                             std::string(security::to_string(id.source)) + ").";
  respond(http::Response::json(200, json::serialize(out)));
}

}  // namespace

void register_certificate_routes(http::Router& router, ServerStore& store) {
  router.add(verb::put, "/admin/certificates", http::RouteAccess::Operator, "certificates_put",
             [&store](const http::Request& req, http::Respond respond) { handle_put(store, req, respond); });
  router.add(verb::post, "/admin/certificates", http::RouteAccess::Operator, "certificates_create",
             [&store](const http::Request& req, http::Respond respond) { handle_create(store, req, respond); });
  router.add(verb::get, "/admin/certificates", http::RouteAccess::Operator, "certificates_get",
             [&store](const http::Request& req, http::Respond respond) { handle_get(store, req, respond); });
  router.add(verb::post, "/admin/certificates/edit", http::RouteAccess::Operator, "certificates_edit",
             [&store](const http::Request& req, http::Respond respond) { handle_edit(store, req, respond); });
  router.add(verb::post, "/admin/certificates/replace-cluster-cert", http::RouteAccess::ClusterAdmin,
             "certificates_replace_cluster",
             [](const http::Request& req, http::Respond respond) { handle_replace_cluster_certificate(req, respond); });
  router.add(verb::delete_, "/admin/certificates", http::RouteAccess::Operator, "certificates_delete",
             [&store](const http::Request& req, http::Respond respond) { handle_delete(store, req, respond); });
  router.add(verb::get, "/certificates/whoami", http::RouteAccess::Open, "certificates_whoami",
             [&store](const http::Request& req, http::Respond respond) { handle_whoami(store, req, respond); });
}

}  // namespace corvus::server::handlers
