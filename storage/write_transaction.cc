#include "storage/write_transaction.h"

#include <algorithm>
#include <cassert>
#include <cstdio>

#include <boost/json/parse.hpp>
#include <boost/json/serializer.hpp>

#include "storage/attachments_storage.h"
#include "storage/change_vector.h"
#include "storage/conflicts_storage.h"
#include "storage/counters_storage.h"
#include "storage/documents_storage.h"
#include "storage/random_ids.h"
#include "storage/revisions_storage.h"

namespace corvus::storage {
namespace {

// RavenDB's limit on an id's size in bytes.
constexpr size_t kMaxIdBytes = 2048;

// Keys the server owns in @metadata; a client's values for them are replaced.
constexpr std::string_view kServerMetadataKeys[] = {"@id", "@change-vector", "@last-modified", "@flags",
                                                    "@etag"};
// Kept by the server from version to version; a client's values are ignored
// (they list what is stored beside the document, which only the server knows).
constexpr std::string_view kCarriedMetadataKeys[] = {"@counters", "@attachments"};
constexpr uint32_t kCarriedFlags = kHasCounters | kHasAttachments | kHasRevisions;

Result<boost::json::object> parse_json_object(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return Status::Corruption("unparsable JSON: " + ec.message());
  if (!v.is_object()) return Status::Corruption("JSON is not an object");
  return std::move(v.as_object());
}

// Appends `body` as JSON to `out`: a document's record is its header and its
// JSON, written in place rather than serialized into a string and copied.
void append_json(std::string& out, const boost::json::object& body) {
  boost::json::serializer sr;
  sr.reset(&body);
  size_t used = out.size();
  while (!sr.done()) {
    if (out.size() - used < 256) out.resize(std::max<size_t>(2 * out.size(), used + 2048));
    used += sr.read(out.data() + used, out.size() - used).size();
  }
  out.resize(used);
}

std::string collection_key(std::string_view collection, uint64_t etag) {
  std::string key = lower_id(collection.empty() ? "@empty" : collection);
  key.push_back('\0');
  key += encode_big_endian(etag);
  return key;
}

std::string etag_value(char kind, const std::string& key) {
  std::string v(1, kind);
  v += key;
  return v;
}

Status concurrency_error(std::string_view id, const std::string& actual, const std::string& expected,
                         std::string_view op) {
  if (actual.empty()) {
    return Status::ConcurrencyConflict("Document " + std::string(id) + " does not exist, but " +
                                       std::string(op) + " was called with change vector " + expected +
                                       ". Optimistic concurrency violation, transaction will be aborted.");
  }
  return Status::ConcurrencyConflict("Document " + std::string(id) + " has change vector " + actual + ", but " +
                                     std::string(op) + " was called with " +
                                     (expected.empty() ? std::string("an empty change vector (must be new)")
                                                       : "change vector " + expected) +
                                     ". Optimistic concurrency violation, transaction will be aborted.");
}

// Checks the caller's expectation against what is stored.
Status check_expected(std::string_view id, const std::optional<Document>& existing,
                      const std::optional<std::string>& expected, std::string_view op) {
  if (!expected) return Status::Ok();
  const std::string actual = existing ? existing->change_vector : std::string();
  if (expected->empty()) {
    return existing ? concurrency_error(id, actual, *expected, op) : Status::Ok();
  }
  if (!existing || actual != *expected) return concurrency_error(id, actual, *expected, op);
  return Status::Ok();
}

}  // namespace

namespace {

enum class BatchLookup { Absent, Found, Deleted };

// The newest entry for `key` in `batch`. Unlike GetFromBatch this tells a
// deletion apart from absence, which matters when looking through batches.
BatchLookup lookup_in_batch(rocksdb::WriteBatchWithIndex& batch, rocksdb::ColumnFamilyHandle* cf,
                            const std::string& key, std::string* value) {
  std::unique_ptr<rocksdb::WBWIIterator> it(batch.NewIterator(cf));
  it->Seek(key);
  if (!it->Valid()) return BatchLookup::Absent;
  const rocksdb::WriteEntry entry = it->Entry();
  if (entry.key != rocksdb::Slice(key)) return BatchLookup::Absent;
  if (entry.type == rocksdb::kPutRecord) {
    value->assign(entry.value.data(), entry.value.size());
    return BatchLookup::Found;
  }
  return BatchLookup::Deleted;
}

}  // namespace

Result<std::optional<std::string>> WriteTransaction::read(Family family, const std::string& key) {
  if (write_only(family)) return Status::Internal("a write transaction cannot read back a write-only family");
  auto* cf = storage_.engine_->cf(family);
  std::string value;
  // Newest first: this batch, the batches being synced, then the database.
  const bool document = family == Family::Documents;
  const uint64_t key_hash = document ? 0 : BatchKeys::hash(static_cast<uint32_t>(family), key);
  auto look_in = [&](rocksdb::WriteBatchWithIndex& batch, const BatchKeys& keys, const BatchDocuments& documents) {
    if (document) {
      switch (documents.find(key, batch.GetWriteBatch()->Data(), &value)) {
        case BatchDocuments::Lookup::Found: return BatchLookup::Found;
        case BatchDocuments::Lookup::Deleted: return BatchLookup::Deleted;
        case BatchDocuments::Lookup::Absent: return BatchLookup::Absent;
      }
    }
    return keys.may_hold(key_hash) ? lookup_in_batch(batch, cf, key, &value) : BatchLookup::Absent;
  };
  BatchLookup found = look_in(batch_, keys_, documents_);
  for (size_t i = 0; found == BatchLookup::Absent && i < behind_.size(); ++i)
    found = look_in(*behind_[i].index, *behind_[i].keys, *behind_[i].documents);
  if (found == BatchLookup::Found) return std::optional<std::string>(std::move(value));
  if (found == BatchLookup::Deleted) return std::optional<std::string>();
  rocksdb::Status s = storage_.engine_->db()->Get(rocksdb::ReadOptions(), cf, key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_rocksdb(s, "read in write transaction");
  return std::optional<std::string>(std::move(value));
}

Result<uint64_t> WriteTransaction::read_u64(const std::string& meta_key) {
  auto v = read(Family::Meta, meta_key);
  if (!v.ok()) return v.status();
  return v.value() ? decode_big_endian(*v.value()) : 0;
}

std::unique_ptr<rocksdb::Iterator> WriteTransaction::new_iterator(Family family) {
  assert(!write_only(family) && family != Family::Documents);
  auto* cf = storage_.engine_->cf(family);
  rocksdb::Iterator* it = storage_.engine_->db()->NewIterator(rocksdb::ReadOptions(), cf);
  for (auto b = behind_.rbegin(); b != behind_.rend(); ++b) it = b->index->NewIteratorWithBase(cf, it);
  return std::unique_ptr<rocksdb::Iterator>(batch_.NewIteratorWithBase(cf, it));
}

void WriteTransaction::put_raw(Family family, const std::string& key, std::string_view value) {
  const rocksdb::Slice v(value.data(), value.size());
  auto* cf = storage_.engine_->cf(family);
  if (family == Family::Documents) {
    batch_.GetWriteBatch()->Put(cf, key, v).PermitUncheckedError();
    documents_.put(key, value, batch_.GetWriteBatch()->Data());
  } else if (write_only(family)) {
    batch_.GetWriteBatch()->Put(cf, key, v).PermitUncheckedError();
  } else {
    keys_.add(static_cast<uint32_t>(family), key);
    batch_.Put(cf, key, v).PermitUncheckedError();
  }
}

void WriteTransaction::erase_raw(Family family, const std::string& key) {
  auto* cf = storage_.engine_->cf(family);
  if (family == Family::Documents) {
    batch_.GetWriteBatch()->Delete(cf, key).PermitUncheckedError();
    documents_.erase(key);
  } else if (write_only(family)) {
    batch_.GetWriteBatch()->Delete(cf, key).PermitUncheckedError();
  } else {
    keys_.add(static_cast<uint32_t>(family), key);
    batch_.Delete(cf, key).PermitUncheckedError();
  }
}

void WriteTransaction::index_etag(uint64_t etag, char kind, const std::string& key) {
  put_raw(Family::Etags, encode_big_endian(etag), etag_value(kind, key));
}

void WriteTransaction::unindex_etag(uint64_t etag) { erase_raw(Family::Etags, encode_big_endian(etag)); }

Status WriteTransaction::adjust_count(const char* meta_key, int64_t delta) {
  auto now = read_u64(meta_key);
  if (!now.ok()) return now.status();
  if (delta < 0 && now.value() < static_cast<uint64_t>(-delta))
    return Status::Corruption(std::string("count '") + meta_key + "' would go below zero");
  write_u64(meta_key, now.value() + static_cast<uint64_t>(delta));
  return Status::Ok();
}

void WriteTransaction::write_u64(const std::string& meta_key, uint64_t v) {
  put_raw(Family::Meta, meta_key, encode_big_endian(v));
}

Result<std::optional<Document>> WriteTransaction::get(std::string_view id) {
  auto v = read(Family::Documents, lower_id(id));
  if (!v.ok()) return v.status();
  if (!v.value()) return std::optional<Document>();
  auto doc = decode_document(*v.value());
  if (!doc.ok()) return doc.status();
  return std::optional<Document>(std::move(doc).value());
}

Result<std::string> WriteTransaction::resolve_id(std::string_view requested) {
  std::string id;
  if (requested.empty()) {
    id = new_guid();
  } else if (requested.back() == '|') {
    std::string_view prefix = requested.substr(0, requested.size() - 1);
    auto n = next_identity(prefix);
    if (!n.ok()) return n.status();
    id = std::string(prefix) + "/" + std::to_string(n.value());
  } else if (requested.back() == '/') {
    // RavenDB's server-side id: the etag the document is about to get, padded
    // so such ids sort in creation order, then the node tag.
    char digits[24];
    std::snprintf(digits, sizeof digits, "%019llu", static_cast<unsigned long long>(state_.last_etag + 1));
    id = std::string(requested) + digits + "-" + storage_.node_tag();
  } else {
    id = std::string(requested);
  }
  if (id.size() > kMaxIdBytes) {
    return Status::InvalidArgument("Document id is " + std::to_string(id.size()) + " bytes; the limit is " +
                                   std::to_string(kMaxIdBytes));
  }
  return id;
}

Result<PutResult> WriteTransaction::put(std::string_view requested_id, boost::json::object body,
                                        const std::optional<std::string>& expected_change_vector,
                                        const ExternalVersion* external) {
  auto resolved = external ? Result<std::string>(std::string(requested_id)) : resolve_id(requested_id);
  if (!resolved.ok()) return resolved.status();
  const std::string id = std::move(resolved).value();

  auto existing_or = get(id);
  if (!existing_or.ok()) return existing_or.status();
  const std::optional<Document>& existing = existing_or.value();
  if (Status s = check_expected(id, existing, expected_change_vector, "Put"); !s.ok()) return s;

  boost::json::object* metadata = nullptr;
  if (auto* m = body.if_contains("@metadata")) {
    if (!m->is_object()) return Status::InvalidArgument("@metadata of document '" + id + "' must be an object");
    metadata = &m->as_object();
  } else {
    metadata = &body["@metadata"].emplace_object();
  }
  std::string collection;
  if (auto* c = metadata->if_contains("@collection")) {
    if (!c->is_string()) return Status::InvalidArgument("@collection of document '" + id + "' must be a string");
    collection = std::string(c->as_string());
    if (collection == "@empty") collection.clear();
  }
  // A version from elsewhere (a cluster-wide transaction) is stored as it is:
  // every member must end with the same document, whatever it had before.
  if (!external && existing && lower_id(existing->collection) != lower_id(collection)) {
    return Status::InvalidArgument("Changing document '" + id + "' from collection '" +
                                   (existing->collection.empty() ? "@empty" : existing->collection) +
                                   "' to '" + (collection.empty() ? "@empty" : collection) +
                                   "' is not supported; delete it first");
  }
  const bool own_flags = external && external->flags;
  if (!own_flags) for (auto k : kCarriedMetadataKeys) metadata->erase(k);
  uint32_t flags = own_flags ? *external->flags : kNoFlags;
  if (existing && !own_flags) {
    flags = existing->flags & kCarriedFlags;
    if (flags & (kHasCounters | kHasAttachments)) {
      // Parsed only for documents that have something stored beside them.
      auto previous = parse_json_object(existing->json);
      if (!previous.ok()) return Status::Corruption("stored document '" + id + "': " + previous.status().message());
      if (auto* pm = previous->if_contains("@metadata"); pm && pm->is_object()) {
        for (auto k : kCarriedMetadataKeys) {
          if (auto* v = pm->as_object().if_contains(k)) (*metadata)[k] = std::move(*v);
        }
      }
    }
  }
  // A local write to a document in conflict resolves it: the conflicting
  // versions become revisions and this version supersedes them all.
  ChangeVector conflicts_seen;
  if (!external && !existing) {
    auto r = ConflictsStorage::resolve(*this, id);
    if (!r.ok()) return r.status();
    conflicts_seen = std::move(r).value();
    if (!conflicts_seen.empty()) flags |= kResolved;
  }
  const RevisionsPolicy revisions = RevisionsStorage::policy_for(storage_, collection);
  if (revisions) flags |= kHasRevisions;
  auto written = write_version(id, body, *metadata, collection, existing, flags, external, &conflicts_seen);
  if (!written.ok() || !revisions) return written;
  if (Status s = RevisionsStorage::on_put(*this, written.value(), body, revisions); !s.ok()) return s;
  return written;
}

Result<PutResult> WriteTransaction::update_document_metadata(std::string_view id, const MetadataEdit& edit) {
  auto existing_or = get(id);
  if (!existing_or.ok()) return existing_or.status();
  const std::optional<Document>& existing = existing_or.value();
  if (!existing) return Status::NotFound("document '" + std::string(id) + "' does not exist");
  auto body = parse_json_object(existing->json);
  if (!body.ok()) return Status::Corruption("stored document '" + existing->id + "': " + body.status().message());
  auto& metadata = (*body)["@metadata"].as_object();  // always written by write_version
  // A new local version is nobody's resolution: Resolved goes, as on a put.
  uint32_t flags = existing->flags & ~kResolved;
  if (Status s = edit(metadata, flags); !s.ok()) return s;
  return write_version(existing->id, body.value(), metadata, existing->collection, existing, flags, nullptr);
}

Result<PutResult> WriteTransaction::write_version(const std::string& id, boost::json::object& body,
                                                  boost::json::object& metadata, const std::string& collection,
                                                  const std::optional<Document>& existing, uint32_t flags,
                                                  const ExternalVersion* external,
                                                  const ChangeVector* supersedes) {
  const std::string key = lower_id(id);
  // The change vector continues from the previous version, or from the
  // tombstone if the document was deleted, so a re-created document
  // supersedes its own deletion on other nodes.
  ChangeVector cv;
  // No tombstone anywhere (a database nothing was deleted from, as during a
  // bulk load): skip the read, as ConflictsStorage skips its scan.
  auto tombstone_raw = state_.tombstone_count == 0 ? Result<std::optional<std::string>>(std::nullopt)
                                                   : read(Family::Tombstones, key);
  if (!tombstone_raw.ok()) return tombstone_raw.status();
  std::optional<Tombstone> tombstone;
  if (tombstone_raw.value()) {
    auto t = decode_tombstone(*tombstone_raw.value());
    if (!t.ok()) return t.status();
    tombstone = std::move(t).value();
  }
  const std::string& previous_cv =
      existing ? existing->change_vector : (tombstone ? tombstone->change_vector : std::string());
  if (!previous_cv.empty()) {
    auto parsed = ChangeVector::parse(previous_cv);
    if (!parsed.ok()) return Status::Corruption("stored change vector of '" + id + "': " + parsed.status().message());
    cv = std::move(parsed).value();
  }

  if (supersedes) cv.merge(*supersedes);
  const uint64_t etag = next_etag();
  cv.set(storage_.node_tag(), etag, storage_.database_id());
  if (external) {
    auto theirs = ChangeVector::parse(external->change_vector);
    if (!theirs.ok()) return theirs.status();
    cv = std::move(theirs).value();
  }
  note_change_vector(cv);

  Document doc;
  doc.id = id;
  doc.collection = collection;
  doc.etag = etag;
  doc.change_vector = cv.to_string();
  doc.last_modified_us = external ? external->last_modified_us : storage_.options().clock->now_micros();
  doc.flags = flags;

  for (auto k : kServerMetadataKeys) metadata.erase(k);
  if (!collection.empty()) metadata["@collection"] = collection;
  metadata["@change-vector"] = doc.change_vector;
  metadata["@id"] = id;
  metadata["@last-modified"] = format_iso8601(doc.last_modified_us);
  if (std::string f = flags_to_string(doc.flags); !f.empty()) metadata["@flags"] = f;
  std::string record;
  encode_document_header(doc, record);
  append_json(record, body);

  if (existing) {
    unindex_etag(existing->etag);
    erase_raw(Family::Collections, collection_key(existing->collection, existing->etag));
  } else {
    ++state_.document_count;
  }
  if (tombstone) {
    erase_raw(Family::Tombstones, key);
    unindex_etag(tombstone->etag);
    --state_.tombstone_count;
  }
  put_raw(Family::Documents, key, record);
  index_etag(etag, kEtagOfDocument, key);
  put_raw(Family::Collections, collection_key(collection, etag), key);

  PutResult r;
  r.id = std::move(doc.id);
  r.collection = std::move(doc.collection);
  r.change_vector = std::move(doc.change_vector);
  r.last_modified_us = doc.last_modified_us;
  r.flags = doc.flags;
  r.etag = etag;
  return r;
}

Result<DeleteResult> WriteTransaction::remove(std::string_view id,
                                              const std::optional<std::string>& expected_change_vector,
                                              const ExternalVersion* external) {
  auto existing_or = get(id);
  if (!existing_or.ok()) return existing_or.status();
  const std::optional<Document>& existing = existing_or.value();
  if (Status s = check_expected(id, existing, expected_change_vector, "Delete"); !s.ok()) return s;
  if (!existing && !external) {
    // A local delete of a document in conflict resolves it to a deletion.
    auto resolved = ConflictsStorage::resolve(*this, id);
    if (!resolved.ok()) return resolved.status();
    if (resolved->empty()) return DeleteResult{};
    ChangeVector cv = std::move(resolved).value();
    cv.set(storage_.node_tag(), state_.last_etag + 1, storage_.database_id());
    const ExternalVersion version{cv.to_string(), storage_.options().clock->now_micros(), std::nullopt};
    if (Status s = put_tombstone(id, std::string(), version); !s.ok()) return s;
    return DeleteResult{true, version.change_vector};
  }
  if (!existing) return DeleteResult{};
  // Its counters go with it (as tombstones, so the deletion replicates).
  if (existing->flags & kHasCounters) {
    if (Status s = CountersStorage::on_document_deleted(*this, *existing); !s.ok()) return s;
  }
  if (Status s = drop_document_attachments(*this, *existing); !s.ok()) return s;

  auto parsed = ChangeVector::parse(existing->change_vector);
  if (!parsed.ok()) return Status::Corruption("stored change vector of '" + std::string(id) + "'");
  ChangeVector cv = std::move(parsed).value();
  const uint64_t etag = next_etag();
  cv.set(storage_.node_tag(), etag, storage_.database_id());
  if (external) {
    auto theirs = ChangeVector::parse(external->change_vector);
    if (!theirs.ok()) return theirs.status();
    cv = std::move(theirs).value();
  }
  note_change_vector(cv);

  Tombstone t;
  t.id = existing->id;
  t.collection = existing->collection;
  t.etag = etag;
  t.change_vector = cv.to_string();
  t.deleted_at_us = external ? external->last_modified_us : storage_.options().clock->now_micros();

  const std::string key = lower_id(id);
  erase_raw(Family::Documents, key);
  unindex_etag(existing->etag);
  erase_raw(Family::Collections, collection_key(existing->collection, existing->etag));
  put_raw(Family::Tombstones, key, encode_tombstone(t));
  index_etag(etag, kEtagOfTombstone, key);
  --state_.document_count;
  ++state_.tombstone_count;
  if (Status s = RevisionsStorage::on_delete(*this, *existing, t); !s.ok()) return s;
  return DeleteResult{true, t.change_vector};
}

Status WriteTransaction::put_tombstone(std::string_view id, const std::string& collection,
                                       const ExternalVersion& version) {
  auto existing = get(id);
  if (!existing.ok()) return existing.status();
  if (existing.value())
    return Status::InvalidArgument("document '" + std::string(id) + "' exists; a tombstone replaces only a deletion");
  auto cv = ChangeVector::parse(version.change_vector);
  if (!cv.ok()) return cv.status();
  const std::string key = lower_id(id);
  auto previous = read(Family::Tombstones, key);
  if (!previous.ok()) return previous.status();
  if (previous.value()) {
    auto old = decode_tombstone(*previous.value());
    if (!old.ok()) return old.status();
    unindex_etag(old->etag);
  } else {
    ++state_.tombstone_count;
  }
  Tombstone t;
  t.id = std::string(id);
  t.collection = collection;
  t.etag = next_etag();
  t.change_vector = cv->to_string();
  t.deleted_at_us = version.last_modified_us;
  note_change_vector(cv.value());
  put_raw(Family::Tombstones, key, encode_tombstone(t));
  index_etag(t.etag, kEtagOfTombstone, key);
  return Status::Ok();
}

Result<bool> WriteTransaction::purge_tombstone(std::string_view id) {
  const std::string key = lower_id(id);
  auto raw = read(Family::Tombstones, key);
  if (!raw.ok()) return raw.status();
  if (!raw.value()) return false;
  auto t = decode_tombstone(*raw.value());
  if (!t.ok()) return t.status();
  erase_raw(Family::Tombstones, key);
  unindex_etag(t->etag);
  --state_.tombstone_count;
  return true;
}

Status WriteTransaction::erase_current(std::string_view id) {
  const std::string key = lower_id(id);
  auto existing = get(id);
  if (!existing.ok()) return existing.status();
  if (const auto& doc = existing.value()) {
    erase_raw(Family::Documents, key);
    unindex_etag(doc->etag);
    erase_raw(Family::Collections, collection_key(doc->collection, doc->etag));
    --state_.document_count;
    return Status::Ok();
  }
  auto previous = read(Family::Tombstones, key);
  if (!previous.ok()) return previous.status();
  if (!previous.value()) return Status::Ok();
  auto old = decode_tombstone(*previous.value());
  if (!old.ok()) return old.status();
  erase_raw(Family::Tombstones, key);
  unindex_etag(old->etag);
  --state_.tombstone_count;
  return Status::Ok();
}

namespace {

// RavenDB keeps a HiLo tag's high-water mark in a document the clients may
// read and write themselves ("Raven/Hilo/users", {"Max": 96}).
const std::optional<std::string> kNoCheck;  // no expected change vector

std::string hilo_document_id(std::string_view tag) { return "Raven/Hilo/" + std::string(tag); }

// The Max of a HiLo document; 0 when it has none (a client may store one without).
uint64_t hilo_max(const boost::json::object& doc) {
  const auto* max = doc.if_contains("Max");
  if (!max) return 0;
  if (max->is_uint64()) return max->as_uint64();
  if (max->is_int64() && max->as_int64() > 0) return static_cast<uint64_t>(max->as_int64());
  return 0;
}

}  // namespace

Result<HiLoRange> WriteTransaction::next_hilo(std::string_view tag, uint64_t last_size, int64_t last_range_at_us,
                                              uint64_t last_max) {
  constexpr uint64_t kMinRange = 32;
  constexpr uint64_t kMaxRange = 1u << 20;
  constexpr int64_t kGrowWithinUs = 30LL * 1'000'000;
  constexpr int64_t kShrinkAfterUs = 60LL * 1'000'000;
  const int64_t now = storage_.options().clock->now_micros();
  // As RavenDB sizes ranges: a client that comes back within 30 s gets twice
  // as many ids (fewer round trips), one that took over a minute half as many.
  uint64_t size = std::max(kMinRange, last_size);
  if (last_range_at_us > 0) {
    const int64_t since = now - last_range_at_us;
    if (since < kGrowWithinUs) size = std::min(std::max(kMinRange, last_size * 2), kMaxRange);
    else if (since > kShrinkAfterUs) size = std::max(kMinRange, last_size / 2);
  }
  const std::string id = hilo_document_id(tag);
  auto existing = get(id);
  if (!existing.ok()) return existing.status();
  boost::json::object body;
  uint64_t old_max = last_max;
  if (existing.value()) {
    auto parsed = parse_json_object(existing.value()->json);
    if (!parsed.ok()) return Status::Corruption("stored document '" + id + "': " + parsed.status().message());
    body = std::move(parsed).value();
    old_max = std::max(hilo_max(body), last_max);
  } else {
    body["@metadata"] = boost::json::object{{"@collection", "@hilo"}};
  }
  body["Max"] = old_max + size;
  if (auto r = put(id, std::move(body), kNoCheck); !r.ok()) return r.status();
  return HiLoRange{std::string(tag), old_max + 1, old_max + size, size, now};
}

Status WriteTransaction::return_hilo(std::string_view tag, uint64_t end, uint64_t last) {
  const std::string id = hilo_document_id(tag);
  auto existing = get(id);
  if (!existing.ok()) return existing.status();
  if (!existing.value()) return Status::Ok();
  auto body = parse_json_object(existing.value()->json);
  if (!body.ok()) return Status::Corruption("stored document '" + id + "': " + body.status().message());
  // Only the holder of the newest range may give its tail back.
  const uint64_t max = hilo_max(body.value());
  if (max != end || last > max) return Status::Ok();
  body.value()["Max"] = last;
  return put(id, std::move(body).value(), kNoCheck).status();
}

Result<uint64_t> WriteTransaction::next_identity(std::string_view prefix) {
  const std::string key = std::string(meta_keys::kIdentityPrefix) + lower_id(prefix);
  auto stored = read_u64(key);
  if (!stored.ok()) return stored.status();
  const uint64_t next = stored.value() + 1;
  write_u64(key, next);
  return next;
}

Result<uint64_t> WriteTransaction::last_cluster_transaction_index() {
  return read_u64(meta_keys::kLastClusterTransaction);
}

void WriteTransaction::set_last_cluster_transaction_index(uint64_t index) {
  write_u64(meta_keys::kLastClusterTransaction, index);
}

void WriteTransaction::write_state() {
  if (state_.last_etag > 0)
    state_.database_change_vector.set(storage_.node_tag(), state_.last_etag, storage_.database_id());
  put_raw(Family::Meta, meta_keys::kDatabaseChangeVector, state_.database_change_vector.to_string());
  write_u64(meta_keys::kLastEtag, state_.last_etag);
  write_u64(meta_keys::kDocumentCount, state_.document_count);
  write_u64(meta_keys::kTombstoneCount, state_.tombstone_count);
  write_u64(meta_keys::kConflictVersionCount, state_.conflict_versions);
}

}  // namespace corvus::storage
