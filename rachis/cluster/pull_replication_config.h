#pragma once
// The pull replication settings a database record holds (RavenDB's
// PullReplicationDefinition and ReplicationHubAccess): a hub is a named
// channel other databases (sinks, "edges") connect to, in one or both
// directions; an access is a certificate allowed to use one hub, with the
// document id prefixes it may receive (hub to sink) and send (sink to hub)
// when the hub filters. The certificate is parsed by the proposer (server/,
// OpenSSL): the record keeps its facts (thumbprint, subject, validity) so
// the cluster state machine never parses a certificate.
//
// Plain values; the cluster state owns the durable copies inside the record.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "storage/status.h"

namespace corvus::rachis::cluster {

// RavenDB's PullReplicationMode flags.
inline constexpr std::uint8_t kHubToSink = 1;
inline constexpr std::uint8_t kSinkToHub = 2;

// "HubToSink", "SinkToHub", "HubToSink, SinkToHub" (the C# flags spelling;
// the npm client sends "HubToSink,SinkToHub"), case-insensitive; "None" is 0.
// nullopt for anything else.
std::optional<std::uint8_t> parse_pull_replication_mode(std::string_view s);
std::string pull_replication_mode_name(std::uint8_t mode);

// An allowed path is a document id ("users/1") or a prefix ending in '*'
// ("users/*"); a '*' anywhere else, or an empty path, is refused.
Status validate_allowed_paths(const std::vector<std::string>& paths, std::string_view field);
// True when `id` matches one of `paths` (case-insensitive, as ids are).
bool path_allowed(const std::vector<std::string>& paths, std::string_view id);

// A hub definition (PutPullReplicationAsHubOperation's body).
struct HubDefinition {
  std::string name;
  std::uint64_t task_id = 0;  // the Raft index that created it; 0 in a request: a new one
  std::uint8_t mode = kHubToSink;
  bool with_filtering = false;  // the accesses' allowed paths apply
  bool disabled = false;
  std::string delay_replication_for;  // TimeSpan text, kept as given ("" = none)
  std::string mentor_node;
  bool pin_to_mentor_node = false;
  std::string prevent_deletions_mode = "None";

  boost::json::object to_json() const;
  // InvalidArgument naming the field: no name, an unknown or "None" mode, a
  // non-empty legacy "Certificates" map (accesses are registered one by one).
  static Result<HubDefinition> from_json(const boost::json::value& v);
};

// One certificate allowed to use hub `hub_name` (RegisterReplicationHubAccessOperation).
struct HubAccess {
  std::string hub_name;
  std::string name;                // the access's name, as given
  std::string thumbprint;          // upper-case hex SHA-1 of the DER
  std::string public_key_hash;     // base64 SHA-256 of the SubjectPublicKeyInfo
  std::string certificate_base64;  // the public certificate, base64 DER
  std::string subject;
  std::int64_t not_before_unix = 0;
  std::int64_t not_after_unix = 0;
  std::vector<std::string> allowed_hub_to_sink_paths;
  std::vector<std::string> allowed_sink_to_hub_paths;

  // The stored form (also the command payload); round-trips through from_json.
  boost::json::object to_json() const;
  // InvalidArgument when a field is missing or a path is malformed.
  static Result<HubAccess> from_json(const boost::json::object& o);
};

// A connection string to another RavenDB-protocol cluster
// (PutConnectionStringOperation with a RavenConnectionString).
struct RavenConnectionString {
  std::string name;
  std::string database;                  // on the other cluster
  std::vector<std::string> urls;         // TopologyDiscoveryUrls: its nodes' HTTP(S) URLs
  // Corvus's "Server Key Hash" (optional; JSON ServerKeyHash): the base64
  // SHA-256 of the public key the other cluster's nodes present. Set, an
  // https:// connection to a node presenting another key is refused before
  // anything is sent; empty, the other side is not verified (no CA is
  // consulted) beyond the TCP certificate its /info/remote-task/tcp names.
  std::string server_key_hash;

  boost::json::object to_json() const;
  // InvalidArgument naming the field: no Name, no Database, no URL, a URL
  // that is not http(s)://host:port, a Type other than "Raven", a
  // ServerKeyHash that is not base64 of 32 bytes.
  static Result<RavenConnectionString> from_json(const boost::json::value& v);
};

// A sink definition (UpdatePullReplicationAsSinkOperation's
// PullReplicationAsSink): this database pulls from (and maybe pushes to) hub
// `hub_name` of the database the connection string names, authenticating
// with its own certificate.
struct SinkDefinition {
  std::string name;
  std::uint64_t task_id = 0;  // 0 in a request: a new one
  std::string connection_string_name;
  std::string hub_name;
  std::uint8_t mode = kHubToSink;
  std::string certificate_with_private_key;  // base64 PKCS#12
  std::string certificate_password;
  std::string access_name;
  std::vector<std::string> allowed_hub_to_sink_paths;
  std::vector<std::string> allowed_sink_to_hub_paths;
  bool disabled = false;

  // `with_secrets`: the stored form keeps the certificate; what clients read does not.
  boost::json::object to_json(bool with_secrets = true) const;
  // InvalidArgument naming the field (HubName or the deprecated
  // HubDefinitionName, ConnectionStringName, Mode).
  static Result<SinkDefinition> from_json(const boost::json::value& v);
};

}  // namespace corvus::rachis::cluster
