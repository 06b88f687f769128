#include "rachis/log_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "rachis/wire.h"

namespace corvus::rachis {
namespace {

constexpr const char* kIdentityKey = "m/identity";
constexpr const char* kHardKey = "m/hard";
constexpr const char* kSnapMetaKey = "m/snapmeta";
constexpr const char* kSnapDataKey = "m/snapdata";

std::string entry_key(core::Index i) {
  std::string k = "e/";
  for (int b = 7; b >= 0; --b) k.push_back(static_cast<char>((i >> (8 * b)) & 0xff));
  return k;
}

core::Index key_index(const rocksdb::Slice& k) {
  core::Index i = 0;
  for (int b = 0; b < 8; ++b) i = (i << 8) | static_cast<unsigned char>(k.data()[2 + b]);
  return i;
}

Status from_rocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

std::string encode_identity(const NodeIdentity& id) {
  BufWriter w;
  w.u8(kWireVersion);
  w.bytes(id.cluster_id);
  w.u64(id.node_id);
  return std::move(w.str());
}

bool decode_identity(std::string_view bytes, NodeIdentity* id) {
  BufReader r(bytes);
  std::uint8_t v = 0;
  return r.u8(&v) && v == kWireVersion && r.bytes(&id->cluster_id) && r.u64(&id->node_id) && r.done();
}

}  // namespace

Result<std::unique_ptr<LogStorage>> LogStorage::open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 64;
  options.keep_log_file_num = 2;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return from_rocks(s, "cannot open Rachis log at " + path);
  std::unique_ptr<LogStorage> ls(new LogStorage());
  ls->db_.reset(raw);

  std::string value;
  s = ls->db_->Get(rocksdb::ReadOptions(), kIdentityKey, &value);
  if (s.ok()) {
    NodeIdentity id;
    if (!decode_identity(value, &id)) return Status::Corruption("Rachis identity at " + path + " is unreadable");
    ls->identity_ = id;
  } else if (!s.IsNotFound()) {
    return from_rocks(s, "cannot read Rachis identity");
  }
  s = ls->db_->Get(rocksdb::ReadOptions(), kSnapMetaKey, &value);
  if (s.ok()) {
    core::SnapshotMeta meta;
    if (!decode_snapshot_meta(value, &meta)) return Status::Corruption("Rachis snapshot meta is unreadable");
    ls->snapshot_index_ = meta.index;
  }
  std::unique_ptr<rocksdb::Iterator> it(ls->db_->NewIterator(rocksdb::ReadOptions()));
  it->SeekForPrev(entry_key(~core::Index{0}));
  if (it->Valid() && it->key().starts_with("e/") && it->key().size() == 10) ls->last_index_ = key_index(it->key());
  if (ls->last_index_ < ls->snapshot_index_) ls->last_index_ = ls->snapshot_index_;
  return ls;
}

LogStorage::~LogStorage() = default;

std::optional<NodeIdentity> LogStorage::identity() const {
  std::lock_guard lock(identity_mu_);
  return identity_;
}

Status LogStorage::write(void* batch, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  if (sync) syncs_.fetch_add(1, std::memory_order_relaxed);
  return from_rocks(db_->Write(wo, static_cast<rocksdb::WriteBatch*>(batch)), "cannot write the Rachis log");
}

Status LogStorage::reset(const NodeIdentity& id) {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(entry_key(0), entry_key(~core::Index{0}));
  batch.Delete(entry_key(~core::Index{0}));
  batch.Delete(kHardKey);
  batch.Delete(kSnapMetaKey);
  batch.Delete(kSnapDataKey);
  batch.Put(kIdentityKey, encode_identity(id));
  if (Status s = write(&batch, true); !s.ok()) return s;
  last_index_ = 0;
  snapshot_index_ = 0;
  std::lock_guard lock(identity_mu_);
  identity_ = id;
  return Status::Ok();
}

Result<core::PersistedState> LogStorage::load() const {
  core::PersistedState ps;
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), kHardKey, &value);
  if (s.ok()) {
    if (!decode_hard_state(value, &ps.hard_state)) return Status::Corruption("Rachis hard state is unreadable");
  } else if (!s.IsNotFound()) {
    return from_rocks(s, "cannot read Rachis hard state");
  }
  s = db_->Get(rocksdb::ReadOptions(), kSnapMetaKey, &value);
  if (s.ok()) {
    if (!decode_snapshot_meta(value, &ps.snapshot_meta)) return Status::Corruption("Rachis snapshot is unreadable");
    std::string data;
    s = db_->Get(rocksdb::ReadOptions(), kSnapDataKey, &data);
    if (!s.ok()) return from_rocks(s, "cannot read Rachis snapshot data");
    ps.snapshot_data = std::make_shared<const std::string>(std::move(data));
  } else if (!s.IsNotFound()) {
    return from_rocks(s, "cannot read Rachis snapshot");
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  core::Index expect = ps.snapshot_meta.index + 1;
  for (it->Seek(entry_key(expect)); it->Valid() && it->key().starts_with("e/"); it->Next()) {
    core::Entry e;
    if (!decode_entry(std::string_view(it->value().data(), it->value().size()), &e)) {
      return Status::Corruption("Rachis log entry is unreadable");
    }
    if (e.index != expect) {
      return Status::Corruption("Rachis log has a hole at index " + std::to_string(expect));
    }
    ++expect;
    ps.entries.push_back(std::move(e));
  }
  if (!it->status().ok()) return from_rocks(it->status(), "cannot read the Rachis log");
  if (ps.hard_state.commit < ps.snapshot_meta.index) ps.hard_state.commit = ps.snapshot_meta.index;
  ps.applied = ps.snapshot_meta.index;
  return ps;
}

Status LogStorage::save(const core::Ready& rd) {
  rocksdb::WriteBatch batch;
  core::Index new_last = last_index_;
  core::Index new_snapshot = snapshot_index_;
  if (rd.snapshot) {
    // A snapshot from the leader replaces the whole log.
    batch.DeleteRange(entry_key(0), entry_key(~core::Index{0}));
    batch.Put(kSnapMetaKey, encode_snapshot_meta(rd.snapshot->meta));
    batch.Put(kSnapDataKey, rd.snapshot->data ? *rd.snapshot->data : std::string());
    new_last = rd.snapshot->meta.index;
    new_snapshot = rd.snapshot->meta.index;
  }
  if (!rd.entries.empty()) {
    const core::Index from = rd.entries.front().index;
    if (from <= new_last) batch.DeleteRange(entry_key(from), entry_key(new_last + 1));
    for (const auto& e : rd.entries) batch.Put(entry_key(e.index), encode_entry(e));
    new_last = rd.entries.back().index;
  }
  if (rd.hard_state) batch.Put(kHardKey, encode_hard_state(*rd.hard_state));
  if (batch.Count() == 0) return Status::Ok();
  if (Status s = write(&batch, rd.must_sync || rd.snapshot.has_value()); !s.ok()) return s;
  last_index_ = new_last;
  snapshot_index_ = new_snapshot;
  return Status::Ok();
}

Status LogStorage::save_snapshot_and_compact(const core::SnapshotMeta& meta, const std::string& data) {
  rocksdb::WriteBatch batch;
  batch.Put(kSnapMetaKey, encode_snapshot_meta(meta));
  batch.Put(kSnapDataKey, data);
  batch.DeleteRange(entry_key(0), entry_key(meta.index + 1));
  if (Status s = write(&batch, true); !s.ok()) return s;
  snapshot_index_ = meta.index;
  if (last_index_ < meta.index) last_index_ = meta.index;
  return Status::Ok();
}

}  // namespace corvus::rachis
