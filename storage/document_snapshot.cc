#include "storage/document_snapshot.h"

#include <rocksdb/iterator.h>

#include "storage/documents_storage.h"

namespace corvus::storage {

namespace {

// Walks an index family whose values name a document key: Collections
// (prefix = lowered collection \0, value = key) or Etags (no prefix, value =
// kind byte + key, documents only).
class IndexCursor final : public DocumentSnapshot::Cursor {
 public:
  IndexCursor(const Engine& engine, const rocksdb::ReadOptions& opts, Family family, std::string prefix,
              uint64_t after_etag)
      : engine_(engine), opts_(opts), family_(family), prefix_(std::move(prefix)) {
    it_.reset(engine_.db()->NewIterator(opts_, engine_.cf(family_)));
    it_->Seek(prefix_ + encode_big_endian(after_etag + 1));
  }

  Result<std::optional<Document>> next() override {
    for (; it_->Valid(); it_->Next()) {
      if (!it_->key().starts_with(prefix_)) break;
      rocksdb::Slice key = it_->value();
      if (family_ == Family::Etags) {
        if (key.empty() || key[0] != kEtagOfDocument) continue;
        key.remove_prefix(1);
      }
      auto doc = read_document(engine_, opts_, key);
      if (!doc.ok()) return doc.status();
      if (!doc.value()) return Status::Corruption("an index of documents names a document that does not exist");
      it_->Next();
      return doc;
    }
    if (Status s = from_rocksdb(it_->status(), "scan documents"); !s.ok()) return s;
    return std::optional<Document>();
  }

  // Keys only: no document is read.
  Result<uint64_t> count_rest() override {
    uint64_t n = 0;
    for (; it_->Valid() && it_->key().starts_with(prefix_); it_->Next()) {
      if (family_ == Family::Etags && (it_->value().empty() || it_->value()[0] != kEtagOfDocument)) continue;
      ++n;
    }
    if (Status s = from_rocksdb(it_->status(), "count documents"); !s.ok()) return s;
    return n;
  }

 private:
  const Engine& engine_;
  const rocksdb::ReadOptions& opts_;
  Family family_;
  std::string prefix_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// The Etags family from the newest entry back, documents only.
class DescendingEtagCursor final : public DocumentSnapshot::Cursor {
 public:
  DescendingEtagCursor(const Engine& engine, const rocksdb::ReadOptions& opts) : engine_(engine), opts_(opts) {
    it_.reset(engine_.db()->NewIterator(opts_, engine_.cf(Family::Etags)));
    it_->SeekToLast();
  }

  Result<std::optional<Document>> next() override {
    for (; it_->Valid(); it_->Prev()) {
      rocksdb::Slice key = it_->value();
      if (key.empty() || key[0] != kEtagOfDocument) continue;
      key.remove_prefix(1);
      auto doc = read_document(engine_, opts_, key);
      if (!doc.ok()) return doc.status();
      if (!doc.value()) return Status::Corruption("an index of documents names a document that does not exist");
      it_->Prev();
      return doc;
    }
    if (Status s = from_rocksdb(it_->status(), "scan documents newest first"); !s.ok()) return s;
    return std::optional<Document>();
  }

 private:
  const Engine& engine_;
  const rocksdb::ReadOptions& opts_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// The Documents family (keyed by lowered id) from a prefix on: the values
// are the documents themselves, so no second read.
class IdPrefixCursor final : public DocumentSnapshot::Cursor {
 public:
  IdPrefixCursor(const Engine& engine, const rocksdb::ReadOptions& opts, std::string prefix,
                 std::string start_after)
      : prefix_(std::move(prefix)) {
    it_.reset(engine.db()->NewIterator(opts, engine.cf(Family::Documents)));
    if (!start_after.empty() && start_after >= prefix_) {
      it_->Seek(start_after);
      if (it_->Valid() && it_->key() == rocksdb::Slice(start_after)) it_->Next();
    } else {
      it_->Seek(prefix_);
    }
  }

  Result<std::optional<Document>> next() override {
    if (it_->Valid() && it_->key().starts_with(prefix_)) {
      auto doc = decode_document(std::string_view(it_->value().data(), it_->value().size()));
      if (!doc.ok()) return doc.status();
      it_->Next();
      return std::optional<Document>(std::move(doc).value());
    }
    if (Status s = from_rocksdb(it_->status(), "scan documents by id prefix"); !s.ok()) return s;
    return std::optional<Document>();
  }

