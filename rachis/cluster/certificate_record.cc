#include "rachis/cluster/certificate_record.h"

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"
#include "storage/document.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

namespace {

bool iequals(std::string_view a, std::string_view b) { return storage::lower_id(a) == storage::lower_id(b); }

std::int64_t get_i64(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  return 0;
}

}  // namespace

std::string_view to_string(SecurityClearance c) {
  switch (c) {
    case SecurityClearance::ClusterAdmin: return "ClusterAdmin";
    case SecurityClearance::Operator: return "Operator";
    case SecurityClearance::ValidUser: return "ValidUser";
  }
  return "ValidUser";
}

std::string_view to_string(DatabaseAccess a) {
  switch (a) {
    case DatabaseAccess::Admin: return "Admin";
    case DatabaseAccess::ReadWrite: return "ReadWrite";
    case DatabaseAccess::Read: return "Read";
  }
  return "Read";
}

std::optional<SecurityClearance> parse_clearance(std::string_view s) {
  for (auto c : {SecurityClearance::ClusterAdmin, SecurityClearance::Operator, SecurityClearance::ValidUser}) {
    if (iequals(s, to_string(c))) return c;
  }
  return std::nullopt;
}

std::optional<DatabaseAccess> parse_database_access(std::string_view s) {
  for (auto a : {DatabaseAccess::Admin, DatabaseAccess::ReadWrite, DatabaseAccess::Read}) {
    if (iequals(s, to_string(a))) return a;
  }
  return std::nullopt;
}

std::optional<DatabaseAccess> CertificateRecord::access_to(std::string_view database) const {
  for (const auto& [db, access] : permissions) {
    if (iequals(db, database)) return access;
  }
  return std::nullopt;
}

Status CertificateRecord::validate() const {
  if (thumbprint.empty()) return Status::InvalidArgument("a certificate record needs a Thumbprint");
  if (certificate.empty()) return Status::InvalidArgument("a certificate record needs the Certificate");
  if (name.empty()) return Status::InvalidArgument("a certificate record needs a Name");
  if (clearance != SecurityClearance::ValidUser && !permissions.empty()) {
    return Status::InvalidArgument("a certificate with clearance " + std::string(to_string(clearance)) +
                                   " reaches every database; database permissions apply to ValidUser only "
                                   "(send \"Permissions\": {} or use \"SecurityClearance\": \"ValidUser\")");
  }
  for (const auto& [db, access] : permissions) {
    if (db.empty()) return Status::InvalidArgument("a database permission needs a database name");
  }
  return Status::Ok();
}

json::object CertificateRecord::to_json() const {
  json::object perms;
  for (const auto& [db, access] : permissions) perms[db] = to_string(access);
  return {{"Thumbprint", thumbprint},
          {"Name", name},
          {"SecurityClearance", to_string(clearance)},
          {"Permissions", std::move(perms)},
          {"Certificate", certificate},
          {"PublicKeyPinningHash", public_key_hash},
          {"Subject", subject},
          {"NotBeforeUnix", not_before_unix},
          {"NotAfterUnix", not_after_unix}};
}

Result<CertificateRecord> CertificateRecord::from_json(const json::object& o) {
  CertificateRecord r;
  r.thumbprint = get_string(o, "Thumbprint");
  r.name = get_string(o, "Name");
  auto clearance = parse_clearance(get_string(o, "SecurityClearance"));
  if (!clearance) {
    return Status::InvalidArgument("unknown SecurityClearance '" + get_string(o, "SecurityClearance") +
                                   "' (expected ClusterAdmin, Operator or ValidUser)");
  }
  r.clearance = *clearance;
  if (auto* p = o.if_contains("Permissions"); p && !p->is_null()) {
    if (!p->is_object()) return Status::InvalidArgument("Permissions must be an object {database: access}");
    for (const auto& [db, access] : p->as_object()) {
      auto parsed = access.is_string() ? parse_database_access(access.as_string()) : std::nullopt;
      if (!parsed) {
        return Status::InvalidArgument("unknown access " + json::serialize(access) + " for database '" +
                                       std::string(db) + "' (expected Read, ReadWrite or Admin)");
      }
      r.permissions[std::string(db)] = *parsed;
    }
  }
  r.certificate = get_string(o, "Certificate");
  r.public_key_hash = get_string(o, "PublicKeyPinningHash");
  r.subject = get_string(o, "Subject");
  r.not_before_unix = get_i64(o, "NotBeforeUnix");
  r.not_after_unix = get_i64(o, "NotAfterUnix");
  if (Status s = r.validate(); !s.ok()) return s;
  return r;
}

}  // namespace corvus::rachis::cluster
