#pragma once
// Strict field readers for definitions a client sends (pull replication hubs,
// sinks, connection strings, external replications): a field that is absent
// or null reads as empty/false, any other type than the expected one is an
// InvalidArgument naming the field. (json_fields.h is the lenient kind, for
// the cluster's own JSON.)

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "storage/status.h"

namespace corvus::rachis::cluster {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// As sent (not trimmed: passwords keep their spaces).
inline Result<std::string> optional_string(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return Status::InvalidArgument(std::string(key) + " must be a string");
  return std::string(v->as_string());
}

inline Result<bool> optional_bool(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return false;
  if (!v->is_bool()) return Status::InvalidArgument(std::string(key) + " must be true or false");
  return v->as_bool();
}

inline Result<std::vector<std::string>> optional_strings(const boost::json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const boost::json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return Status::InvalidArgument(std::string(key) + " must be an array of strings");
  for (const auto& x : v->as_array()) {
    if (!x.is_string()) return Status::InvalidArgument(std::string(key) + " must be an array of strings");
    out.emplace_back(x.as_string());
  }
  return out;
}

}  // namespace corvus::rachis::cluster
