#pragma once
// RevisionsConfiguration: when a database keeps revisions of its documents
// (RavenDB's RevisionsConfiguration: a Default and per-collection entries).
// A plain immutable value once built: the cluster's database record holds one
// (rachis/cluster/database_record.h), and DocumentsStorage holds the one in
// force as a shared_ptr<const> swapped atomically, which the writer reads.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "storage/status.h"

namespace corvus::storage {

// RavenDB's RevisionsCollectionConfiguration.
struct RevisionsCollectionConfiguration {
  bool disabled = false;
  // Keep at least this many revisions of a document; older ones beyond it go
  // (subject to the age below). Unset: no limit by count.
  std::optional<int64_t> minimum_revisions_to_keep;
  // Keep revisions younger than this (microseconds). Unset: no limit by age.
  std::optional<int64_t> minimum_revision_age_to_keep_us;
  // Deleting the document deletes all its revisions (no delete revision).
  bool purge_on_delete = false;
  // At most this many old revisions are pruned by one write. Unset: all due.
  std::optional<int64_t> maximum_revisions_to_delete_upon_document_update;

  boost::json::object to_json() const;
  // InvalidArgument naming the field when a value has the wrong type or range.
  static Result<RevisionsCollectionConfiguration> from_json(const boost::json::value& v, std::string_view where);
};

struct RevisionsConfiguration {
  std::optional<RevisionsCollectionConfiguration> default_config;
  // Lowered collection name -> (name as given, configuration).
  std::map<std::string, std::pair<std::string, RevisionsCollectionConfiguration>> collections;

  // What applies to `collection` ("" is @empty): its own entry, else Default;
  // nullptr when revisions are off for it (no entry, or Disabled).
  const RevisionsCollectionConfiguration* for_collection(std::string_view collection) const;

  // RavenDB's JSON: {"Default": {...} | null, "Collections": {"Users": {...}} | null}.
  boost::json::object to_json() const;
  static Result<RevisionsConfiguration> from_json(const boost::json::value& v);
};

// .NET TimeSpan text, "[-][d.]hh:mm:ss[.fffffff]" ("7.00:00:00", "00:00:10"),
// to microseconds and back. InvalidArgument when malformed.
Result<int64_t> parse_timespan(std::string_view text);
std::string format_timespan(int64_t micros);

}  // namespace corvus::storage
