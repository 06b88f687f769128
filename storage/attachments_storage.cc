#include "storage/attachments_storage.h"

#include <algorithm>
#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "storage/attachment_records.h"
#include "storage/blob_store.h"
#include "storage/change_vector.h"
#include "storage/documents_storage.h"
#include "storage/snapshot_read.h"

namespace corvus::storage {
namespace json = boost::json;

namespace attachment_records {

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

// Alternates: see attachment_records.h.
std::string alternate_key(const std::string& key, const std::string& hash) { return key + '\0' + hash; }

Result<Records> records_of(WriteTransaction& txn, std::string_view document_id) {
  // Every record (primary or alternate) holds a reference to its bytes: with
  // no bytes referenced there is no record anywhere, and no iterator is
  // needed (replication asks for every document it applies).
  auto referenced = txn.read_u64(meta_keys::kUniqueAttachmentCount);
  if (!referenced.ok()) return referenced.status();
  if (referenced.value() == 0) return Records();
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

}  // namespace attachment_records

using namespace attachment_records;

Result<AttachmentInfo> decode_attachment_record(std::string_view bytes) { return decode_attachment(bytes); }

namespace {

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
  if (expected->empty()) {
    return Status::ConcurrencyConflict("Attachment '" + std::string(name) + "' of document '" +
                                       std::string(document_id) + "' already exists (change vector '" + actual +
                                       "'), but the write expected it not to (a copy, move or rename never "
                                       "overwrites; delete it first)");
  }
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
  // The destination must be new (RavenDB: a copy, move or rename onto an
  // existing attachment is a concurrency violation, not an overwrite).
  return put_attachment(txn, destination_id, destination_name, source.value()->content_type, source.value()->hash,
                        source.value()->size, std::string());
}

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

}  // namespace corvus::storage
