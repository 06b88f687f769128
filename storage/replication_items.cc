// The read side of replication items (the etag order walked into items, one
// snapshot per call) and the positions replication keeps in `meta`. The
// application of items is in replication_items_apply.cc.
#include "storage/replication_items.h"

#include <algorithm>
#include <memory>

#include <rocksdb/db.h>

#include "storage/attachments_storage.h"
#include "storage/counter_value.h"
#include "storage/documents_storage.h"
#include "storage/replication_payloads.h"
#include "storage/snapshot_read.h"
#include "storage/write_transaction.h"

namespace corvus::storage {
namespace {

// Meta keys of the positions: the prefix, then the source database id or the
// peer's node tag; the value is a big-endian u64 etag.
constexpr std::string_view kIncomingPositionPrefix = "replication-incoming/";
constexpr std::string_view kAcknowledgedPositionPrefix = "replication-acked/";

// The record an etag entry names, read in the same snapshot; a missing record
// is corruption (the index and the families are written in one batch).
Result<std::string> read_record(const Engine& engine, const rocksdb::ReadOptions& opts, Family family,
                                const std::string& key) {
  std::string value;
  rocksdb::Status s = engine.db()->Get(opts, engine.cf(family), key, &value);
  if (s.IsNotFound()) return Status::Corruption("etag index names a missing entry");
  if (!s.ok()) return from_rocksdb(s, "read a replication item");
  return value;
}

// The item for one etag entry (`kind`, `key`).
Result<ReplicationItem> item_for(const Engine& engine, const rocksdb::ReadOptions& opts, char kind,
                                                const std::string& key, uint64_t etag) {
  ReplicationItem item;
  item.kind = kind;
  item.etag = etag;
  switch (kind) {
    case kEtagOfDocument: {
      auto raw = read_record(engine, opts, Family::Documents, key);
      if (!raw.ok()) return raw.status();
      auto doc = decode_document(raw.value());
      if (!doc.ok()) return doc.status();
      item.change_vector = std::move(doc->change_vector);
      item.payload = std::move(raw).value();  // encode_document: exactly the stored record
      break;
    }
    case kEtagOfTombstone: {
      auto raw = read_record(engine, opts, Family::Tombstones, key);
      if (!raw.ok()) return raw.status();
      auto t = decode_tombstone(raw.value());
      if (!t.ok()) return t.status();
      item.change_vector = std::move(t->change_vector);
      item.payload = std::move(raw).value();
      break;
    }
    case kEtagOfCounter: {
      // Key: lowered document id \0 lowered name (names have no control
      // characters, so the last 0 byte ends the id).
      const size_t split = key.rfind('\0');
      if (split == std::string::npos) return Status::Corruption("malformed counter key");
      auto raw = read_record(engine, opts, Family::Counters, key);
      if (!raw.ok()) return raw.status();
      if (raw->size() < 8) return Status::Corruption("counter: truncated etag");
      const std::string_view value = std::string_view(raw.value()).substr(8);  // after the local etag
      if (auto decoded = CounterValue::decode(value); !decoded.ok()) return decoded.status();
      item.payload = encode_counter_payload(std::string_view(key).substr(0, split), value);
      break;  // no change vector: a counter's entries merge by themselves
    }
    case kEtagOfConflict: {
      // A version held in conflict travels as the document or deletion it
      // is: the other members must meet it too, or a member that kept the
      // conflict would differ from one that never saw this version. A member
      // holding the same conflict ignores it (its change vector is there).
      auto raw = read_record(engine, opts, Family::Conflicts, key);
      if (!raw.ok()) return raw.status();
      auto version = decode_document(raw.value());
      if (!version.ok()) return version.status();
      item.change_vector = version->change_vector;
      if (version->flags & kDeleteRevision) {
        item.kind = kEtagOfTombstone;
        item.payload = encode_tombstone(Tombstone{version->id, version->collection, etag, version->change_vector,
                                                  version->last_modified_us});
      } else {
        item.kind = kEtagOfDocument;
        version->flags &= ~(kConflicted | kRevision);
        item.payload = encode_document(version.value());
      }
      break;
    }
    case kEtagOfAttachment: {
      auto raw = read_record(engine, opts, Family::Attachments, key);
      if (!raw.ok()) return raw.status();
      auto a = decode_attachment_record(raw.value());
      if (!a.ok()) return a.status();
      item.change_vector = a->change_vector;
      item.attachment_hash = a->hash;
      item.payload = encode_attachment_payload(a.value());
      break;
    }
    case kEtagOfRevision: {
      auto raw = read_record(engine, opts, Family::Revisions, key);
      if (!raw.ok()) return raw.status();
      auto rev = decode_document(raw.value());
      if (!rev.ok()) return rev.status();
      item.change_vector = std::move(rev->change_vector);
      item.payload = std::move(raw).value();  // the stored revision, an encode_document record
      break;
    }
    default:
      return Status::Corruption("etag index entry of unknown kind '" + std::string(1, kind) + "'");
  }
  return item;
}

Result<uint64_t> read_meta_u64(const DocumentsStorage& storage, const std::string& key) {
  const Engine& engine = storage.engine();
  std::string value;
  rocksdb::Status s = engine.db()->Get(rocksdb::ReadOptions(), engine.cf(Family::Meta), key, &value);
  if (s.IsNotFound()) return uint64_t{0};
  if (!s.ok()) return from_rocksdb(s, "read " + key);
  if (value.size() != 8) return Status::Corruption("malformed " + key);
  return decode_big_endian(value);
}

}  // namespace

Result<ReplicationItems> read_replication_items(const DocumentsStorage& storage, uint64_t after_etag,
                                                size_t max_items, size_t max_bytes) {
  const Engine& engine = storage.engine();
  SnapshotRead snap(engine.db());
  ReplicationItems out;
  out.scanned_to = after_etag;
  max_items = std::max<size_t>(max_items, 1);
  size_t bytes = 0;
  std::unique_ptr<rocksdb::Iterator> it(engine.db()->NewIterator(snap.opts, engine.cf(Family::Etags)));
  for (it->Seek(encode_big_endian(after_etag + 1)); it->Valid() && out.items.size() < max_items; it->Next()) {
    const rocksdb::Slice k = it->key();
    const rocksdb::Slice v = it->value();
    if (k.size() != 8) return Status::Corruption("malformed etag index key");
    if (v.empty()) return Status::Corruption("empty etag index entry");
    const uint64_t etag = decode_big_endian(std::string_view(k.data(), k.size()));
    auto item = item_for(engine, snap.opts, v[0], std::string(v.data() + 1, v.size() - 1), etag);
    if (!item.ok()) return item.status();
    // The first item always goes, however large; after it, an item that
    // would pass max_bytes waits for the next call (scanned_to stays before it).
    const size_t size = item->payload.size();
    if (!out.items.empty() && bytes + size > max_bytes) {
      out.more = true;
      break;
    }
    bytes += size;
    out.items.push_back(std::move(item).value());
    out.scanned_to = etag;
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "read replication items");
  if (out.items.size() >= max_items && it->Valid()) out.more = true;
  return out;
}

Result<std::string> replication_item_document_id(const ReplicationItem& item) {
  switch (item.kind) {
    case kEtagOfDocument:
    case kEtagOfRevision:
    case kEtagOfConflict: {
      auto d = decode_document(item.payload);
      if (!d.ok()) return d.status();
      return std::move(d->id);
    }
    case kEtagOfTombstone: {
      auto t = decode_tombstone(item.payload);
      if (!t.ok()) return t.status();
      return std::move(t->id);
    }
    case kEtagOfCounter: {
      auto c = decode_counter_payload(item.payload);
      if (!c.ok()) return c.status();
      return std::move(c->document_id);
    }
    case kEtagOfAttachment: {
      auto a = decode_attachment_payload(item.payload);
      if (!a.ok()) return a.status();
      return std::move(a->document_id);
    }
    default:
      return Status::InvalidArgument(std::string("unknown replication item kind '") + item.kind + "'");
  }
}

Result<uint64_t> incoming_position(const DocumentsStorage& storage, const std::string& source_database_id) {
  return read_meta_u64(storage, std::string(kIncomingPositionPrefix) + source_database_id);
}

void set_incoming_position(WriteTransaction& txn, const std::string& source_database_id, uint64_t etag) {
  txn.put_raw(Family::Meta, std::string(kIncomingPositionPrefix) + source_database_id, encode_big_endian(etag));
}

Result<std::map<std::string, uint64_t>> acknowledged_positions(const DocumentsStorage& storage) {
  const Engine& engine = storage.engine();
  SnapshotRead snap(engine.db());
  std::map<std::string, uint64_t> out;
  const std::string prefix(kAcknowledgedPositionPrefix);
  std::unique_ptr<rocksdb::Iterator> it(engine.db()->NewIterator(snap.opts, engine.cf(Family::Meta)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const rocksdb::Slice v = it->value();
    if (v.size() != 8) return Status::Corruption("malformed acknowledged replication position");
    out.emplace(std::string(it->key().data() + prefix.size(), it->key().size() - prefix.size()),
                decode_big_endian(std::string_view(v.data(), v.size())));
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "read acknowledged replication positions");
  return out;
}

void set_acknowledged_position(WriteTransaction& txn, const std::string& peer_tag, uint64_t etag) {
  txn.put_raw(Family::Meta, std::string(kAcknowledgedPositionPrefix) + peer_tag, encode_big_endian(etag));
}

void remove_acknowledged_position(WriteTransaction& txn, const std::string& peer_tag) {
  txn.erase_raw(Family::Meta, std::string(kAcknowledgedPositionPrefix) + peer_tag);
}

}  // namespace corvus::storage
