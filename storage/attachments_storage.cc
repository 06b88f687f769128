#include "storage/attachments_storage.h"

#include <algorithm>
#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "storage/blob_store.h"
#include "storage/change_vector.h"
#include "storage/documents_storage.h"
#include "storage/snapshot_read.h"

namespace corvus::storage {
namespace json = boost::json;
namespace {

std::string attachment_key(std::string_view document_id, std::string_view name) {
  return document_key_prefix(document_id) + lower_id(name);
}

std::string encode_attachment(const AttachmentInfo& a) {
  json::object o;
  o["DocumentId"] = a.document_id;
  o["Name"] = a.name;
  o["ContentType"] = a.content_type;
  o["Hash"] = a.hash;
  o["Size"] = a.size;
  o["ChangeVector"] = a.change_vector;
  o["Etag"] = a.etag;
  return json::serialize(o);
}

Result<AttachmentInfo> decode_attachment(std::string_view bytes);

}  // namespace

Result<AttachmentInfo> decode_attachment_record(std::string_view bytes) { return decode_attachment(bytes); }

namespace {

Result<AttachmentInfo> decode_attachment(std::string_view bytes) {
  boost::system::error_code ec;
  json::value v = json::parse(bytes, ec);
  if (ec || !v.is_object()) return Status::Corruption("stored attachment record is not a JSON object");
  const auto& o = v.as_object();
  AttachmentInfo a;
  const auto* id = o.if_contains("DocumentId");
  const auto* name = o.if_contains("Name");
  const auto* ct = o.if_contains("ContentType");
  const auto* hash = o.if_contains("Hash");
  const auto* size = o.if_contains("Size");
  const auto* cv = o.if_contains("ChangeVector");
  const auto* etag = o.if_contains("Etag");
  if (!id || !id->is_string() || !name || !name->is_string() || !ct || !ct->is_string() || !hash ||
      !hash->is_string() || !size || !size->is_number() || !cv || !cv->is_string() || !etag || !etag->is_number()) {
    return Status::Corruption("stored attachment record is missing fields");
  }
  a.document_id = std::string(id->as_string());
  a.name = std::string(name->as_string());
  a.content_type = std::string(ct->as_string());
  a.hash = std::string(hash->as_string());
  a.size = size->to_number<uint64_t>();
  a.change_vector = std::string(cv->as_string());
  a.etag = etag->to_number<uint64_t>();
  return a;
}

Result<std::optional<AttachmentInfo>> read_in_txn(WriteTransaction& txn, const std::string& key) {
  auto raw = txn.read(Family::Attachments, key);
  if (!raw.ok()) return raw.status();
  if (!raw.value()) return std::optional<AttachmentInfo>();
  auto a = decode_attachment(*raw.value());
  if (!a.ok()) return a.status();
  return std::optional<AttachmentInfo>(std::move(a).value());
}

// Reference counting of the bytes. Dropping the last reference asks the
// BlobStore to collect the blob once this transaction is durable
// (WriteTransaction::after_commit); the store checks the committed count again,
// so a later transaction that took a new reference meanwhile keeps it.
Status add_reference(WriteTransaction& txn, const std::string& hash) {
  auto raw = txn.read(Family::AttachmentHashes, hash);
  if (!raw.ok()) return raw.status();
  uint64_t count = raw.value() ? decode_big_endian(*raw.value()) : 0;
  txn.put_raw(Family::AttachmentHashes, hash, encode_big_endian(count + 1));
  return count == 0 ? txn.adjust_count(meta_keys::kUniqueAttachmentCount, 1) : Status::Ok();
}

Status drop_reference(WriteTransaction& txn, const std::string& hash) {
  auto raw = txn.read(Family::AttachmentHashes, hash);
  if (!raw.ok()) return raw.status();
  uint64_t count = raw.value() ? decode_big_endian(*raw.value()) : 0;
  if (count > 1) {
    txn.put_raw(Family::AttachmentHashes, hash, encode_big_endian(count - 1));
    return Status::Ok();
  }
  txn.erase_raw(Family::AttachmentHashes, hash);
  if (Status s = txn.adjust_count(meta_keys::kUniqueAttachmentCount, -1); !s.ok()) return s;
  // A failed write runs nothing: the next open collects the blob then.
  txn.after_commit([blobs = txn.storage().blob_store(), hash] { blobs->collect(hash); });
  return Status::Ok();
}

std::string new_change_vector(WriteTransaction& txn, uint64_t etag) {
  ChangeVector cv;
  cv.set(txn.storage().node_tag(), etag, txn.storage().database_id());
  return cv.to_string();
}

Status check_expected(std::string_view document_id, std::string_view name, const std::optional<AttachmentInfo>& existing,
                      const std::optional<std::string>& expected) {
  if (!expected) return Status::Ok();
  const std::string actual = existing ? existing->change_vector : std::string();
  if (expected->empty() ? !existing : (existing && actual == *expected)) return Status::Ok();
  return Status::ConcurrencyConflict("Attachment '" + std::string(name) + "' of document '" + std::string(document_id) +
                                     "' has change vector '" + actual + "', but the expected change vector was '" +
                                     *expected + "'");
}

// The document's @attachments without `lowered_name`, plus `added` when given;
// sorted by lowered name. Sets or clears HasAttachments.
Status edit_metadata(json::object& metadata, uint32_t& flags, const std::string& lowered_name,
                     const AttachmentInfo* added) {
  json::array list;
  if (auto* existing = metadata.if_contains("@attachments"); existing && existing->is_array()) {
    for (auto& e : existing->as_array()) {
      if (!e.is_object()) continue;
      const auto* n = e.as_object().if_contains("Name");
      if (n && n->is_string() && lower_id(n->as_string()) == lowered_name) continue;
      list.push_back(std::move(e));
    }
  }
  if (added) {
    list.push_back(json::object{{"Name", added->name},
                                {"Hash", added->hash},
                                {"ContentType", added->content_type},
                                {"Size", added->size}});
  }
  auto name_of = [](const json::value& v) {
    const auto* n = v.as_object().if_contains("Name");
    return n && n->is_string() ? lower_id(n->as_string()) : std::string();
  };
  std::stable_sort(list.begin(), list.end(), [&](const json::value& a, const json::value& b) {
    return name_of(a) < name_of(b);
  });
  if (list.empty()) {
    metadata.erase("@attachments");
    flags &= ~kHasAttachments;
  } else {
    metadata["@attachments"] = std::move(list);
    flags |= kHasAttachments;
  }
  return Status::Ok();
}

// Writes the record of `a` (new etag and change vector) and the document's new version.
Result<AttachmentWriteResult> write_attachment(WriteTransaction& txn, AttachmentInfo a,
                                               const std::optional<AttachmentInfo>& replaced) {
  const std::string key = attachment_key(a.document_id, a.name);
  if (replaced) txn.unindex_etag(replaced->etag);
  a.etag = txn.next_etag();
  a.change_vector = new_change_vector(txn, a.etag);
  txn.put_raw(Family::Attachments, key, encode_attachment(a));
  txn.index_etag(a.etag, kEtagOfAttachment, key);
  const std::string lowered = lower_id(a.name);
  auto doc = txn.update_document_metadata(a.document_id, [&](json::object& metadata, uint32_t& flags) {
    return edit_metadata(metadata, flags, lowered, &a);
  });
  if (!doc.ok()) return doc.status();
  a.document_id = doc->id;  // the document's casing
  return AttachmentWriteResult{std::move(a), doc->change_vector};
}

Status drop_alternate_attachments(WriteTransaction& txn, std::string_view document_id, std::string_view name);

}  // namespace

Status validate_attachment_name(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("Attachment name must not be empty");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("Attachment name must not contain control characters");
  }
  return Status::Ok();
}

