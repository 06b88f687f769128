#include "storage/revisions_storage.h"

#include <algorithm>
#include <limits>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "storage/clock.h"
#include "storage/documents_storage.h"
#include "storage/snapshot_read.h"

namespace corvus::storage {
namespace json = boost::json;

namespace {

// Revisions keys: lowered id, a 0 byte (ids never contain one, so one
// document's revisions never interleave with another's), big-endian etag.
std::string revision_key(const std::string& prefix, uint64_t etag) { return prefix + encode_big_endian(etag); }

// Whether `key` (which starts with `prefix`) is one of that document's
// revisions and not one of an id that merely starts with the same bytes (an
// id may contain a 0 byte: "a\0b" sorts among the keys of "a").
bool own_key(const rocksdb::Slice& key, const std::string& prefix) { return key.size() == prefix.size() + 8; }

// Just past every key starting with `prefix` (which ends in the 0 byte).
std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  end.back() = '\1';
  return end;
}

Status iteration_error(const rocksdb::Iterator& it, const char* what) {
  return it.status().ok() ? Status::Ok() : from_rocksdb(it.status(), what);
}

// A document's JSON with @metadata.@flags set to `flags`.
std::string with_flags(json::object body, uint32_t flags) {
  json::value& m = body["@metadata"];
  if (!m.is_object()) m.emplace_object();
  if (std::string f = flags_to_string(flags); !f.empty()) {
    m.as_object()["@flags"] = f;
  } else {
    m.as_object().erase("@flags");
  }
  return json::serialize(body);
}

// How many revisions the database holds (the statistics' CountOfRevisionDocuments).
Status add_to_count(WriteTransaction& txn, int64_t delta) { return txn.adjust_count(meta_keys::kRevisionCount, delta); }

// Stores `rev` (etag assigned here) unless a revision with its change vector
// exists. Returns whether it stored it.
Result<bool> store(WriteTransaction& txn, Document& rev) {
  auto existing = txn.read(Family::RevisionChangeVectors, rev.change_vector);
  if (!existing.ok()) return existing.status();
  if (existing.value()) return false;
  rev.etag = txn.next_etag();
  const std::string key = revision_key(document_key_prefix(rev.id), rev.etag);
  txn.put_raw(Family::Revisions, key, encode_document(rev));
  txn.put_raw(Family::RevisionChangeVectors, rev.change_vector, key);
  txn.index_etag(rev.etag, kEtagOfRevision, key);
  if (Status s = add_to_count(txn, 1); !s.ok()) return s;
  return true;
}

// The document's revisions, oldest first, as this transaction sees them.
Result<std::vector<Document>> revisions_in_txn(WriteTransaction& txn, std::string_view id) {
  const std::string prefix = document_key_prefix(id);
  std::vector<Document> out;
  auto it = txn.new_iterator(Family::Revisions);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!own_key(it->key(), prefix)) continue;
    auto d = decode_document(std::string_view(it->value().data(), it->value().size()));
    if (!d.ok()) return d.status();
    out.push_back(std::move(d).value());
  }
  if (Status s = iteration_error(*it, "read revisions in write transaction"); !s.ok()) return s;
  return out;
}

Status erase(WriteTransaction& txn, const Document& rev) {
  txn.erase_raw(Family::Revisions, revision_key(document_key_prefix(rev.id), rev.etag));
  txn.erase_raw(Family::RevisionChangeVectors, rev.change_vector);
  txn.unindex_etag(rev.etag);
  return add_to_count(txn, -1);
}

