#pragma once
// ReplicatedWrites: applies a version of a document that another member of
// the database group wrote (replication) inside a WriteTransaction, deciding
// by change vectors: newer replaces, older or equal is ignored, concurrent is
// a conflict, resolved by the ConflictPolicy. Deletions take part like
// writes. Stateless; runs on the merger's writer thread, in the caller's one
// transaction (so a replicated batch is applied whole or not at all).

#include <cstdint>
#include <optional>
#include <string>

#include "storage/status.h"

namespace corvus::storage {

class WriteTransaction;

// What a conflict becomes (the database record will choose; ResolveToLatest
// is RavenDB's default).
enum class ConflictPolicy {
  // The version modified last wins, ties broken by the larger canonical
  // change vector text, so every member picks the same winner. The winner is
  // stored with the merge of both change vectors (flag Resolved); the loser is
  // kept as a revision flagged Conflicted.
  ResolveToLatest,
  // Both versions go to the conflicts family (conflicts_storage.h) and the
  // document has no current version until a newer write resolves it.
  KeepConflict,
};

// A version as another member stored it.
struct IncomingVersion {
  std::string id;
  std::string collection;     // as in @collection; empty means "@empty"
  std::string change_vector;  // any entry order
  int64_t last_modified_us = 0;
  uint32_t flags = 0;  // its document flags (HasCounters, ...); revision flags are dropped
  // The document as the member stored it, @metadata included (its
  // @counters/@attachments are kept as sent); nullopt: the version is a
  // deletion. Parsed only when the version is stored or in conflict: a body
  // that is not a JSON object is InvalidArgument then.
  std::optional<std::string> json;
};

enum class ReplicatedOutcome {
  Stored,          // newer than what we had (or we had nothing): stored as it is
  Ignored,         // we already have it or something newer
  Merged,          // concurrent but the same content: change vectors merged, no conflict
  IncomingWon,     // conflict resolved to the incoming version
  LocalWon,        // conflict resolved to our version
  Conflicted,      // kept as a conflict (KeepConflict, or already in conflict)
};

class ReplicatedWrites {
 public:
  // Every stored item takes a local etag; the database change vector merges
  // the incoming change vector in every outcome. InvalidArgument (nothing
  // changed) for an empty id or an invalid change vector.
  static Result<ReplicatedOutcome> apply(WriteTransaction& txn, IncomingVersion incoming, ConflictPolicy policy);
};

}  // namespace corvus::storage