Result<std::optional<AttachmentInfo>> read_attachment(const DocumentsStorage& storage, std::string_view document_id,
                                                      std::string_view name) {
  const Engine& e = storage.engine();
  std::string value;
  rocksdb::Status s = e.db()->Get(rocksdb::ReadOptions(), e.cf(Family::Attachments), attachment_key(document_id, name),
                                  &value);
  if (s.IsNotFound()) return std::optional<AttachmentInfo>();
  if (!s.ok()) return from_rocksdb(s, "read attachment");
  auto a = decode_attachment(value);
  if (!a.ok()) return a.status();
  return std::optional<AttachmentInfo>(std::move(a).value());
}

Result<bool> attachment_hash_referenced(const Engine& engine, const std::string& hash) {
  std::string value;
  rocksdb::Status s = engine.db()->Get(rocksdb::ReadOptions(), engine.cf(Family::AttachmentHashes), hash, &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return from_rocksdb(s, "read attachment hash");
  return decode_big_endian(value) > 0;
}

Result<AttachmentWriteResult> put_attachment(WriteTransaction& txn, std::string_view document_id,
                                             std::string_view name, std::string_view content_type,
                                             const std::string& hash, uint64_t size,
                                             const std::optional<std::string>& expected_change_vector) {
  if (Status s = validate_attachment_name(name); !s.ok()) return s;
  auto doc = txn.get(document_id);
  if (!doc.ok()) return doc.status();
  if (!doc.value()) return Status::NotFound("Document '" + std::string(document_id) + "' does not exist");
  auto existing = read_in_txn(txn, attachment_key(document_id, name));
  if (!existing.ok()) return existing.status();
  if (Status s = check_expected(document_id, name, existing.value(), expected_change_vector); !s.ok()) return s;
  if (Status s = drop_alternate_attachments(txn, document_id, name); !s.ok()) return s;
  // Count the new reference before dropping the old: replacing a blob by itself keeps it.
  if (Status s = add_reference(txn, hash); !s.ok()) return s;
  if (existing.value()) {
    if (Status s = drop_reference(txn, existing.value()->hash); !s.ok()) return s;
  } else if (Status s = txn.adjust_count(meta_keys::kAttachmentCount, 1); !s.ok()) {
    return s;
  }
  AttachmentInfo a;
  a.document_id = doc.value()->id;
  a.name = std::string(name);
  a.content_type = std::string(content_type);
  a.hash = hash;
  a.size = size;
  return write_attachment(txn, std::move(a), existing.value());
}

Result<std::optional<std::string>> delete_attachment(WriteTransaction& txn, std::string_view document_id,
                                                     std::string_view name,
                                                     const std::optional<std::string>& expected_change_vector) {
  const std::string key = attachment_key(document_id, name);
  auto existing = read_in_txn(txn, key);
  if (!existing.ok()) return existing.status();
  if (Status s = check_expected(document_id, name, existing.value(), expected_change_vector); !s.ok()) return s;
  if (!existing.value()) return std::optional<std::string>();
  if (Status s = drop_alternate_attachments(txn, document_id, name); !s.ok()) return s;
  txn.erase_raw(Family::Attachments, key);
  txn.unindex_etag(existing.value()->etag);
  if (Status s = drop_reference(txn, existing.value()->hash); !s.ok()) return s;
  if (Status s = txn.adjust_count(meta_keys::kAttachmentCount, -1); !s.ok()) return s;
  const std::string lowered = lower_id(name);
  auto doc = txn.update_document_metadata(document_id, [&](json::object& metadata, uint32_t& flags) {
    return edit_metadata(metadata, flags, lowered, nullptr);
  });
  if (!doc.ok()) return doc.status();
  return std::optional<std::string>(doc->change_vector);
}

Result<AttachmentWriteResult> copy_attachment(WriteTransaction& txn, std::string_view source_id,
                                              std::string_view source_name, std::string_view destination_id,
                                              std::string_view destination_name,
                                              const std::optional<std::string>& expected_change_vector) {
  if (Status s = validate_attachment_name(destination_name); !s.ok()) return s;
  auto source = read_in_txn(txn, attachment_key(source_id, source_name));
  if (!source.ok()) return source.status();
  if (!source.value()) {
    return Status::NotFound("Attachment '" + std::string(source_name) + "' of document '" + std::string(source_id) +
                            "' does not exist");
  }
  if (Status s = check_expected(source_id, source_name, source.value(), expected_change_vector); !s.ok()) return s;
  return put_attachment(txn, destination_id, destination_name, source.value()->content_type, source.value()->hash,
                        source.value()->size, std::nullopt);
}

// --- replication ---

namespace {

// The current version of a document as replication sees it: its change
// vector and the attachments it lists (lowered name -> hash); a deletion
// lists none.
struct CurrentVersion {
  ChangeVector change_vector;
  std::map<std::string, std::string> listed;
  // The version won a conflict (flag Resolved): its change vector covers the
  // losing version's attachments although it never listed them, and a later
  // resolution elsewhere may pick the losing side again.
  bool resolved = false;
};

// nullopt when the document has neither a version nor a tombstone here (not
// arrived yet, or in conflict).
Result<std::optional<CurrentVersion>> current_version(WriteTransaction& txn, std::string_view document_id) {
  auto doc = txn.get(document_id);
  if (!doc.ok()) return doc.status();
  CurrentVersion current;
  std::string cv_text;
  if (const auto& d = doc.value()) {
    cv_text = d->change_vector;
    current.resolved = (d->flags & kResolved) != 0;
    if (d->flags & kHasAttachments) {
      boost::system::error_code ec;
      json::value v = json::parse(d->json, ec);
      if (ec || !v.is_object()) return Status::Corruption("stored document '" + d->id + "' is not a JSON object");
      const auto* md = v.as_object().if_contains("@metadata");
      const auto* list = md && md->is_object() ? md->as_object().if_contains("@attachments") : nullptr;
      if (list && list->is_array()) {
        for (const auto& e : list->as_array()) {
          const auto* n = e.is_object() ? e.as_object().if_contains("Name") : nullptr;
          const auto* h = e.is_object() ? e.as_object().if_contains("Hash") : nullptr;
          if (n && n->is_string() && h && h->is_string())
            current.listed.emplace(lower_id(n->as_string()), std::string(h->as_string()));
        }
      }
    }
  } else {
    auto raw = txn.read(Family::Tombstones, lower_id(document_id));
    if (!raw.ok()) return raw.status();
    if (!raw.value()) return std::optional<CurrentVersion>();
    auto t = decode_tombstone(*raw.value());
    if (!t.ok()) return t.status();
    cv_text = t->change_vector;
  }
  auto cv = ChangeVector::parse(cv_text);
  if (!cv.ok()) return Status::Corruption("stored change vector of '" + std::string(document_id) + "'");
  current.change_vector = std::move(cv).value();
  return std::optional<CurrentVersion>(std::move(current));
}

Result<ChangeVector> record_change_vector(const AttachmentInfo& a) {
  auto cv = ChangeVector::parse(a.change_vector);
  if (!cv.ok()) return Status::Corruption("stored change vector of attachment '" + a.name + "'");
  return std::move(cv).value();
}

// The version has seen the attachment's change (its change vector covers it).
bool covers(const CurrentVersion& current, const ChangeVector& attachment_cv) {
  const ChangeVectorOrder order = current.change_vector.compare(attachment_cv);
  return order == ChangeVectorOrder::Newer || order == ChangeVectorOrder::Equal;
}

// The version has seen the attachment's change and does not list that
// attachment (same name and bytes): it moved past it.
bool moved_past(const CurrentVersion& current, const ChangeVector& attachment_cv, const AttachmentInfo& a) {
  if (!covers(current, attachment_cv)) return false;
  auto it = current.listed.find(lower_id(a.name));
  return it == current.listed.end() || it->second != a.hash;
}

// A concurrent record of a name that lost to the one in place is kept as an
// "alternate" (key: the attachment key, a 0 byte, the hash; no etag entry, so
// never shipped and not counted as an attachment) with its reference: the
// document's own conflict resolution may still pick the version that lists
// it, and then it takes the record's place.
std::string alternate_key(const std::string& key, const std::string& hash) { return key + '\0' + hash; }

// A document's records: the attachments (by lowered name) and the alternates.
struct Records {
  struct Entry {
    std::string key;
    AttachmentInfo info;
  };
  std::map<std::string, Entry> primaries;            // lowered name ->
  std::multimap<std::string, Entry> alternates;      // lowered name ->
};

Result<Records> records_of(WriteTransaction& txn, std::string_view document_id) {
  const std::string prefix = document_key_prefix(document_id);
  const std::string lowered_id = lower_id(document_id);
  Records out;
  auto it = txn.new_iterator(Family::Attachments);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto a = decode_attachment(std::string_view(it->value().data(), it->value().size()));
    if (!a.ok()) return a.status();
    // An id with a 0 byte ("a\0b") has keys under the prefix of "a": not ours.
    if (lower_id(a->document_id) != lowered_id) continue;
    std::string key = it->key().ToString();
    const std::string lowered_name = lower_id(a->name);
    if (key.size() == prefix.size() + lowered_name.size()) {
      out.primaries.emplace(lowered_name, Records::Entry{std::move(key), std::move(a).value()});
    } else {
      out.alternates.emplace(lowered_name, Records::Entry{std::move(key), std::move(a).value()});
    }
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "read attachments in write transaction");
  return out;
}

Status drop_record(WriteTransaction& txn, const std::string& key, const AttachmentInfo& a) {
  txn.erase_raw(Family::Attachments, key);
  txn.unindex_etag(a.etag);
  if (Status s = drop_reference(txn, a.hash); !s.ok()) return s;
  return txn.adjust_count(meta_keys::kAttachmentCount, -1);
}

Status drop_alternate(WriteTransaction& txn, const std::string& key, const AttachmentInfo& a) {
  txn.erase_raw(Family::Attachments, key);
  return drop_reference(txn, a.hash);
}

// Keeps `a` as an alternate of the attachment under `key`; its reference must
// already be counted. One alternate per hash: a second one of the same bytes
// gives its reference back.
Status keep_alternate(WriteTransaction& txn, const std::string& key, AttachmentInfo a) {
  const std::string alt = alternate_key(key, a.hash);
  auto existing = read_in_txn(txn, alt);
  if (!existing.ok()) return existing.status();
  if (existing.value()) return drop_reference(txn, a.hash);
  a.etag = 0;
  txn.put_raw(Family::Attachments, alt, encode_attachment(a));
  return Status::Ok();
}

// Makes `a` (whose reference is counted) the attachment under `key`, in place
// of `replaced` (nullopt: none), under a new etag.
Status install_primary(WriteTransaction& txn, const std::string& key, AttachmentInfo a,
                       const std::optional<AttachmentInfo>& replaced) {
  if (replaced) txn.unindex_etag(replaced->etag);
  else if (Status s = txn.adjust_count(meta_keys::kAttachmentCount, 1); !s.ok()) return s;
  a.etag = txn.next_etag();
  txn.put_raw(Family::Attachments, key, encode_attachment(a));
  txn.index_etag(a.etag, kEtagOfAttachment, key);
  return Status::Ok();
}

// Drops the alternates of attachment `name` of the document (every alternate
// when `name` is empty): a local write of the attachment supersedes them.
Status drop_alternate_attachments(WriteTransaction& txn, std::string_view document_id, std::string_view name) {
  auto records = records_of(txn, document_id);
  if (!records.ok()) return records.status();
  const std::string lowered = lower_id(name);
  for (const auto& [n, e] : records->alternates) {
    if (!name.empty() && n != lowered) continue;
    if (Status s = drop_alternate(txn, e.key, e.info); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Status drop_document_attachments(WriteTransaction& txn, const Document& document) {
  // Every record under the document's key, not only what @attachments lists:
  // replication may have left records its versions do not list yet.
  auto records = records_of(txn, document.id);
  if (!records.ok()) return records.status();
  for (const auto& [name, e] : records->primaries) {
    if (Status s = drop_record(txn, e.key, e.info); !s.ok()) return s;
  }
  for (const auto& [name, e] : records->alternates) {
    if (Status s = drop_alternate(txn, e.key, e.info); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<ReplicatedAttachment> put_replicated_attachment(WriteTransaction& txn, AttachmentInfo incoming) {
  if (incoming.document_id.empty()) return Status::InvalidArgument("a replicated attachment needs a document id");
  if (Status s = validate_attachment_name(incoming.name); !s.ok()) return s;
  if (incoming.hash.empty()) return Status::InvalidArgument("a replicated attachment needs a hash");
  auto cv = ChangeVector::parse(incoming.change_vector);
  if (!cv.ok()) return Status::InvalidArgument("replicated attachment: " + cv.status().message());
  if (cv->empty()) return Status::InvalidArgument("a replicated attachment needs a change vector");
  if (auto blob = txn.storage().blob_store()->open_blob(incoming.hash); !blob.ok()) {
    if (!blob.status().is_not_found()) return blob.status();
    return Status::InvalidArgument("the bytes of attachment '" + incoming.name + "' of document '" +
                                   incoming.document_id + "' (hash " + incoming.hash + ") are not stored here");
  }
  incoming.change_vector = cv->to_string();
  txn.note_change_vector(cv.value());  // seen, whatever happens to it

  const std::string key = attachment_key(incoming.document_id, incoming.name);
  auto current = current_version(txn, incoming.document_id);
  if (!current.ok()) return current.status();
  if (current.value() && moved_past(*current.value(), cv.value(), incoming)) {
    if (!current.value()->resolved) return ReplicatedAttachment::Ignored;
    // Not listed by a resolution: the losing side may come back (see CurrentVersion).
    if (Status s = add_reference(txn, incoming.hash); !s.ok()) return s;
    if (Status s = keep_alternate(txn, key, std::move(incoming)); !s.ok()) return s;
    return ReplicatedAttachment::Kept;
  }

  auto existing = read_in_txn(txn, key);
  if (!existing.ok()) return existing.status();
  const std::optional<AttachmentInfo>& ours = existing.value();
  if (!ours) {
    if (Status s = add_reference(txn, incoming.hash); !s.ok()) return s;
    if (Status s = install_primary(txn, key, std::move(incoming), ours); !s.ok()) return s;
    return ReplicatedAttachment::Stored;
  }
  auto ours_cv = record_change_vector(*ours);
  if (!ours_cv.ok()) return ours_cv.status();
  const ChangeVectorOrder order = cv->compare(ours_cv.value());
  // The document here is the arbiter when it lists one of the two: under
  // ResolveToLatest a version listing an older record can win over one listing
  // a newer record. Otherwise the change vectors decide, and between
  // concurrent ones the larger text, as on every member.
  const std::string* listed = nullptr;
  if (const auto& doc = current.value()) {
    if (auto it = doc->listed.find(lower_id(incoming.name)); it != doc->listed.end()) listed = &it->second;
  }
  const bool incoming_listed = listed && *listed == incoming.hash;
  const bool ours_listed = listed && *listed == ours->hash;
  bool incoming_wins = order == ChangeVectorOrder::Newer ||
                       (order == ChangeVectorOrder::Concurrent && incoming.change_vector > ours->change_vector);
  if (incoming_listed != ours_listed) incoming_wins = incoming_listed;
  if (!incoming_wins) {
    if (order == ChangeVectorOrder::Older || order == ChangeVectorOrder::Equal) return ReplicatedAttachment::Ignored;
    // Newer or concurrent but not chosen: it waits as an alternate.
    if (Status s = add_reference(txn, incoming.hash); !s.ok()) return s;
    if (Status s = keep_alternate(txn, key, std::move(incoming)); !s.ok()) return s;
    return ReplicatedAttachment::Kept;
  }
  // The new reference first: a record replaced by one with the same bytes keeps its blob.
  if (Status s = add_reference(txn, incoming.hash); !s.ok()) return s;
  // Ours goes only when it is simply superseded (a newer record it is not
  // listed against); otherwise a version may still pick it: it waits.
  if (order == ChangeVectorOrder::Newer && !ours_listed) {
    if (Status s = drop_reference(txn, ours->hash); !s.ok()) return s;
  } else if (Status s = keep_alternate(txn, key, *ours); !s.ok()) {
    return s;
  }
  if (Status s = install_primary(txn, key, std::move(incoming), ours); !s.ok()) return s;
  return order == ChangeVectorOrder::Newer ? ReplicatedAttachment::Stored : ReplicatedAttachment::Replaced;
}

Status drop_unlisted_attachments(WriteTransaction& txn, std::string_view document_id) {
  // Most documents have no records: one seek, and the document is not read.
  auto records = records_of(txn, document_id);
  if (!records.ok()) return records.status();
  if (records->primaries.empty() && records->alternates.empty()) return Status::Ok();
  auto current_or = current_version(txn, document_id);
  if (!current_or.ok()) return current_or.status();
  if (!current_or.value()) return Status::Ok();
  const CurrentVersion& current = *current_or.value();

  // A listed attachment whose record waits as an alternate takes its place;
  // the record in place goes if the version has seen it, else waits in turn.
  for (const auto& [name, hash] : current.listed) {
    auto primary = records->primaries.find(name);
    if (primary != records->primaries.end() && primary->second.info.hash == hash) continue;
    auto [first, last] = records->alternates.equal_range(name);
    auto alt = std::find_if(first, last, [&](const auto& e) { return e.second.info.hash == hash; });
    if (alt == last) continue;
    Records::Entry promoted = alt->second;
    records->alternates.erase(alt);
    txn.erase_raw(Family::Attachments, promoted.key);
    std::optional<AttachmentInfo> replaced;
    std::string key = attachment_key(document_id, promoted.info.name);
    if (primary != records->primaries.end()) {
      replaced = primary->second.info;
      auto cv = record_change_vector(*replaced);
      if (!cv.ok()) return cv.status();
      if (covers(current, cv.value()) && !current.resolved) {
        if (Status s = drop_reference(txn, replaced->hash); !s.ok()) return s;
      } else if (Status s = keep_alternate(txn, key, *replaced); !s.ok()) {
        return s;
      }
      key = primary->second.key;
      records->primaries.erase(primary);
    }
    if (Status s = install_primary(txn, key, promoted.info, replaced); !s.ok()) return s;
  }
  // What the version has seen and does not list goes; after a resolution it
  // waits as an alternate instead (the losing side may come back).
  for (const auto& [name, e] : records->primaries) {
    auto cv = record_change_vector(e.info);
    if (!cv.ok()) return cv.status();
    if (!moved_past(current, cv.value(), e.info)) continue;
    if (!current.resolved) {
      if (Status s = drop_record(txn, e.key, e.info); !s.ok()) return s;
      continue;
    }
    txn.erase_raw(Family::Attachments, e.key);
    txn.unindex_etag(e.info.etag);
    if (Status s = txn.adjust_count(meta_keys::kAttachmentCount, -1); !s.ok()) return s;
    if (Status s = keep_alternate(txn, e.key, e.info); !s.ok()) return s;  // keeps its reference
  }
  if (current.resolved) return Status::Ok();
  for (const auto& [name, e] : records->alternates) {
    auto cv = record_change_vector(e.info);
    if (!cv.ok()) return cv.status();
    if (moved_past(current, cv.value(), e.info)) {
      if (Status s = drop_alternate(txn, e.key, e.info); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status reship_resolved_attachments(WriteTransaction& txn, std::string_view document_id) {
  auto records = records_of(txn, document_id);
  if (!records.ok()) return records.status();
  if (records->primaries.empty()) return Status::Ok();
  auto current = current_version(txn, document_id);
  if (!current.ok()) return current.status();
  if (!current.value() || !current.value()->resolved) return Status::Ok();
  for (const auto& [name, e] : records->primaries) {
    auto listed = current.value()->listed.find(name);
    if (listed == current.value()->listed.end() || listed->second != e.info.hash) continue;
    AttachmentInfo a = e.info;
    txn.unindex_etag(a.etag);
    a.etag = txn.next_etag();
    txn.put_raw(Family::Attachments, e.key, encode_attachment(a));
    txn.index_etag(a.etag, kEtagOfAttachment, e.key);
  }
  return Status::Ok();
}

}  // namespace corvus::storage
