#pragma once
// ConflictsStorage: the versions of a document that is in conflict (the
// KeepConflict policy of replication, see replicated_writes.h). While a
// document is in conflict it has neither a live version nor a tombstone: every
// conflicting version, local and incoming, lives in the `conflicts` family
// (key layout in engine.h) until a write resolves them. Stateless; the write
// side runs in a WriteTransaction on the merger's thread, the read side on
// any thread (one snapshot per call).

#include <string>
#include <string_view>
#include <vector>

#include "storage/change_vector.h"
#include "storage/document.h"
#include "storage/status.h"

namespace corvus::storage {

class DocumentsStorage;
class WriteTransaction;

class ConflictsStorage {
 public:
  // Keeps `version` (id, collection, change vector, last-modified, flags,
  // JSON; no JSON = a deletion, flagged DeleteRevision) as one of its
  // document's conflicting versions, flagged Conflicted, under this
  // database's next etag. A version with the same change vector is replaced.
  static Status add(WriteTransaction& txn, Document version);

  // The conflicting versions of `id` as the transaction sees them, in key
  // (change vector text) order; empty when it is not in conflict.
  static Result<std::vector<Document>> in_transaction(WriteTransaction& txn, std::string_view id);

  // Resolves the conflict of `id` by a newer write: removes every
  // conflicting version, keeps each as a revision flagged Conflicted (so no
  // version is lost, whatever the revisions configuration) and returns the
  // merge of their change vectors, which the resolving write must supersede.
  // Empty vector when `id` is not in conflict.
  static Result<ChangeVector> resolve(WriteTransaction& txn, std::string_view id);

  // Takes `version` (as in_transaction returned it) out of its document's
  // conflict and keeps it as a revision flagged Conflicted: a newer version
  // of the same line superseded it, or it merged with one of the same content.
  static Status supersede(WriteTransaction& txn, Document version);

  // Read side: the conflicting versions of `id`, change vector text order.
  static Result<std::vector<Document>> get_for(const DocumentsStorage& storage, std::string_view id);
};

}  // namespace corvus::storage