// Removes the oldest revisions beyond MinimumRevisionsToKeep, of those only
// the ones older than MinimumRevisionAgeToKeep, at most
// MaximumRevisionsToDeleteUponDocumentUpdate of them. Runs on every write of
// a document with revisions, so it walks keys only and decodes just the
// revisions that are candidates for removal.
Status prune(WriteTransaction& txn, std::string_view id, const RevisionsCollectionConfiguration& policy) {
  if (!policy.minimum_revisions_to_keep && !policy.minimum_revision_age_to_keep_us) return Status::Ok();
  const std::string prefix = document_key_prefix(id);
  std::vector<std::string> keys;  // oldest first
  {
    auto it = txn.new_iterator(Family::Revisions);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (own_key(it->key(), prefix)) keys.push_back(it->key().ToString());
    }
    if (Status s = iteration_error(*it, "read revisions in write transaction"); !s.ok()) return s;
  }
  size_t candidates = keys.size();
  if (policy.minimum_revisions_to_keep) {
    const auto keep = static_cast<size_t>(*policy.minimum_revisions_to_keep);
    candidates = keys.size() > keep ? keys.size() - keep : 0;
  }
  size_t budget = policy.maximum_revisions_to_delete_upon_document_update
                      ? static_cast<size_t>(*policy.maximum_revisions_to_delete_upon_document_update)
                      : std::numeric_limits<size_t>::max();
  const int64_t now = txn.storage().options().clock->now_micros();
  for (size_t i = 0; i < candidates && budget > 0; ++i) {
    auto raw = txn.read(Family::Revisions, keys[i]);
    if (!raw.ok()) return raw.status();
    if (!raw.value()) return Status::Corruption("revision key vanished within its transaction");
    auto rev = decode_document(*raw.value());
    if (!rev.ok()) return rev.status();
    if (policy.minimum_revision_age_to_keep_us &&
        now - rev->last_modified_us < *policy.minimum_revision_age_to_keep_us) {
      continue;  // young enough to keep (a revision from elsewhere may be younger than a later one)
    }
    if (Status s = erase(txn, rev.value()); !s.ok()) return s;
    --budget;
  }
  return Status::Ok();
}

Result<json::object> parse_object(const std::string& text, std::string_view id) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::Corruption("stored document '" + std::string(id) + "' is not a JSON object");
  return std::move(v.as_object());
}

Result<std::optional<Document>> read_revision(const DocumentsStorage& storage, const rocksdb::ReadOptions& opts,
                                              const std::string& key) {
  std::string value;
  const Engine& engine = storage.engine();
  rocksdb::Status s = engine.db()->Get(opts, engine.cf(Family::Revisions), key, &value);
  if (s.IsNotFound()) return std::optional<Document>();
  if (!s.ok()) return from_rocksdb(s, "read revision");
  auto d = decode_document(value);
  if (!d.ok()) return d.status();
  return std::optional<Document>(std::move(d).value());
}

}  // namespace

RevisionsPolicy RevisionsStorage::policy_for(const DocumentsStorage& storage, std::string_view collection) {
  RevisionsPolicy p;
  p.configuration = storage.revisions_configuration();
  if (p.configuration) p.collection = p.configuration->for_collection(collection);
  return p;
}

Status RevisionsStorage::on_put(WriteTransaction& txn, const PutResult& written, const json::object& body,
                                const RevisionsPolicy& policy) {
  if (!policy) return Status::Ok();
  Document rev;
  rev.id = written.id;
  rev.collection = written.collection;
  rev.change_vector = written.change_vector;
  rev.last_modified_us = written.last_modified_us;
  rev.flags = written.flags | kHasRevisions | kRevision;
  rev.json = with_flags(body, rev.flags);
  auto stored = store(txn, rev);
  if (!stored.ok()) return stored.status();
  return prune(txn, written.id, *policy.collection);
}

Status RevisionsStorage::on_delete(WriteTransaction& txn, const Document& deleted, const Tombstone& tombstone) {
  const RevisionsPolicy policy = policy_for(txn.storage(), deleted.collection);
  if (!policy) return Status::Ok();
  if (policy.collection->purge_on_delete) {
    auto revisions = revisions_in_txn(txn, deleted.id);
    if (!revisions.ok()) return revisions.status();
    for (const auto& rev : revisions.value()) {
      if (Status s = erase(txn, rev); !s.ok()) return s;
    }
    return Status::Ok();
  }
  Document rev;
  rev.id = deleted.id;
  rev.collection = deleted.collection;
  rev.change_vector = tombstone.change_vector;
  rev.last_modified_us = tombstone.deleted_at_us;
  rev.flags = kHasRevisions | kDeleteRevision;
  json::object metadata;
  if (!deleted.collection.empty()) metadata["@collection"] = deleted.collection;
  metadata["@id"] = deleted.id;
  metadata["@change-vector"] = rev.change_vector;
  metadata["@last-modified"] = format_iso8601(rev.last_modified_us);
  metadata["@flags"] = flags_to_string(rev.flags);
  rev.json = json::serialize(json::object{{"@metadata", std::move(metadata)}});
  auto stored = store(txn, rev);
  if (!stored.ok()) return stored.status();
  return prune(txn, deleted.id, *policy.collection);
}

