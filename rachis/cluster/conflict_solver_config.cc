#include "rachis/cluster/conflict_solver_config.h"

#include <algorithm>
#include <cctype>

#include <boost/json.hpp>

#include "storage/clock.h"
#include "storage/document.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

namespace {

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

Result<ScriptResolver> script_resolver_from_json(const json::value& v, const std::string& where) {
  if (!v.is_object()) return Status::InvalidArgument(where + " must be an object {Script, LastModifiedTime}");
  const json::object& o = v.as_object();
  ScriptResolver r;
  const json::value* script = o.if_contains("Script");
  if (!script || !script->is_string()) return Status::InvalidArgument(where + ".Script must be a string");
  r.script = std::string(script->as_string());
  if (const json::value* t = o.if_contains("LastModifiedTime"); t && !t->is_null()) {
    const auto micros = t->is_string() ? storage::parse_iso8601(t->as_string()) : std::nullopt;
    if (!micros) return Status::InvalidArgument(where + ".LastModifiedTime must be an ISO 8601 date or null");
    // Kept in RavenDB's format, whatever precision the client sent.
    r.last_modified_time = storage::format_iso8601(*micros);
  }
  return r;
}

}  // namespace

bool ConflictSolverConfig::has_scripts() const {
  return std::any_of(resolve_by_collection.begin(), resolve_by_collection.end(),
                     [](const auto& kv) { return !blank(kv.second.second.script); });
}

storage::ConflictPolicy ConflictSolverConfig::policy() const {
  if (!resolve_to_latest || has_scripts()) return storage::ConflictPolicy::KeepConflict;
  return storage::ConflictPolicy::ResolveToLatest;
}

json::object ConflictSolverConfig::to_json() const {
  json::object by_collection;
  for (const auto& [lowered, entry] : resolve_by_collection) {
    const auto& [name, resolver] = entry;
    by_collection[name] = json::object{
        {"Script", resolver.script},
        {"LastModifiedTime",
         resolver.last_modified_time.empty() ? json::value(nullptr) : json::value(resolver.last_modified_time)}};
  }
  return {{"ResolveToLatest", resolve_to_latest}, {"ResolveByCollection", std::move(by_collection)}};
}

Result<ConflictSolverConfig> ConflictSolverConfig::from_json(const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("The conflict solver must be a JSON object");
  const json::object& o = v.as_object();
  ConflictSolverConfig c;
  if (const json::value* latest = o.if_contains("ResolveToLatest")) {
    if (!latest->is_bool()) return Status::InvalidArgument("ResolveToLatest must be a boolean");
    c.resolve_to_latest = latest->as_bool();
  }
  if (const json::value* by = o.if_contains("ResolveByCollection"); by && !by->is_null()) {
    if (!by->is_object()) return Status::InvalidArgument("ResolveByCollection must be an object or null");
    for (const auto& kv : by->as_object()) {
      const std::string name(kv.key());
      const std::string where = "ResolveByCollection['" + name + "']";
      if (name.empty()) return Status::InvalidArgument("ResolveByCollection has an empty collection name");
      auto resolver = script_resolver_from_json(kv.value(), where);
      if (!resolver.ok()) return resolver.status();
      // Collections are case-insensitive: two spellings of one name are one entry.
      auto [it, added] = c.resolve_by_collection.emplace(storage::lower_id(name),
                                                         std::make_pair(name, std::move(resolver).value()));
      if (!added) return Status::InvalidArgument(where + " names the same collection as '" + it->second.first + "'");
    }
  }
  return c;
}

storage::ConflictPolicy conflict_policy_of(const ConflictSolverConfig* config) {
  return config ? config->policy() : storage::ConflictPolicy::ResolveToLatest;
}

}  // namespace corvus::rachis::cluster
