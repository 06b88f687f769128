#include "storage/counters_storage.h"

#include <algorithm>
#include <limits>
#include <memory>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <rocksdb/db.h>

#include "storage/documents_storage.h"
#include "storage/snapshot_read.h"
#include "storage/write_transaction.h"

namespace corvus::storage {
namespace {

char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

Result<StoredCounter> decode_stored(std::string_view bytes) {
  if (bytes.size() < 8) return Status::Corruption("counter: truncated etag");
  StoredCounter c;
  c.etag = decode_big_endian(bytes.substr(0, 8));
  auto v = CounterValue::decode(bytes.substr(8));
  if (!v.ok()) return v.status();
  c.value = std::move(v).value();
  return c;
}

std::string encode_stored(const StoredCounter& c) { return encode_big_endian(c.etag) + c.value.encode(); }

// The names in a document's @metadata.@counters (empty if none).
Result<std::vector<std::string>> counter_names_of(const Document& doc) {
  if (!(doc.flags & kHasCounters)) return std::vector<std::string>();
  boost::system::error_code ec;
  auto v = boost::json::parse(doc.json, ec);
  if (ec || !v.is_object()) return Status::Corruption("stored document '" + doc.id + "' is not a JSON object");
  std::vector<std::string> names;
  const auto* md = v.as_object().if_contains("@metadata");
  const auto* counters = md && md->is_object() ? md->as_object().if_contains("@counters") : nullptr;
  if (counters && counters->is_array()) {
    for (const auto& n : counters->as_array()) {
      if (n.is_string()) names.emplace_back(n.as_string());
    }
  }
  return names;
}

Status missing_document(std::string_view doc_id) {
  return Status::NotFound("Document '" + std::string(doc_id) +
                          "' does not exist. Cannot operate on counters of a missing document.");
}

}  // namespace

bool counter_name_less(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto ca = static_cast<unsigned char>(ascii_upper(a[i]));
    const auto cb = static_cast<unsigned char>(ascii_upper(b[i]));
    if (ca != cb) return ca < cb;
  }
  return a.size() < b.size();
}

Status validate_counter_name(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("Counter name cannot be empty");
  if (name.size() > kMaxCounterNameBytes) {
    return Status::InvalidArgument("Counter name is " + std::to_string(name.size()) + " bytes; the limit is " +
                                   std::to_string(kMaxCounterNameBytes));
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("Counter name '" + std::string(name) + "' contains a control character");
    }
  }
  return Status::Ok();
}

std::string counter_key(std::string_view doc_id, std::string_view name) {
  return document_key_prefix(doc_id) + lower_id(name);
}

std::vector<std::pair<std::string, int64_t>> per_node_values(const CounterValue& value) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& e : value.entries()) {
    if (!e.moved_since_deletion()) continue;
    // One entry's share fits int64 unless its node alone overflowed (merged values only): clamp.
    const CounterSum c = std::clamp<CounterSum>(e.contribution(), std::numeric_limits<int64_t>::min(),
                                                std::numeric_limits<int64_t>::max());
    out.emplace_back((e.node_tag.empty() ? std::string("?") : e.node_tag) + "-" + e.database_id,
                     static_cast<int64_t>(c));
  }
  return out;
}

// --- reads ---

Result<std::vector<std::optional<StoredCounter>>> CountersStorage::get(std::string_view doc_id,
                                                                       const std::vector<std::string>& names) const {
  const Engine& engine = storage_.engine();
  SnapshotRead snap(engine.db());
  std::vector<std::optional<StoredCounter>> out;
  out.reserve(names.size());
  std::string bytes;
  for (const auto& name : names) {
    rocksdb::Status s = engine.db()->Get(snap.opts, engine.cf(Family::Counters), counter_key(doc_id, name), &bytes);
    if (s.IsNotFound()) {
      out.emplace_back();
      continue;
    }
    if (!s.ok()) return from_rocksdb(s, "read counter");
    auto c = decode_stored(bytes);
    if (!c.ok()) return c.status();
    if (c->value.exists()) out.emplace_back(std::move(c).value());
    else out.emplace_back();
  }
  return out;
}