 private:
  std::string prefix_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace

Result<uint64_t> DocumentSnapshot::Cursor::count_rest() {
  uint64_t n = 0;
  for (;;) {
    auto doc = next();
    if (!doc.ok()) return doc.status();
    if (!doc.value()) return n;
    ++n;
  }
}

Result<std::optional<Document>> read_document(const Engine& engine, const rocksdb::ReadOptions& opts,
                                              const rocksdb::Slice& key) {
  std::string value;
  rocksdb::Status s = engine.db()->Get(opts, engine.cf(Family::Documents), key, &value);
  if (s.IsNotFound()) return std::optional<Document>();
  if (!s.ok()) return from_rocksdb(s, "read document");
  auto doc = decode_document(value);
  if (!doc.ok()) return doc.status();
  return std::optional<Document>(std::move(doc).value());
}

DocumentSnapshot::DocumentSnapshot(const DocumentsStorage& storage)
    : storage_(storage), snapshot_(storage.engine().db()->GetSnapshot()) {
  read_options_.snapshot = snapshot_;
}

DocumentSnapshot::~DocumentSnapshot() { storage_.engine().db()->ReleaseSnapshot(snapshot_); }

Result<std::optional<Document>> DocumentSnapshot::get(std::string_view id) const {
  return read_document(storage_.engine(), read_options_, lower_id(id));
}

Result<std::vector<std::optional<Document>>> DocumentSnapshot::get_many(
    const std::vector<std::string>& lowered_ids) const {
  const Engine& e = storage_.engine();
  std::vector<rocksdb::Slice> keys(lowered_ids.begin(), lowered_ids.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  e.db()->MultiGet(read_options_, e.cf(Family::Documents), keys.size(), keys.data(), values.data(), statuses.data());
  std::vector<std::optional<Document>> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return from_rocksdb(statuses[i], "read documents");
    auto doc = decode_document(std::string_view(values[i].data(), values[i].size()));
    if (!doc.ok()) return doc.status();
    out[i] = std::move(doc).value();
  }
  return out;
}

Result<uint64_t> DocumentSnapshot::last_etag() const {
  const Engine& e = storage_.engine();
  std::string value;
  rocksdb::Status s = e.db()->Get(read_options_, e.cf(Family::Meta), meta_keys::kLastEtag, &value);
  if (s.IsNotFound()) return uint64_t{0};
  if (!s.ok()) return from_rocksdb(s, "read the last etag");
  return decode_big_endian(value);
}

Result<std::map<std::string, uint64_t>> DocumentSnapshot::collection_counts() const {
  const Engine& e = storage_.engine();
  std::map<std::string, uint64_t> out;
  std::unique_ptr<rocksdb::Iterator> it(e.db()->NewIterator(read_options_, e.cf(Family::Collections)));
  std::string prefix;  // the lowered collection \0 being counted
  uint64_t* count = nullptr;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (count && it->key().starts_with(prefix)) {
      ++*count;
      continue;
    }
    const std::string_view key(it->key().data(), it->key().size());
    prefix = std::string(key.substr(0, key.find('\0') + 1));
    auto doc = read_document(e, read_options_, it->value());
    if (!doc.ok()) return doc.status();
    if (!doc.value()) return Status::Corruption("the collection index names a document that does not exist");
    count = &out[doc.value()->collection.empty() ? "@empty" : doc.value()->collection];
    ++*count;
  }
  if (Status st = from_rocksdb(it->status(), "count collections"); !st.ok()) return st;
  return out;
}

std::unique_ptr<DocumentSnapshot::Cursor> DocumentSnapshot::scan_collection(std::string_view collection,
                                                                            uint64_t after_etag) const {
  std::string prefix = lower_id(collection.empty() ? "@empty" : collection);
  prefix.push_back('\0');
  return std::make_unique<IndexCursor>(storage_.engine(), read_options_, Family::Collections, std::move(prefix),
                                       after_etag);
}

std::unique_ptr<DocumentSnapshot::Cursor> DocumentSnapshot::scan_all(uint64_t after_etag) const {
  return std::make_unique<IndexCursor>(storage_.engine(), read_options_, Family::Etags, std::string(), after_etag);
}

std::unique_ptr<DocumentSnapshot::Cursor> DocumentSnapshot::scan_all_descending() const {
  return std::make_unique<DescendingEtagCursor>(storage_.engine(), read_options_);
}

std::unique_ptr<DocumentSnapshot::Cursor> DocumentSnapshot::scan_id_prefix(std::string_view prefix,
                                                                          std::string_view start_after) const {
  return std::make_unique<IdPrefixCursor>(storage_.engine(), read_options_, lower_id(prefix),
                                          start_after.empty() ? std::string() : lower_id(start_after));
}

}  // namespace corvus::storage