Result<ForcedRevision> RevisionsStorage::force_create(WriteTransaction& txn, std::string_view id) {
  auto current = txn.get(id);
  if (!current.ok()) return current.status();
  if (!current.value()) {
    return Status::NotFound("Failed to create revision for document '" + std::string(id) +
                            "' because the document does not exist");
  }
  Document doc = std::move(*current.value());
  ForcedRevision out;
  auto existing = txn.read(Family::RevisionChangeVectors, doc.change_vector);
  if (!existing.ok()) return existing.status();
  const auto as_put_result = [](const Document& d) {
    return PutResult{d.id, d.collection, d.change_vector, d.last_modified_us, d.flags, d.etag};
  };
  if (existing.value()) {
    out.document = as_put_result(doc);
    return out;  // this version has its revision already
  }
  if (!(doc.flags & kHasRevisions)) {
    // The client updates its tracked document from the result, so the flag
    // travels as a new version (RavenDB does the same).
    auto updated = txn.update_document_metadata(doc.id, [](json::object&, uint32_t& flags) {
      flags |= kHasRevisions;
      return Status::Ok();
    });
    if (!updated.ok()) return updated.status();
    auto reread = txn.get(doc.id);
    if (!reread.ok()) return reread.status();
    if (!reread.value()) return Status::Internal("document '" + doc.id + "' vanished within its transaction");
    doc = std::move(*reread.value());
  }
  auto body = parse_object(doc.json, doc.id);
  if (!body.ok()) return body.status();
  Document rev = doc;
  rev.flags = doc.flags | kHasRevisions | kRevision;
  rev.json = with_flags(std::move(body).value(), rev.flags);
  auto stored = store(txn, rev);
  if (!stored.ok()) return stored.status();
  out.created = stored.value();
  out.revision = std::move(rev);
  out.document = as_put_result(doc);
  return out;
}

Result<bool> RevisionsStorage::put_external(WriteTransaction& txn, Document revision) {
  revision.flags |= kRevision;
  return put_with_flags(txn, std::move(revision));
}

Result<bool> RevisionsStorage::put_replicated(WriteTransaction& txn, Document revision) {
  if (!(revision.flags & (kRevision | kDeleteRevision)))
    return Status::InvalidArgument("replicated revision of '" + revision.id + "' is flagged neither Revision nor DeleteRevision");
  return put_with_flags(txn, std::move(revision));
}

Result<bool> RevisionsStorage::put_with_flags(WriteTransaction& txn, Document revision) {
  if (revision.id.empty()) return Status::InvalidArgument("a revision needs a document id");
  if (revision.change_vector.empty()) return Status::InvalidArgument("a revision needs a change vector");
  if (!revision.json.empty()) {
    auto body = parse_object(revision.json, revision.id);
    if (!body.ok()) return Status::InvalidArgument("revision of '" + revision.id + "' is not a JSON object");
    json::object& b = body.value();
    json::value& m = b["@metadata"];
    if (!m.is_object()) m.emplace_object();
    auto& mo = m.as_object();
    if (!revision.collection.empty()) mo["@collection"] = revision.collection;
    mo["@id"] = revision.id;
    mo["@change-vector"] = revision.change_vector;
    mo["@last-modified"] = format_iso8601(revision.last_modified_us);
    revision.json = with_flags(std::move(b), revision.flags);
  } else {
    revision.json = with_flags(json::object{}, revision.flags);
  }
  return store(txn, revision);
}

Result<RevisionsPage> RevisionsStorage::get_for(const DocumentsStorage& storage, std::string_view id, size_t start,
                                                size_t page_size) {
  const Engine& engine = storage.engine();
  SnapshotRead snap(engine.db());
  const std::string prefix = document_key_prefix(id);
  RevisionsPage page;
  std::unique_ptr<rocksdb::Iterator> it(engine.db()->NewIterator(snap.opts, engine.cf(Family::Revisions)));
  for (it->SeekForPrev(prefix_end(prefix)); it->Valid() && it->key().starts_with(prefix); it->Prev()) {
    if (!own_key(it->key(), prefix)) continue;
    const uint64_t n = page.total++;
    if (n < start || page.revisions.size() >= page_size) continue;
    auto d = decode_document(std::string_view(it->value().data(), it->value().size()));
    if (!d.ok()) return d.status();
    page.revisions.push_back(std::move(d).value());
  }
  if (Status s = iteration_error(*it, "list revisions"); !s.ok()) return s;
  return page;
}

