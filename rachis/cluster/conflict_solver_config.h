#pragma once
// ConflictSolverConfig: what a database does with a replication conflict
// (RavenDB's ConflictSolver, the record's "ConflictSolverConfig", set by
// ModifyConflictSolverOperation): resolve to the latest version, or a
// JavaScript resolver per collection, or keep the conflict for a user to
// resolve. A plain immutable value once built: the cluster's database record
// holds one (database_record.h); the server turns it into the
// storage::ConflictPolicy the database's storage applies
// (server/cluster/databases_observer.cc).

#include <map>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "storage/replicated_writes.h"
#include "storage/status.h"

namespace corvus::rachis::cluster {

// RavenDB's ScriptResolver.
struct ScriptResolver {
  std::string script;
  // ISO 8601 in RavenDB's format ("2026-12-06T16:00:00.0000000Z"); empty when not given.
  std::string last_modified_time;
};

struct ConflictSolverConfig {
  bool resolve_to_latest = false;
  // Lowered collection name -> (name as given, resolver).
  std::map<std::string, std::pair<std::string, ScriptResolver>> resolve_by_collection;

  // True when some collection has a script (not blank).
  bool has_scripts() const;

  // The policy storage applies to this database's conflicts. Storage takes
  // one policy per database (storage/replication_items.h), not per
  // collection, and never runs a script on its writer thread: a database with
  // any script keeps its conflicts (KeepConflict), then
  // server/conflict_script_resolver runs the scripts over them (conflicts of
  // collections without a script stay kept). Without scripts:
  // ResolveToLatest when it says so, KeepConflict otherwise.
  storage::ConflictPolicy policy() const;

  // RavenDB's JSON: {"ResolveToLatest": bool, "ResolveByCollection":
  // {"Users": {"Script": "...", "LastModifiedTime": "..."}}}.
  boost::json::object to_json() const;
  // InvalidArgument naming the field when the body is not that shape:
  // ResolveToLatest a boolean (absent: false), ResolveByCollection an object
  // or null of objects with a string Script and a date or null
  // LastModifiedTime. Unknown fields are ignored.
  static Result<ConflictSolverConfig> from_json(const boost::json::value& v);
};

// What storage applies when the record has no ConflictSolverConfig: RavenDB's
// default, resolve to latest.
storage::ConflictPolicy conflict_policy_of(const ConflictSolverConfig* config);

}  // namespace corvus::rachis::cluster
