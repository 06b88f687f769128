#pragma once
// ChangeVector: the version of a document across the cluster, RavenDB's
// "A:17-<dbid>, B:5-<dbid>" (node tag, etag, database id). Comparing two says
// whether one supersedes the other or they are concurrent (a conflict).
// Canonical form: entries are always kept sorted by node tag, then database
// id (bytewise), so equal vectors have equal text and a stored change vector
// can be compared as a string; parse accepts any order.
// A value type; not thread-safe to mutate concurrently, safe to copy.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace corvus::storage {

struct ChangeVectorEntry {
  std::string node_tag;     // "A", "B", "AB", ...
  uint64_t etag = 0;
  std::string database_id;  // 22-char base64 of the database GUID
};

enum class ChangeVectorOrder { Equal, Newer, Older, Concurrent };

// The node tag of the entry a cluster-wide transaction gives the documents it
// writes ("TRXN:<raft index>-<id>", the same on every member).
inline constexpr std::string_view kClusterTransactionTag = "TRXN";

class ChangeVector {
 public:
  ChangeVector() = default;

  // Parses "A:17-dbid, B:5-dbid"; an empty string is the empty vector.
  // InvalidArgument names the offending entry.
  static Result<ChangeVector> parse(std::string_view text);

  // Sets (or adds) the entry for database_id; entries are keyed by database id
  // because a node may host several incarnations of a database.
  void set(std::string_view node_tag, uint64_t etag, std::string_view database_id);

  // Entry-wise maximum: the result supersedes both inputs.
  void merge(const ChangeVector& other);

  // Newer: this has seen everything other has and more.
  ChangeVectorOrder compare(const ChangeVector& other) const;
  // The largest etag among the entries of `node_tag`; 0 when there is none.
  uint64_t etag_of(std::string_view node_tag) const;

  // The canonical text: entries in (node tag, database id) order.
  std::string to_string() const;
  bool empty() const { return entries_.empty(); }
  const std::vector<ChangeVectorEntry>& entries() const { return entries_; }

 private:
  // Places a new entry at its canonical position.
  void insert_sorted(ChangeVectorEntry entry);

  std::vector<ChangeVectorEntry> entries_;  // sorted by (node_tag, database_id)
};

}  // namespace corvus::storage