Result<std::vector<StoredCounter>> CountersStorage::get_all(std::string_view doc_id) const {
  const Engine& engine = storage_.engine();
  SnapshotRead snap(engine.db());
  const std::string prefix = document_key_prefix(doc_id);
  std::vector<StoredCounter> out;
  std::unique_ptr<rocksdb::Iterator> it(engine.db()->NewIterator(snap.opts, engine.cf(Family::Counters)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto c = decode_stored(std::string_view(it->value().data(), it->value().size()));
    if (!c.ok()) return c.status();
    if (c->value.exists()) out.push_back(std::move(c).value());
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "list counters");
  std::sort(out.begin(), out.end(),
            [](const StoredCounter& a, const StoredCounter& b) { return counter_name_less(a.value.name(), b.value.name()); });
  return out;
}

// --- writes ---

Status CountersStorage::on_document_deleted(WriteTransaction& txn, const Document& doc) {
  auto names = counter_names_of(doc);
  if (!names.ok()) return names.status();
  DocumentCounters counters(txn, doc.id);
  for (const auto& name : names.value()) {
    auto r = counters.remove(name);
    if (!r.ok()) return r.status();
  }
  // No finish(): the document itself is going away.
  return Status::Ok();
}

Status DocumentCounters::load_document() {
  if (loaded_) return document_ ? Status::Ok() : missing_document(doc_id_);
  auto doc = txn_.get(doc_id_);
  if (!doc.ok()) return doc.status();
  loaded_ = true;
  document_ = std::move(doc).value();
  return document_ ? Status::Ok() : missing_document(doc_id_);
}

Result<std::optional<StoredCounter>> DocumentCounters::read(const std::string& key) {
  auto bytes = txn_.read(Family::Counters, key);
  if (!bytes.ok()) return bytes.status();
  if (!bytes.value()) return std::optional<StoredCounter>();
  auto c = decode_stored(*bytes.value());
  if (!c.ok()) return c.status();
  return std::optional<StoredCounter>(std::move(c).value());
}

Result<DocumentCounters::Current> DocumentCounters::read_current(const std::string& key) {
  auto existing = read(key);
  if (!existing.ok()) return existing.status();
  Current current;
  if (existing.value()) {
    current.counter = std::move(*existing.value());
    current.old_etag = current.counter.etag;
    current.existed = current.counter.value.exists();
  }
  return current;
}

void DocumentCounters::write(const std::string& key, std::optional<uint64_t> old_etag, StoredCounter& counter) {
  if (old_etag) txn_.unindex_etag(*old_etag);
  txn_.put_raw(Family::Counters, key, encode_stored(counter));
  txn_.index_etag(counter.etag, kEtagOfCounter, key);
}

Result<StoredCounter> DocumentCounters::increment(std::string_view name, int64_t delta) {
  if (Status s = validate_counter_name(name); !s.ok()) return s;
  if (Status s = load_document(); !s.ok()) return s;
  const std::string key = counter_key(doc_id_, name);
  auto current = read_current(key);
  if (!current.ok()) return current.status();
  StoredCounter counter = std::move(current->counter);
  const std::optional<uint64_t> old_etag = current->old_etag;
  const bool existed = current->existed;
  // A new counter, or one re-created over its tombstone, takes the name as given now.
  if (!existed) counter.value.set_name(std::string(name));
  const uint64_t etag = txn_.next_etag();
  if (Status s = counter.value.increment(txn_.storage().database_id(), txn_.storage().node_tag(), etag, delta);
      !s.ok()) {
    return s;
  }
  counter.etag = etag;
  write(key, old_etag, counter);
  if (!existed) {
    touched_.push_back(lower_id(name));
    if (Status s = txn_.adjust_count(meta_keys::kCounterCount, 1); !s.ok()) return s;
  }
  return counter;
}

Result<bool> DocumentCounters::remove(std::string_view name) {
  if (Status s = validate_counter_name(name); !s.ok()) return s;
  if (Status s = load_document(); !s.ok()) return s;
  const std::string key = counter_key(doc_id_, name);
  auto existing = read(key);
  if (!existing.ok()) return existing.status();
  if (!existing.value() || !existing.value()->value.exists()) return false;
  StoredCounter counter = std::move(*existing.value());
  const uint64_t old_etag = counter.etag;
  counter.etag = txn_.next_etag();
  counter.value.remove(txn_.storage().database_id(), txn_.storage().node_tag(), counter.etag);
  write(key, old_etag, counter);
  touched_.push_back(lower_id(name));
  if (Status s = txn_.adjust_count(meta_keys::kCounterCount, -1); !s.ok()) return s;
  return true;
}

Result<DocumentCounters::Merged> DocumentCounters::merge_into_stored(WriteTransaction& txn, const std::string& key,
                                                                     const CounterValue& remote) {
  auto bytes = txn.read(Family::Counters, key);
  if (!bytes.ok()) return bytes.status();
  Merged out;
  std::optional<uint64_t> old_etag;
  bool existed = false;
  if (bytes.value()) {
    auto c = decode_stored(*bytes.value());
    if (!c.ok()) return c.status();
    out.counter = std::move(c).value();
    old_etag = out.counter.etag;
    existed = out.counter.value.exists();
  } else {
    out.counter.value.set_name(remote.name());
  }
  CounterValue merged = out.counter.value;
  merged.merge(remote);
  if (old_etag && merged == out.counter.value) return out;  // nothing new: idempotent
  if (!existed && merged.exists()) merged.set_name(remote.name());
  out.counter.value = std::move(merged);
  out.counter.etag = txn.next_etag();
  if (old_etag) txn.unindex_etag(*old_etag);
  txn.put_raw(Family::Counters, key, encode_stored(out.counter));
  txn.index_etag(out.counter.etag, kEtagOfCounter, key);
  out.changed = true;
  out.existence_changed = existed != out.counter.value.exists();
  if (out.existence_changed) {
    if (Status s = txn.adjust_count(meta_keys::kCounterCount, existed ? -1 : 1); !s.ok()) return s;
  }
  return out;
}

Result<StoredCounter> DocumentCounters::merge_remote(const CounterValue& remote) {
  if (Status s = validate_counter_name(remote.name()); !s.ok()) return s;
  if (Status s = load_document(); !s.ok()) return s;
  auto merged = merge_into_stored(txn_, counter_key(doc_id_, remote.name()), remote);
  if (!merged.ok()) return merged.status();
  if (merged->existence_changed) touched_.push_back(lower_id(remote.name()));
  return std::move(merged->counter);
}

Result<std::optional<StoredCounter>> CountersStorage::merge_replicated(WriteTransaction& txn, std::string_view doc_id,
                                                                       const CounterValue& remote) {
  if (Status s = validate_counter_name(remote.name()); !s.ok()) return s;
  if (doc_id.empty()) return Status::InvalidArgument("a replicated counter needs a document id");
  auto merged = DocumentCounters::merge_into_stored(txn, counter_key(doc_id, remote.name()), remote);
  if (!merged.ok()) return merged.status();
  if (!merged->changed) return std::optional<StoredCounter>();
  return std::optional<StoredCounter>(std::move(merged->counter));
}

Result<std::optional<StoredCounter>> DocumentCounters::get(std::string_view name) {
  auto c = read(counter_key(doc_id_, name));
  if (!c.ok()) return c.status();
  if (c.value() && !c.value()->value.exists()) return std::optional<StoredCounter>();
  return c;
}

Result<std::string> DocumentCounters::finish() {
  if (touched_.empty()) return document_ ? document_->change_vector : std::string();
  // document_ is the version this command started from: only finish() changes
  // its @counters, once.
  auto before = counter_names_of(*document_);
  if (!before.ok()) return before.status();
  std::vector<std::string> names = before.value();
  for (const auto& lowered : touched_) {
    auto c = get(lowered);
    if (!c.ok()) return c.status();
    std::erase_if(names, [&](const std::string& n) { return lower_id(n) == lowered; });
    if (c.value()) names.push_back(c.value()->value.name());
  }
  touched_.clear();
  std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) { return counter_name_less(a, b); });
  // A counter created and deleted again by the same command leaves the names as they were.
  if (names == before.value()) return document_->change_vector;
  auto r = txn_.update_document_metadata(doc_id_, [&](boost::json::object& metadata, uint32_t& flags) -> Status {
    if (names.empty()) {
      metadata.erase("@counters");
      flags &= ~static_cast<uint32_t>(kHasCounters);
    } else {
      boost::json::array arr;
      for (const auto& n : names) arr.emplace_back(n);
      metadata["@counters"] = std::move(arr);
      flags |= kHasCounters;
    }
    return Status::Ok();
  });
  if (!r.ok()) return r.status();
  return r->change_vector;
}

}  // namespace corvus::storage
