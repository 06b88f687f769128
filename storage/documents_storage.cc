#include "storage/documents_storage.h"

#include <future>

#include <rocksdb/iterator.h>

#include "storage/attachments_storage.h"
#include "storage/document_snapshot.h"
#include "storage/random_ids.h"
#include "storage/snapshot_read.h"

namespace corvus::storage {


namespace {

// An iteration that stopped on an error says so instead of looking finished.
Status iteration_status(const rocksdb::Iterator& it, const char* what) {
  return from_rocksdb(it.status(), what);
}

}  // namespace

Result<std::unique_ptr<DocumentsStorage>> DocumentsStorage::open(const std::string& dir,
                                                                 StorageOptions options) {
  auto engine = Engine::open(dir, options);
  if (!engine.ok()) return engine.status();
  std::unique_ptr<DocumentsStorage> storage(new DocumentsStorage());
  storage->options_ = std::move(options);
  storage->engine_ = std::move(engine).value();
  if (Status s = storage->load_or_create_meta(); !s.ok()) return s;
  const Engine* engine_ptr = storage->engine_.get();
  auto blobs = BlobStore::open(dir, [engine_ptr](const std::string& hash) {
    return attachment_hash_referenced(*engine_ptr, hash);
  });
  if (!blobs.ok()) return blobs.status();
  storage->blobs_ = std::move(blobs).value();
  // After a crash between a blob's rename and its commit, or between the
  // commit that dropped its last reference and the unlink.
  if (auto collected = storage->blobs_->collect_unreferenced(); !collected.ok()) return collected.status();
  storage->merger_ = std::make_unique<TransactionMerger>(*storage);
  return storage;
}

DocumentsStorage::~DocumentsStorage() {
  if (merger_) merger_->stop();
  if (blobs_) blobs_->detach();
}

Result<uint64_t> DocumentsStorage::read_count(const char* meta_key) const {
  std::string v;
  rocksdb::Status s = engine_->db()->Get(rocksdb::ReadOptions(), engine_->cf(Family::Meta), meta_key, &v);
  if (s.IsNotFound()) return uint64_t{0};
  if (!s.ok()) return from_rocksdb(s, std::string("read ") + meta_key);
  if (v.size() != 8) return Status::Corruption(std::string("malformed ") + meta_key);
  return decode_big_endian(v);
}

Result<uint64_t> DocumentsStorage::last_cluster_transaction_index() const {
  std::string v;
  rocksdb::Status s =
      engine_->db()->Get(rocksdb::ReadOptions(), engine_->cf(Family::Meta), meta_keys::kLastClusterTransaction, &v);
  if (s.IsNotFound()) return uint64_t{0};
  if (!s.ok()) return from_rocksdb(s, "read the last cluster transaction index");
  return decode_big_endian(v);
}

Status DocumentsStorage::load_or_create_meta() {
  auto* db = engine_->db();
  auto* meta = engine_->cf(Family::Meta);
  auto read_meta = [&](const char* key) -> Result<std::optional<std::string>> {
    std::string v;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, key, &v);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return from_rocksdb(s, std::string("read ") + key);
    return std::optional<std::string>(std::move(v));
  };
  auto id = read_meta(meta_keys::kDatabaseId);
  if (!id.ok()) return id.status();
  auto version = read_meta(meta_keys::kFormatVersion);
  if (!version.ok()) return version.status();
  if (!id.value()) {
    // A new database: its format and identity are written before anything else.
    database_id_ = new_database_id();
    rocksdb::WriteBatch batch;
    batch.Put(meta, meta_keys::kFormatVersion, std::to_string(kFormatVersion)).PermitUncheckedError();
    batch.Put(meta, meta_keys::kDatabaseId, database_id_).PermitUncheckedError();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (Status s = from_rocksdb(db->Write(wo, &batch), "write database id"); !s.ok()) return s;
  } else {
    const std::string found = version.value() ? *version.value() : std::string("none (written before formats were versioned)");
    if (found != std::to_string(kFormatVersion)) {
      return Status::Corruption("database in " + engine_->path() + " has storage format " + found +
                                ", this corvusd reads format " + std::to_string(kFormatVersion) +
                                " only; export it with the corvusd that wrote it and import it here");
    }
    database_id_ = *id.value();
  }
  for (auto [key, field] : {std::pair{meta_keys::kLastEtag, &writer_state_.last_etag},
                            std::pair{meta_keys::kDocumentCount, &writer_state_.document_count},
                            std::pair{meta_keys::kTombstoneCount, &writer_state_.tombstone_count},
                            std::pair{meta_keys::kConflictVersionCount, &writer_state_.conflict_versions}}) {
    auto v = read_meta(key);
    if (!v.ok()) return v.status();
    *field = v.value() ? decode_big_endian(*v.value()) : 0;
  }
  auto cv_text = read_meta(meta_keys::kDatabaseChangeVector);
  if (!cv_text.ok()) return cv_text.status();
  if (cv_text.value()) {
    auto cv = ChangeVector::parse(*cv_text.value());
    if (!cv.ok()) return Status::Corruption("stored database change vector: " + cv.status().message());
    writer_state_.database_change_vector = std::move(cv).value();
  }
  if (writer_state_.last_etag > 0)
    writer_state_.database_change_vector.set(options_.node_tag, writer_state_.last_etag, database_id_);
  publish(writer_state_);
  return Status::Ok();
}

