#include "storage/conflicts_storage.h"

#include <memory>

#include <rocksdb/iterator.h>

#include "storage/documents_storage.h"
#include "storage/revisions_storage.h"
#include "storage/snapshot_read.h"
#include "storage/write_transaction.h"

namespace corvus::storage {
namespace {

Result<std::vector<Document>> collect(rocksdb::Iterator& it, const std::string& prefix, const char* what) {
  std::vector<Document> out;
  for (it.Seek(prefix); it.Valid() && it.key().starts_with(prefix); it.Next()) {
    auto d = decode_document(std::string_view(it.value().data(), it.value().size()));
    if (!d.ok()) return d.status();
    out.push_back(std::move(d).value());
  }
  if (!it.status().ok()) return from_rocksdb(it.status(), what);
  return out;
}

}  // namespace

Status ConflictsStorage::add(WriteTransaction& txn, Document version) {
  if (version.id.empty()) return Status::InvalidArgument("a conflicting version needs a document id");
  auto cv = ChangeVector::parse(version.change_vector);
  if (!cv.ok()) return cv.status();
  version.change_vector = cv->to_string();
  const std::string key = document_key_prefix(version.id) + version.change_vector;
  auto previous = txn.read(Family::Conflicts, key);
  if (!previous.ok()) return previous.status();
  if (previous.value()) {
    auto old = decode_document(*previous.value());
    if (!old.ok()) return old.status();
    txn.unindex_etag(old->etag);
  } else {
    ++txn.conflict_versions();
  }
  // Resolved stays: it is part of the version (a member holding it as its
  // document shows it), and this version may become the document again.
  version.flags = (version.flags & ~kRevision) | kConflicted;
  if (version.json.empty()) version.flags |= kDeleteRevision;
  version.etag = txn.next_etag();
  txn.note_change_vector(cv.value());
  txn.put_raw(Family::Conflicts, key, encode_document(version));
  txn.index_etag(version.etag, kEtagOfConflict, key);
  return Status::Ok();
}

Result<std::vector<Document>> ConflictsStorage::in_transaction(WriteTransaction& txn, std::string_view id) {
  // No conflict anywhere (the usual case for every put): skip the scan.
  if (txn.conflict_versions() == 0) return std::vector<Document>();
  auto it = txn.new_iterator(Family::Conflicts);
  return collect(*it, document_key_prefix(id), "read conflicts in write transaction");
}

Result<ChangeVector> ConflictsStorage::resolve(WriteTransaction& txn, std::string_view id) {
  auto versions = in_transaction(txn, id);
  if (!versions.ok()) return versions.status();
  ChangeVector merged;
  for (Document& v : versions.value()) {
    auto cv = ChangeVector::parse(v.change_vector);
    if (!cv.ok()) return Status::Corruption("stored conflict of '" + std::string(id) + "': " + cv.status().message());
    merged.merge(cv.value());
    if (Status s = supersede(txn, std::move(v)); !s.ok()) return s;
  }
  return merged;
}

Status ConflictsStorage::supersede(WriteTransaction& txn, Document version) {
  txn.erase_raw(Family::Conflicts, document_key_prefix(version.id) + version.change_vector);
  txn.unindex_etag(version.etag);
  if (txn.conflict_versions() == 0) return Status::Corruption("conflict version count below zero");
  --txn.conflict_versions();
  // put_external keeps the Conflicted (and DeleteRevision) flags.
  return RevisionsStorage::put_external(txn, std::move(version)).status();
}

Result<std::vector<Document>> ConflictsStorage::get_for(const DocumentsStorage& storage, std::string_view id) {
  const Engine& engine = storage.engine();
  SnapshotRead snap(engine.db());
  std::unique_ptr<rocksdb::Iterator> it(engine.db()->NewIterator(snap.opts, engine.cf(Family::Conflicts)));
  return collect(*it, document_key_prefix(id), "read conflicts");
}

}  // namespace corvus::storage
