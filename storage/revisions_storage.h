#pragma once
// RevisionsStorage: the immutable past versions of documents (RavenDB's
// revisions). Stateless: the revisions live in the database's families
// Revisions (lowered doc id \0 big-endian etag -> encoded Document whose
// @flags include Revision) and RevisionChangeVectors (change vector ->
// Revisions key), and each revision takes a database etag (etag-order kind
// kEtagOfRevision). The policy in force is DocumentsStorage's
// revisions_configuration().
//
// Write-side functions run inside a WriteTransaction (the merger's writer
// thread), so a revision and its document change are one durable batch.
// Read-side functions take one snapshot per call and may run on any thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "storage/document.h"
#include "storage/revisions_configuration.h"
#include "storage/status.h"
#include "storage/write_transaction.h"

namespace corvus::storage {

class DocumentsStorage;

// The revisions policy one write works with: the configuration in force (kept
// alive while the write uses it) and the entry for the document's collection.
struct RevisionsPolicy {
  std::shared_ptr<const RevisionsConfiguration> configuration;
  const RevisionsCollectionConfiguration* collection = nullptr;  // nullptr: revisions are off
  explicit operator bool() const { return collection != nullptr; }
};

// One page of a document's revisions, newest first.
struct RevisionsPage {
  std::vector<Document> revisions;
  uint64_t total = 0;  // all revisions of the document
};

// What ForceRevisionCreation did.
struct ForcedRevision {
  bool created = false;  // false: a revision of this exact version exists already
  Document revision;     // when created
  PutResult document;    // the document as it is now (HasRevisions added if it was missing)
};

class RevisionsStorage {
 public:
  // --- write side (inside a WriteTransaction) ---

  static RevisionsPolicy policy_for(const DocumentsStorage& storage, std::string_view collection);

  // After a put of `written` whose final JSON is `body`: stores its revision,
  // then prunes the document's oldest revisions per `policy` (count, then age).
  static Status on_put(WriteTransaction& txn, const PutResult& written, const boost::json::object& body,
                       const RevisionsPolicy& policy);

  // After `deleted` was replaced by `tombstone`: when revisions are on for its
  // collection, either removes all its revisions (PurgeOnDelete) or stores a
  // delete revision (flags DeleteRevision) and prunes.
  static Status on_delete(WriteTransaction& txn, const Document& deleted, const Tombstone& tombstone);

  // Stores a revision of document `id` as it is now, whatever the
  // configuration (ForceRevisionCreation). A document without HasRevisions
  // gets it first (a new version). NotFound when there is no such document.
  static Result<ForcedRevision> force_create(WriteTransaction& txn, std::string_view id);

  // Stores a revision that comes from elsewhere (replication's conflict
  // losers): `revision` keeps its id, collection, change vector, flags (Revision
  // is added) and last-modified; its etag is this database's next. Returns
  // false (nothing stored) when a revision with that change vector exists.
  // InvalidArgument when the id or change vector is empty.
  static Result<bool> put_external(WriteTransaction& txn, Document revision);
  // A revision another member stored (replication items): as put_external,
  // but its flags are kept exactly (a delete revision is not flagged
  // Revision). InvalidArgument when it is flagged neither Revision nor
  // DeleteRevision.
  static Result<bool> put_replicated(WriteTransaction& txn, Document revision);

  // --- read side (any thread; one snapshot per call) ---

  // Newest first; `total` counts them all.
  static Result<RevisionsPage> get_for(const DocumentsStorage& storage, std::string_view id, size_t start,
                                       size_t page_size);
  static Result<uint64_t> count_for(const DocumentsStorage& storage, std::string_view id);
  // One entry per change vector, nullopt where there is no such revision.
  static Result<std::vector<std::optional<Document>>> get_by_change_vectors(
      const DocumentsStorage& storage, const std::vector<std::string>& change_vectors);
  // The revision that was current at `before_us`: the newest one modified at
  // or before it; nullopt when none is.
  static Result<std::optional<Document>> get_before(const DocumentsStorage& storage, std::string_view id,
                                                    int64_t before_us);
  // The revisions bin: documents that do not exist and whose newest revision
  // is a delete revision, newest deletion first; that delete revision each.
  static Result<std::vector<Document>> bin(const DocumentsStorage& storage, size_t start, size_t page_size);

 private:
  // put_external and put_replicated once the flags are settled.
  static Result<bool> put_with_flags(WriteTransaction& txn, Document revision);
};

}  // namespace corvus::storage
