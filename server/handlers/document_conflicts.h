#pragma once
// Documents in conflict as the HTTP API shows them (RavenDB's conflict
// answers): the 409 DocumentConflictException a read of a conflicted document
// gets, and the listing of conflicted documents for
// GET /databases/{db}/replication/conflicts. Reads go to storage snapshots
// (storage/conflicts_storage.h). Stateless; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/response.h"
#include "storage/documents_storage.h"
#include "storage/status.h"

namespace corvus::server::handlers {

inline constexpr std::string_view kDocumentConflictType =
    "Raven.Client.Exceptions.Documents.DocumentConflictException";

// RavenDB's answer to reading a document in conflict: 409 with
// {Url, Type: DocumentConflictException, Message, Error, DocId, LargestEtag}
// (the clients raise DocumentConflictException from it). `versions` are the
// document's conflicting versions (not empty).
http::Response document_conflict_response(std::string_view id, const std::vector<storage::Document>& versions,
                                          std::string_view url);

// True when some document of the database is in conflict (one read of the
// count kept in meta, as of the last durable batch): lets a load of many ids
// skip looking for conflicts of the missing ones in the usual case.
Result<bool> any_conflicts(const storage::DocumentsStorage& storage);

// When `id` is in conflict, the 409 above; nullopt when it is not. Errors of
// the read are returned.
Result<std::optional<http::Response>> conflict_response_if_conflicted(const storage::DocumentsStorage& storage,
                                                                      std::string_view id, std::string_view url);

// One conflicted document of the listing.
struct ConflictedDocument {
  std::string id;                // original casing
  int64_t last_modified_us = 0;  // the newest of its conflicting versions
};

struct ConflictedDocuments {
  std::vector<ConflictedDocument> page;
  uint64_t total = 0;  // documents in conflict (with a version after the etag asked for)
};

// The documents with a conflicting version whose etag is >= `from_etag`, in
// id order, `start` of them skipped and at most `page_size` returned (0: only
// the total).
// TODO(conflicts): belongs in storage's ConflictsStorage (it reads the
// `conflicts` family directly); written here while storage/ was being changed
// by the replication items work.
Result<ConflictedDocuments> list_conflicted_documents(const storage::DocumentsStorage& storage, uint64_t from_etag,
                                                      uint64_t start, uint64_t page_size);

}  // namespace corvus::server::handlers