void DocumentsStorage::publish(const WriterState& state) {
  published_document_count_.store(state.document_count, std::memory_order_release);
  published_tombstone_count_.store(state.tombstone_count, std::memory_order_release);
  // One object, so a reader gets a last etag and the change vector of that same batch.
  published_.store(std::make_shared<const Published>(
                       Published{state.last_etag, state.database_change_vector.to_string()}),
                   std::memory_order_release);
}

uint64_t DocumentsStorage::add_commit_listener(CommitListener listener) {
  std::lock_guard lock(listeners_mu_);
  const uint64_t id = ++next_listener_id_;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void DocumentsStorage::remove_commit_listener(uint64_t id) {
  // Waits for a notification in progress: the mutex is held while listeners run.
  std::lock_guard lock(listeners_mu_);
  listeners_.erase(id);
}

void DocumentsStorage::notify_commit_listeners(uint64_t last_etag) {
  std::lock_guard lock(listeners_mu_);
  for (auto& [id, listener] : listeners_) listener(last_etag);
}

Result<Document> DocumentsStorage::get(std::string_view id) const {
  std::string value;
  rocksdb::Status s = engine_->db()->Get(rocksdb::ReadOptions(), engine_->cf(Family::Documents),
                                         lower_id(id), &value);
  if (s.IsNotFound()) return Status::NotFound("document '" + std::string(id) + "' does not exist");
  if (!s.ok()) return from_rocksdb(s, "read document");
  return decode_document(value);
}

Result<std::vector<std::optional<Document>>> DocumentsStorage::get_many(const std::vector<std::string>& ids) const {
  SnapshotRead snap(engine_->db());
  std::vector<std::optional<Document>> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    auto doc = read_document(*engine_, snap.opts, lower_id(id));
    if (!doc.ok()) return doc.status();
    out.push_back(std::move(doc).value());
  }
  return out;
}

Result<std::vector<Document>> DocumentsStorage::list_recent(size_t start, size_t page_size) const {
  SnapshotRead snap(engine_->db());
  std::vector<Document> out;
  std::unique_ptr<rocksdb::Iterator> it(engine_->db()->NewIterator(snap.opts, engine_->cf(Family::Etags)));
  size_t skipped = 0;
  for (it->SeekToLast(); it->Valid() && out.size() < page_size; it->Prev()) {
    auto v = it->value();
    if (v.empty() || v[0] != kEtagOfDocument) continue;
    if (skipped < start) {
      ++skipped;
      continue;
    }
    auto doc = read_document(*engine_, snap.opts, std::string(v.data() + 1, v.size() - 1));
    if (!doc.ok()) return doc.status();
    if (!doc.value()) return Status::Corruption("etag index names a document that does not exist");
    out.push_back(std::move(*doc.value()));
  }
  if (Status s = iteration_status(*it, "list recent documents"); !s.ok()) return s;
  return out;
}

Result<std::vector<Document>> DocumentsStorage::list_collection(std::string_view collection, size_t start,
                                                                size_t page_size) const {
  SnapshotRead snap(engine_->db());
  std::vector<Document> out;
  std::string prefix = lower_id(collection.empty() ? "@empty" : collection);
  prefix.push_back('\0');
  std::string upper = prefix;
  upper.back() = '\1';
  std::unique_ptr<rocksdb::Iterator> it(
      engine_->db()->NewIterator(snap.opts, engine_->cf(Family::Collections)));
  size_t skipped = 0;
  for (it->SeekForPrev(upper); it->Valid() && out.size() < page_size; it->Prev()) {
    if (!it->key().starts_with(prefix)) break;
    if (it->key() == rocksdb::Slice(upper)) continue;
    if (skipped < start) {
      ++skipped;
      continue;
    }
    auto doc = read_document(*engine_, snap.opts, it->value().ToString());
    if (!doc.ok()) return doc.status();
    if (!doc.value()) return Status::Corruption("collection index names a document that does not exist");
    out.push_back(std::move(*doc.value()));
  }
  if (Status s = iteration_status(*it, "list collection"); !s.ok()) return s;
  return out;
}

