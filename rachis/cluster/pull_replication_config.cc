#include "rachis/cluster/pull_replication_config.h"

#include <cctype>

#include <boost/json.hpp>

#include "rachis/cluster/definition_fields.h"
#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

namespace {

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

std::optional<std::uint8_t> parse_pull_replication_mode(std::string_view s) {
  std::uint8_t mode = 0;
  bool any = false;
  while (true) {
    const size_t comma = s.find(',');
    const std::string_view token = trim(s.substr(0, comma));
    if (iequal(token, "HubToSink")) {
      mode |= kHubToSink;
    } else if (iequal(token, "SinkToHub")) {
      mode |= kSinkToHub;
    } else if (!iequal(token, "None")) {
      return std::nullopt;
    }
    any = true;
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  if (!any) return std::nullopt;
  return mode;
}

std::string pull_replication_mode_name(std::uint8_t mode) {
  switch (mode & (kHubToSink | kSinkToHub)) {
    case kHubToSink: return "HubToSink";
    case kSinkToHub: return "SinkToHub";
    case kHubToSink | kSinkToHub: return "HubToSink, SinkToHub";
    default: return "None";
  }
}

Status validate_allowed_paths(const std::vector<std::string>& paths, std::string_view field) {
  for (const auto& p : paths) {
    if (trim(p).empty()) return Status::InvalidArgument(std::string(field) + " has an empty path");
    const size_t star = p.find('*');
    if (star != std::string::npos && star != p.size() - 1) {
      return Status::InvalidArgument(std::string(field) + ": path '" + p +
                                     "' may only end with '*' (a prefix), not have it elsewhere");
    }
  }
  return Status::Ok();
}

bool path_allowed(const std::vector<std::string>& paths, std::string_view id) {
  for (const auto& p : paths) {
    if (!p.empty() && p.back() == '*') {
      const std::string_view prefix(p.data(), p.size() - 1);
      if (id.size() >= prefix.size() && iequal(id.substr(0, prefix.size()), prefix)) return true;
    } else if (iequal(id, p)) {
      return true;
    }
  }
  return false;
}

json::object HubDefinition::to_json() const {
  return {{"Name", name},
          {"TaskId", task_id},
          {"Mode", pull_replication_mode_name(mode)},
          {"WithFiltering", with_filtering},
          {"Disabled", disabled},
          {"DelayReplicationFor", delay_replication_for.empty() ? json::value(nullptr) : json::value(delay_replication_for)},
          {"MentorNode", mentor_node.empty() ? json::value(nullptr) : json::value(mentor_node)},
          {"PinToMentorNode", pin_to_mentor_node},
          {"PreventDeletionsMode", prevent_deletions_mode}};
}

Result<HubDefinition> HubDefinition::from_json(const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("a pull replication definition must be a JSON object");
  const json::object& o = v.as_object();
  HubDefinition d;
  auto name = optional_string(o, "Name");
  if (!name.ok()) return name.status();
  d.name = std::string(trim(*name));
  if (d.name.empty()) return Status::InvalidArgument("the pull replication hub needs a Name");
  if (const json::value* id = o.if_contains("TaskId"); id && !id->is_null()) {
    if (!id->is_number() || (id->is_int64() && id->as_int64() < 0)) {
      return Status::InvalidArgument("TaskId must be a non-negative number");
    }
    d.task_id = get_u64(o, "TaskId");
  }
  auto mode = optional_string(o, "Mode");
  if (!mode.ok()) return mode.status();
  if (!mode->empty()) {
    auto parsed = parse_pull_replication_mode(*mode);
    if (!parsed) {
      return Status::InvalidArgument("Mode '" + *mode + "' is not one of HubToSink, SinkToHub, 'HubToSink, SinkToHub'");
    }
    if (*parsed == 0) return Status::InvalidArgument("Mode None replicates nothing: give HubToSink and/or SinkToHub");
    d.mode = *parsed;
  }
  auto filtering = optional_bool(o, "WithFiltering");
  if (!filtering.ok()) return filtering.status();
  d.with_filtering = *filtering;
  auto disabled = optional_bool(o, "Disabled");
  if (!disabled.ok()) return disabled.status();
  d.disabled = *disabled;
  auto pin = optional_bool(o, "PinToMentorNode");
  if (!pin.ok()) return pin.status();
  d.pin_to_mentor_node = *pin;
  auto delay = optional_string(o, "DelayReplicationFor");
  if (!delay.ok()) return delay.status();
  d.delay_replication_for = *delay;
  auto mentor = optional_string(o, "MentorNode");
  if (!mentor.ok()) return mentor.status();
  d.mentor_node = *mentor;
  auto prevent = optional_string(o, "PreventDeletionsMode");
  if (!prevent.ok()) return prevent.status();
  if (!prevent->empty()) {
    if (*prevent != "None" && *prevent != "PreventSinkToHubDeletions") {
      return Status::InvalidArgument("PreventDeletionsMode '" + *prevent +
                                     "' is not one of None, PreventSinkToHubDeletions");
    }
    d.prevent_deletions_mode = *prevent;
  }
  if (const json::value* certs = o.if_contains("Certificates");
      certs && !certs->is_null() && !(certs->is_object() && certs->as_object().empty())) {
    return Status::InvalidArgument(
        "Certificates in the hub definition are not supported: register each certificate with "
        "RegisterReplicationHubAccessOperation (PUT /databases/{db}/admin/tasks/pull-replication/hub/access)");
  }
  return d;
}

json::object HubAccess::to_json() const {
  return {{"HubName", hub_name},
          {"Name", name},
          {"Thumbprint", thumbprint},
          {"PublicKeyHash", public_key_hash},
          {"CertificateBase64", certificate_base64},
          {"Subject", subject},
          {"NotBefore", not_before_unix},
          {"NotAfter", not_after_unix},
          {"AllowedHubToSinkPaths", strings_to_json(allowed_hub_to_sink_paths)},
          {"AllowedSinkToHubPaths", strings_to_json(allowed_sink_to_hub_paths)}};
}

Result<HubAccess> HubAccess::from_json(const json::object& o) {
  HubAccess a;
  a.hub_name = get_string(o, "HubName");
  a.name = get_string(o, "Name");
  a.thumbprint = get_string(o, "Thumbprint");
  a.public_key_hash = get_string(o, "PublicKeyHash");
  a.certificate_base64 = get_string(o, "CertificateBase64");
  a.subject = get_string(o, "Subject");
  auto i64 = [&](std::string_view key) -> std::int64_t {
    const json::value* v = o.if_contains(key);
    if (v && v->is_int64()) return v->as_int64();
    if (v && v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    return 0;
  };
  a.not_before_unix = i64("NotBefore");
  a.not_after_unix = i64("NotAfter");
  auto h2s = optional_strings(o, "AllowedHubToSinkPaths");
  if (!h2s.ok()) return h2s.status();
  a.allowed_hub_to_sink_paths = std::move(h2s).value();
  auto s2h = optional_strings(o, "AllowedSinkToHubPaths");
  if (!s2h.ok()) return s2h.status();
  a.allowed_sink_to_hub_paths = std::move(s2h).value();
  if (a.hub_name.empty() || a.name.empty() || a.thumbprint.empty() || a.certificate_base64.empty()) {
    return Status::InvalidArgument("a hub access needs HubName, Name, Thumbprint and CertificateBase64");
  }
  if (auto s = validate_allowed_paths(a.allowed_hub_to_sink_paths, "AllowedHubToSinkPaths"); !s.ok()) return s;
  if (auto s = validate_allowed_paths(a.allowed_sink_to_hub_paths, "AllowedSinkToHubPaths"); !s.ok()) return s;
  return a;
}

json::object RavenConnectionString::to_json() const {
  json::object o{{"Name", name}, {"Database", database}, {"TopologyDiscoveryUrls", strings_to_json(urls)}, {"Type", "Raven"}};
  if (!server_key_hash.empty()) o["ServerKeyHash"] = server_key_hash;
  return o;
}

Result<RavenConnectionString> RavenConnectionString::from_json(const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("a connection string must be a JSON object");
  const json::object& o = v.as_object();
  RavenConnectionString c;
  auto type = optional_string(o, "Type");
  if (!type.ok()) return type.status();
  if (!type->empty() && *type != "Raven") {
    return Status::InvalidArgument("connection strings of Type '" + *type + "' are not supported (only Raven)");
  }
  auto name = optional_string(o, "Name");
  if (!name.ok()) return name.status();
  c.name = std::string(trim(*name));
  if (c.name.empty()) return Status::InvalidArgument("the connection string needs a Name");
  auto database = optional_string(o, "Database");
  if (!database.ok()) return database.status();
  c.database = std::string(trim(*database));
  if (c.database.empty()) return Status::InvalidArgument("the connection string needs a Database");
  auto urls = optional_strings(o, "TopologyDiscoveryUrls");
  if (!urls.ok()) return urls.status();
  for (auto& u : *urls) {
    std::string url(trim(u));
    while (!url.empty() && url.back() == '/') url.pop_back();
    const bool scheme = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
    const size_t host = url.find("://") + 3;
    if (!scheme || url.find(':', host) == std::string::npos || url.find('/', host) != std::string::npos) {
      return Status::InvalidArgument("TopologyDiscoveryUrls: '" + u + "' is not http(s)://host:port");
    }
    c.urls.push_back(std::move(url));
  }
  if (c.urls.empty()) return Status::InvalidArgument("the connection string needs TopologyDiscoveryUrls");
  auto pin = optional_string(o, "ServerKeyHash");
  if (!pin.ok()) return pin.status();
  c.server_key_hash = std::string(trim(*pin));
  const bool base64_sha256 = c.server_key_hash.size() == 44 && c.server_key_hash.back() == '=' &&
                             c.server_key_hash.find_first_not_of(
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == 43;
  if (!c.server_key_hash.empty() && !base64_sha256) {
    return Status::InvalidArgument("ServerKeyHash: '" + c.server_key_hash +
                                   "' is not a public key hash (base64 of a SHA-256: 44 characters ending in '=')");
  }
  return c;
}

json::object SinkDefinition::to_json(bool with_secrets) const {
  json::object o{{"Name", name},
                 {"TaskId", task_id},
                 {"ConnectionStringName", connection_string_name},
                 {"HubName", hub_name},
                 {"Mode", pull_replication_mode_name(mode)},
                 {"AccessName", access_name.empty() ? json::value(nullptr) : json::value(access_name)},
                 {"AllowedHubToSinkPaths", strings_to_json(allowed_hub_to_sink_paths)},
                 {"AllowedSinkToHubPaths", strings_to_json(allowed_sink_to_hub_paths)},
                 {"Disabled", disabled}};
  if (with_secrets) {
    o["CertificateWithPrivateKey"] = certificate_with_private_key;
    o["CertificatePassword"] = certificate_password;
  }
  return o;
}

Result<SinkDefinition> SinkDefinition::from_json(const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("a pull replication sink must be a JSON object");
  const json::object& o = v.as_object();
  SinkDefinition d;
  auto hub = optional_string(o, "HubName");
  if (!hub.ok()) return hub.status();
  d.hub_name = std::string(trim(*hub));
  if (d.hub_name.empty()) {
    auto legacy = optional_string(o, "HubDefinitionName");
    if (!legacy.ok()) return legacy.status();
    d.hub_name = std::string(trim(*legacy));
  }
  if (d.hub_name.empty()) return Status::InvalidArgument("the pull replication sink needs a HubName");
  auto name = optional_string(o, "Name");
  if (!name.ok()) return name.status();
  d.name = std::string(trim(*name));
  if (d.name.empty()) d.name = "Pull replication sink of hub " + d.hub_name;
  auto cs = optional_string(o, "ConnectionStringName");
  if (!cs.ok()) return cs.status();
  d.connection_string_name = std::string(trim(*cs));
  if (d.connection_string_name.empty()) {
    return Status::InvalidArgument("the pull replication sink needs a ConnectionStringName");
  }
  if (const json::value* id = o.if_contains("TaskId"); id && !id->is_null()) {
    if (!id->is_number() || (id->is_int64() && id->as_int64() < 0)) {
      return Status::InvalidArgument("TaskId must be a non-negative number");
    }
    d.task_id = get_u64(o, "TaskId");
  }
  auto mode = optional_string(o, "Mode");
  if (!mode.ok()) return mode.status();
  if (!mode->empty()) {
    auto parsed = parse_pull_replication_mode(*mode);
    if (!parsed || *parsed == 0) {
      return Status::InvalidArgument("Mode '" + *mode + "' is not one of HubToSink, SinkToHub, 'HubToSink, SinkToHub'");
    }
    d.mode = *parsed;
  }
  for (auto [key, out] : {std::pair<std::string_view, std::string*>{"CertificateWithPrivateKey", &d.certificate_with_private_key},
                          {"CertificatePassword", &d.certificate_password},
                          {"AccessName", &d.access_name}}) {
    auto value = optional_string(o, key);
    if (!value.ok()) return value.status();
    *out = *value;
  }
  auto h2s = optional_strings(o, "AllowedHubToSinkPaths");
  if (!h2s.ok()) return h2s.status();
  d.allowed_hub_to_sink_paths = std::move(h2s).value();
  auto s2h = optional_strings(o, "AllowedSinkToHubPaths");
  if (!s2h.ok()) return s2h.status();
  d.allowed_sink_to_hub_paths = std::move(s2h).value();
  if (auto s = validate_allowed_paths(d.allowed_hub_to_sink_paths, "AllowedHubToSinkPaths"); !s.ok()) return s;
  if (auto s = validate_allowed_paths(d.allowed_sink_to_hub_paths, "AllowedSinkToHubPaths"); !s.ok()) return s;
  auto disabled = optional_bool(o, "Disabled");
  if (!disabled.ok()) return disabled.status();
  d.disabled = *disabled;
  return d;
}

}  // namespace corvus::rachis::cluster
