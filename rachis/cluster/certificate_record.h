#pragma once
// CertificateRecord: one client certificate the cluster trusts, with what it
// may do (RavenDB's CertificateDefinition): a security clearance
// (ClusterAdmin, Operator, or ValidUser with per-database access Read,
// ReadWrite or Admin). Stored in the cluster state by thumbprint
// (PutCertificate / DeleteCertificate commands); a record also matches a
// presented certificate by its public key hash, so a certificate re-issued
// over the same key keeps its access ("trust without a PKI").
//
// A plain value; immutable once stored (ClusterState shares it read-only).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "storage/status.h"

namespace corvus::rachis::cluster {

// Ordered by power: a higher clearance includes every lower one.
enum class SecurityClearance : std::uint8_t { ValidUser = 0, Operator = 1, ClusterAdmin = 2 };
// Ordered by power: Admin includes ReadWrite includes Read.
enum class DatabaseAccess : std::uint8_t { Read = 0, ReadWrite = 1, Admin = 2 };

std::string_view to_string(SecurityClearance c);
std::string_view to_string(DatabaseAccess a);
// RavenDB's spellings, case-insensitive; nullopt for anything else.
std::optional<SecurityClearance> parse_clearance(std::string_view s);
std::optional<DatabaseAccess> parse_database_access(std::string_view s);

struct CertificateRecord {
  std::string thumbprint;  // SHA-1 of the DER, upper-case hex: the key
  std::string name;
  SecurityClearance clearance = SecurityClearance::ValidUser;
  // Database name (as the operator spelled it) -> access. Only for ValidUser.
  std::map<std::string, DatabaseAccess> permissions;
  std::string certificate;       // base64 DER
  std::string public_key_hash;   // SHA-256 of the DER SubjectPublicKeyInfo, base64
  std::string subject;           // one line, e.g. "CN=client"
  std::int64_t not_before_unix = 0;
  std::int64_t not_after_unix = 0;

  // The access this record grants to `database` (names compare
  // case-insensitively); nullopt when none.
  std::optional<DatabaseAccess> access_to(std::string_view database) const;

  // Checks what every stored record must satisfy: a thumbprint, a
  // certificate, a name, and permissions only on a ValidUser (a higher
  // clearance reaches every database anyway: permissions there would be a
  // mistake), non-empty database names. InvalidArgument says which.
  Status validate() const;

  // The stored form (also the command payload). Round-trips through from_json.
  boost::json::object to_json() const;
  // InvalidArgument when a field is missing or unknown (e.g. a clearance).
  static Result<CertificateRecord> from_json(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