Result<std::vector<Document>> DocumentsStorage::list_starting_with(std::string_view prefix, size_t start,
                                                                   size_t page_size) const {
  SnapshotRead snap(engine_->db());
  std::vector<Document> out;
  std::string key_prefix = lower_id(prefix);
  std::unique_ptr<rocksdb::Iterator> it(
      engine_->db()->NewIterator(snap.opts, engine_->cf(Family::Documents)));
  size_t skipped = 0;
  for (it->Seek(key_prefix); it->Valid() && out.size() < page_size; it->Next()) {
    if (!it->key().starts_with(key_prefix)) break;
    if (skipped < start) {
      ++skipped;
      continue;
    }
    auto doc = decode_document(std::string_view(it->value().data(), it->value().size()));
    if (!doc.ok()) return doc.status();
    out.push_back(std::move(doc).value());
  }
  if (Status s = iteration_status(*it, "list documents by prefix"); !s.ok()) return s;
  return out;
}

Result<std::vector<Change>> DocumentsStorage::changes_since(uint64_t after_etag, size_t limit) const {
  SnapshotRead snap(engine_->db());
  std::vector<Change> out;
  std::unique_ptr<rocksdb::Iterator> it(engine_->db()->NewIterator(snap.opts, engine_->cf(Family::Etags)));
  for (it->Seek(encode_big_endian(after_etag + 1)); it->Valid() && out.size() < limit; it->Next()) {
    auto v = it->value();
    if (v.empty()) return Status::Corruption("empty etag index entry");
    std::string key(v.data() + 1, v.size() - 1);
    std::string value;
    Family family;
    if (v[0] == kEtagOfDocument) {
      family = Family::Documents;
    } else if (v[0] == kEtagOfTombstone) {
      family = Family::Tombstones;
    } else {
      continue;  // counters, attachments, revisions: shipped by the replication issue
    }
    rocksdb::Status s = engine_->db()->Get(snap.opts, engine_->cf(family), key, &value);
    if (!s.ok()) {
      if (s.IsNotFound()) return Status::Corruption("etag index names a missing entry");
      return from_rocksdb(s, "read a change");
    }
    if (family == Family::Documents) {
      auto d = decode_document(value);
      if (!d.ok()) return d.status();
      out.emplace_back(std::move(d).value());
    } else {
      auto t = decode_tombstone(value);
      if (!t.ok()) return t.status();
      out.emplace_back(std::move(t).value());
    }
  }
  if (Status s = iteration_status(*it, "changes since"); !s.ok()) return s;
  return out;
}

DocumentsStorage::Published DocumentsStorage::published() const {
  auto p = published_.load(std::memory_order_acquire);
  return p ? *p : Published{};
}

DatabaseStats DocumentsStorage::stats() const {
  DatabaseStats s;
  s.database_id = database_id_;
  Published p = published();
  s.database_change_vector = std::move(p.database_change_vector);
  s.last_etag = p.last_etag;
  s.document_count = published_document_count_.load(std::memory_order_acquire);
  s.tombstone_count = published_tombstone_count_.load(std::memory_order_acquire);
  s.size_bytes = engine_->approximate_size_bytes();
  return s;
}

void DocumentsStorage::submit(TransactionMerger::Work work, TransactionMerger::Done done, size_t size_hint,
                              bool more_follows) {
  merger_->enqueue(std::move(work), std::move(done), size_hint, more_follows);
}

void DocumentsStorage::submit_or_run(TransactionMerger::Work work, TransactionMerger::Done done, size_t size_hint) {
  merger_->enqueue_or_run(std::move(work), std::move(done), size_hint);
}

Status DocumentsStorage::write(TransactionMerger::Work work) {
  std::promise<Status> promise;
  auto future = promise.get_future();
  submit(std::move(work), [&promise](Status s) { promise.set_value(std::move(s)); });
  return future.get();
}

}  // namespace corvus::storage