Result<uint64_t> RevisionsStorage::count_for(const DocumentsStorage& storage, std::string_view id) {
  const Engine& engine = storage.engine();
  SnapshotRead snap(engine.db());
  const std::string prefix = document_key_prefix(id);
  uint64_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(engine.db()->NewIterator(snap.opts, engine.cf(Family::Revisions)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (own_key(it->key(), prefix)) ++n;
  }
  if (Status s = iteration_error(*it, "count revisions"); !s.ok()) return s;
  return n;
}

Result<std::vector<std::optional<Document>>> RevisionsStorage::get_by_change_vectors(
    const DocumentsStorage& storage, const std::vector<std::string>& change_vectors) {
  const Engine& engine = storage.engine();
  SnapshotRead snap(engine.db());
  std::vector<std::optional<Document>> out;
  for (const auto& cv : change_vectors) {
    std::string key;
    rocksdb::Status s = engine.db()->Get(snap.opts, engine.cf(Family::RevisionChangeVectors), cv, &key);
    if (s.IsNotFound()) {
      out.emplace_back();
      continue;
    }
    if (!s.ok()) return from_rocksdb(s, "read revision change vector");
    auto rev = read_revision(storage, snap.opts, key);
    if (!rev.ok()) return rev.status();
    if (!rev.value()) return Status::Corruption("revision change vector " + cv + " names a missing revision");
    out.push_back(std::move(rev).value());
  }
  return out;
}

Result<std::optional<Document>> RevisionsStorage::get_before(const DocumentsStorage& storage, std::string_view id,
                                                             int64_t before_us) {
  const Engine& engine = storage.engine();
  SnapshotRead snap(engine.db());
  const std::string prefix = document_key_prefix(id);
  std::unique_ptr<rocksdb::Iterator> it(engine.db()->NewIterator(snap.opts, engine.cf(Family::Revisions)));
  for (it->SeekForPrev(prefix_end(prefix)); it->Valid() && it->key().starts_with(prefix); it->Prev()) {
    if (!own_key(it->key(), prefix)) continue;
    auto d = decode_document(std::string_view(it->value().data(), it->value().size()));
    if (!d.ok()) return d.status();
    if (d->last_modified_us <= before_us) return std::optional<Document>(std::move(d).value());
  }
  if (Status s = iteration_error(*it, "revision before a date"); !s.ok()) return s;
  return std::optional<Document>();
}

Result<std::vector<Document>> RevisionsStorage::bin(const DocumentsStorage& storage, size_t start, size_t page_size) {
  const Engine& engine = storage.engine();
  SnapshotRead snap(engine.db());
  std::vector<Document> out;
  size_t skipped = 0;
  std::unique_ptr<rocksdb::Iterator> etags(engine.db()->NewIterator(snap.opts, engine.cf(Family::Etags)));
  std::unique_ptr<rocksdb::Iterator> revs(engine.db()->NewIterator(snap.opts, engine.cf(Family::Revisions)));
  for (etags->SeekToLast(); etags->Valid() && out.size() < page_size; etags->Prev()) {
    const rocksdb::Slice v = etags->value();
    if (v.empty() || v[0] != kEtagOfRevision) continue;
    const std::string key(v.data() + 1, v.size() - 1);
    if (key.size() < 9) return Status::Corruption("malformed revision key in the etag order");
    // Only a document's newest revision counts: none of its own keys follows.
    const std::string prefix = key.substr(0, key.size() - 8);
    revs->Seek(key);
    if (Status s = iteration_error(*revs, "revisions bin"); !s.ok()) return s;
    if (!revs->Valid() || revs->key() != rocksdb::Slice(key)) {
      return Status::Corruption("the etag order names a revision that does not exist");
    }
    const std::string value = revs->value().ToString();
    bool newest = true;
    for (revs->Next(); revs->Valid() && revs->key().starts_with(prefix); revs->Next()) {
      if (own_key(revs->key(), prefix)) {
        newest = false;
        break;
      }
    }
    if (Status s = iteration_error(*revs, "revisions bin"); !s.ok()) return s;
    if (!newest) continue;
    auto d = decode_document(value);
    if (!d.ok()) return d.status();
    if (!(d->flags & kDeleteRevision)) continue;
    std::string ignored;
    rocksdb::Status s = engine.db()->Get(snap.opts, engine.cf(Family::Documents), lower_id(d->id), &ignored);
    if (s.ok()) continue;  // re-created since
    if (!s.IsNotFound()) return from_rocksdb(s, "revisions bin");
    if (skipped++ < start) continue;
    out.push_back(std::move(d).value());
  }
  if (Status s = iteration_error(*etags, "revisions bin"); !s.ok()) return s;
  return out;
}

}  // namespace corvus::storage
