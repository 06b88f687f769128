#include "server/handlers/document_conflicts.h"

#include <algorithm>
#include <memory>

#include <rocksdb/iterator.h>

#include "server/http/error_response.h"
#include "storage/conflicts_storage.h"
#include "storage/snapshot_read.h"

namespace corvus::server::handlers {

http::Response document_conflict_response(std::string_view id, const std::vector<storage::Document>& versions,
                                          std::string_view url) {
  uint64_t largest_etag = 0;
  for (const auto& v : versions) largest_etag = std::max(largest_etag, v.etag);
  // RavenDB names the document by its lowered id here.
  const std::string doc_id = storage::lower_id(id);
  const std::string message =
      "Conflict detected on '" + doc_id + "', conflict must be resolved before the document will be accessible.";
  std::string body = "{\"Url\":";
  http::append_json_string(body, url);
  body += ",\"Type\":";
  http::append_json_string(body, kDocumentConflictType);
  body += ",\"Message\":";
  http::append_json_string(body, message);
  body += ",\"Error\":";
  http::append_json_string(body, message);
  body += ",\"DocId\":";
  http::append_json_string(body, doc_id);
  body += ",\"LargestEtag\":" + std::to_string(largest_etag) + "}";
  return http::Response::json(409, std::move(body));
}

Result<bool> any_conflicts(const storage::DocumentsStorage& storage) {
  auto versions = storage.read_count(storage::meta_keys::kConflictVersionCount);
  if (!versions.ok()) return versions.status();
  return versions.value() > 0;
}

Result<std::optional<http::Response>> conflict_response_if_conflicted(const storage::DocumentsStorage& storage,
                                                                      std::string_view id, std::string_view url) {
  auto versions = storage::ConflictsStorage::get_for(storage, id);
  if (!versions.ok()) return versions.status();
  if (versions->empty()) return std::optional<http::Response>();
  return std::optional<http::Response>(document_conflict_response(id, versions.value(), url));
}

Result<ConflictedDocuments> list_conflicted_documents(const storage::DocumentsStorage& storage, uint64_t from_etag,
                                                      uint64_t start, uint64_t page_size) {
  const storage::Engine& engine = storage.engine();
  storage::SnapshotRead snap(engine.db());
  std::unique_ptr<rocksdb::Iterator> it(engine.db()->NewIterator(snap.opts, engine.cf(storage::Family::Conflicts)));
  ConflictedDocuments out;
  // Keys are "lowered id \0 change vector": one run of keys per document.
  std::string run_prefix;
  ConflictedDocument run;
  bool run_counts = false;  // some version of the run has etag >= from_etag
  auto close_run = [&] {
    if (!run_counts) return;
    if (out.total >= start && out.page.size() < page_size) out.page.push_back(run);
    ++out.total;
  };
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    const size_t zero = key.find('\0');
    if (zero == std::string_view::npos) return Status::Corruption("conflicts key without a document id");
    if (key.substr(0, zero + 1) != run_prefix) {
      close_run();
      run_prefix = std::string(key.substr(0, zero + 1));
      run = ConflictedDocument{};
      run_counts = false;
    }
    auto version = storage::decode_document(std::string_view(it->value().data(), it->value().size()));
    if (!version.ok()) return version.status();
    if (run.id.empty()) run.id = version->id;
    run.last_modified_us = std::max(run.last_modified_us, version->last_modified_us);
    run_counts = run_counts || version->etag >= from_etag;
  }
  if (!it->status().ok()) return storage::from_rocksdb(it->status(), "list conflicts");
  close_run();
  return out;
}

}  // namespace corvus::server::handlers
