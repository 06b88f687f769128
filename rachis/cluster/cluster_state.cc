#include "rachis/cluster/cluster_state.h"

#include <mutex>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "rachis/cluster/json_fields.h"
#include "rachis/wire.h"
#include "storage/document.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

namespace {

constexpr const char* kFamilyNames[kStateFamilies] = {"meta", "databases", "cmpxchg", "identities", "cluster_tx", "values"};
constexpr const char* kAppliedKey = "applied";
constexpr const char* kTopologyKey = "topology";
constexpr const char* kFormatKey = "format";
constexpr const char* kFormat = "corvus-cluster-state-1";
// Snapshot stream: a version byte, then records (u8 family, bytes key, bytes
// value), then the end marker.
constexpr std::uint8_t kSnapshotVersion = 1;
constexpr std::uint8_t kEndMarker = 0xff;
constexpr std::size_t kRestoreBatchBytes = 4 << 20;

Status from_rocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

std::string db_prefix(std::string_view database) {
  std::string p = storage::lower_id(database);
  p.push_back('\0');
  return p;
}

std::string db_key(std::string_view database, std::string_view key) { return db_prefix(database) + storage::lower_id(key); }

std::string big_endian(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

std::uint64_t from_big_endian(std::string_view s) {
  std::uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

std::string encode_u64_text(std::uint64_t v) { return std::to_string(v); }

std::string encode_cmpxchg(const CompareExchangeValue& v) {
  boost::system::error_code ec;
  json::value value = json::parse(v.value_json, ec);
  if (ec) value = json::object{{"Object", nullptr}};
  return json::serialize(json::object{{"Key", v.key}, {"Index", v.index}, {"Value", std::move(value)}});
}

Result<CompareExchangeValue> decode_cmpxchg(std::string_view bytes) {
  auto o = parse_object(bytes);
  if (!o) return Status::Corruption("compare-exchange value is not JSON");
  CompareExchangeValue v;
  v.key = get_string(*o, "Key");
  v.index = get_u64(*o, "Index");
  auto* value = o->if_contains("Value");
  v.value_json = value ? json::serialize(*value) : "null";
  return v;
}

}  // namespace

ClusterState::~ClusterState() {
  for (auto* h : handles_) {
    if (h && db_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
}

rocksdb::ColumnFamilyHandle* ClusterState::cf(StateFamily f) const { return handles_[static_cast<int>(f)]; }

Result<std::unique_ptr<ClusterState>> ClusterState::open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_open_files = 128;
  options.keep_log_file_num = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : kFamilyNames) families.emplace_back(name, rocksdb::ColumnFamilyOptions(options));
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(options));
  std::unique_ptr<ClusterState> st(new ClusterState());
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, path, families, &st->handles_, &raw);
  if (!s.ok()) return from_rocks(s, "cannot open the cluster state at " + path);
  st->db_.reset(raw);
  std::string format;
  s = st->db_->Get(rocksdb::ReadOptions(), st->cf(StateFamily::Meta), kFormatKey, &format);
  if (s.IsNotFound()) {
    s = st->db_->Put(rocksdb::WriteOptions(), st->cf(StateFamily::Meta), kFormatKey, kFormat);
    if (!s.ok()) return from_rocks(s, "cannot initialize the cluster state");
  } else if (!s.ok()) {
    return from_rocks(s, "cannot read the cluster state format");
  } else if (format != kFormat) {
    return Status::Corruption("the cluster state at " + path + " has format '" + format + "'; this build reads '" +
                              kFormat + "'");
  }
  if (Status ls = st->load_caches(); !ls.ok()) return ls;
  return st;
}

Status ClusterState::load_caches() {
  std::string value;
  core::Index applied = 0;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(StateFamily::Meta), kAppliedKey, &value);
  if (s.ok()) {
    applied = from_big_endian(value);
  } else if (!s.IsNotFound()) {
    return from_rocks(s, "cannot read the applied index");
  }
  Topology topology;
  s = db_->Get(rocksdb::ReadOptions(), cf(StateFamily::Meta), kTopologyKey, &value);
  if (s.ok()) {
    auto o = parse_object(value);
    if (!o || !Topology::from_json(*o, &topology)) return Status::Corruption("the stored cluster topology is unreadable");
  } else if (!s.IsNotFound()) {
    return from_rocks(s, "cannot read the cluster topology");
  }
  std::map<std::string, DatabaseRecord> records;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(StateFamily::Databases)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto o = parse_object(it->value().ToStringView());
    DatabaseRecord r;
    if (!o || !DatabaseRecord::from_json(*o, &r)) {
      return Status::Corruption("the stored record of database '" + it->key().ToString() + "' is unreadable");
    }
    records[it->key().ToString()] = std::move(r);
  }
  if (!it->status().ok()) return from_rocks(it->status(), "cannot read the database records");
  std::unique_lock lock(mu_);
  applied_ = applied;
  topology_ = std::move(topology);
  topology_.applied = applied;
  records_ = std::move(records);
  return Status::Ok();
}

core::Index ClusterState::applied() const {
  std::shared_lock lock(mu_);
  return applied_;
}

Topology ClusterState::topology() const {
  std::shared_lock lock(mu_);
  Topology t = topology_;
  t.applied = applied_;
  return t;
}

std::optional<DatabaseRecord> ClusterState::record(std::string_view database) const {
  std::shared_lock lock(mu_);
  auto it = records_.find(storage::lower_id(database));
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

std::vector<DatabaseRecord> ClusterState::records() const {
  std::shared_lock lock(mu_);
  std::vector<DatabaseRecord> out;
  for (const auto& [k, r] : records_) out.push_back(r);
  return out;
}

Result<std::optional<CompareExchangeValue>> ClusterState::compare_exchange(std::string_view database,
                                                                           std::string_view key) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(StateFamily::CompareExchange), db_key(database, key), &value);
  if (s.IsNotFound()) return std::optional<CompareExchangeValue>();
  if (!s.ok()) return from_rocks(s, "cannot read compare-exchange value '" + std::string(key) + "'");
  auto v = decode_cmpxchg(value);
  if (!v.ok()) return v.status();
  return std::optional<CompareExchangeValue>(std::move(v).value());
}

Result<std::vector<CompareExchangeValue>> ClusterState::compare_exchange_prefix(std::string_view database,
                                                                                std::string_view prefix,
                                                                                std::uint64_t start,
                                                                                std::uint64_t page_size) const {
  std::vector<CompareExchangeValue> out;
  const std::string seek = db_key(database, prefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(StateFamily::CompareExchange)));
  std::uint64_t skipped = 0;
  for (it->Seek(seek); it->Valid() && it->key().starts_with(seek) && out.size() < page_size; it->Next()) {
    if (skipped < start) {
      ++skipped;
      continue;
    }
    auto v = decode_cmpxchg(it->value().ToStringView());
    if (!v.ok()) return v.status();
    out.push_back(std::move(v).value());
  }
  if (!it->status().ok()) return from_rocks(it->status(), "cannot list compare-exchange values");
  return out;
}

Result<std::uint64_t> ClusterState::compare_exchange_count(std::string_view database) const {
  const std::string seek = db_prefix(database);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(StateFamily::CompareExchange)));
  std::uint64_t n = 0;
  for (it->Seek(seek); it->Valid() && it->key().starts_with(seek); it->Next()) ++n;
  if (!it->status().ok()) return from_rocks(it->status(), "cannot count compare-exchange values");
  return n;
}

Result<std::uint64_t> ClusterState::identity(std::string_view database, std::string_view prefix) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(StateFamily::Identities), db_key(database, prefix), &value);
  if (s.IsNotFound()) return std::uint64_t{0};
  if (!s.ok()) return from_rocks(s, "cannot read identity '" + std::string(prefix) + "'");
  return static_cast<std::uint64_t>(std::stoull(value));
}

Result<std::vector<ClusterTransactionRecord>> ClusterState::cluster_transactions(std::string_view database,
                                                                                 std::uint64_t after,
                                                                                 std::size_t limit) const {
  std::vector<ClusterTransactionRecord> out;
  const std::string prefix = db_prefix(database);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(StateFamily::ClusterTx)));
  for (it->Seek(prefix + big_endian(after + 1)); it->Valid() && it->key().starts_with(prefix) && out.size() < limit;
       it->Next()) {
    ClusterTransactionRecord tx;
    tx.index = from_big_endian(it->key().ToStringView().substr(prefix.size()));
    tx.commands_json = it->value().ToString();
    out.push_back(std::move(tx));
  }
  if (!it->status().ok()) return from_rocks(it->status(), "cannot read cluster-wide transactions");
  return out;
}

Result<std::optional<std::string>> ClusterState::value(std::string_view key) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(StateFamily::Values), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_rocks(s, "cannot read cluster value '" + std::string(key) + "'");
  return std::optional<std::string>(std::move(value));
}

Result<std::uint64_t> ClusterState::value_count() const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(StateFamily::Values)));
  std::uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  if (!it->status().ok()) return from_rocks(it->status(), "cannot count cluster values");
  return n;
}

// --- Batch ---

ClusterState::Batch::Batch(ClusterState& state) : state_(state), batch_(std::make_unique<rocksdb::WriteBatch>()) {}
ClusterState::Batch::~Batch() = default;

void ClusterState::Batch::put_topology(const Topology& t) {
  batch_->Put(state_.cf(StateFamily::Meta), kTopologyKey, json::serialize(t.to_json())).PermitUncheckedError();
  topology_ = t;
}

void ClusterState::Batch::put_record(const DatabaseRecord& r) {
  const std::string key = storage::lower_id(r.name);
  batch_->Put(state_.cf(StateFamily::Databases), key, json::serialize(r.to_json())).PermitUncheckedError();
  records_[key] = r;
}

void ClusterState::Batch::delete_record(std::string_view database) {
  const std::string key = storage::lower_id(database);
  batch_->Delete(state_.cf(StateFamily::Databases), key).PermitUncheckedError();
  records_[key] = std::nullopt;
}

void ClusterState::Batch::put_compare_exchange(std::string_view database, const CompareExchangeValue& v) {
  batch_->Put(state_.cf(StateFamily::CompareExchange), db_key(database, v.key), encode_cmpxchg(v))
      .PermitUncheckedError();
}

void ClusterState::Batch::delete_compare_exchange(std::string_view database, std::string_view key) {
  batch_->Delete(state_.cf(StateFamily::CompareExchange), db_key(database, key)).PermitUncheckedError();
}

void ClusterState::Batch::put_identity(std::string_view database, std::string_view prefix, std::uint64_t value) {
  batch_->Put(state_.cf(StateFamily::Identities), db_key(database, prefix), encode_u64_text(value))
      .PermitUncheckedError();
}

void ClusterState::Batch::put_cluster_transaction(std::string_view database, const ClusterTransactionRecord& tx) {
  batch_->Put(state_.cf(StateFamily::ClusterTx), db_prefix(database) + big_endian(tx.index), tx.commands_json)
      .PermitUncheckedError();
}

void ClusterState::Batch::put_value(std::string_view key, std::string_view value) {
  batch_->Put(state_.cf(StateFamily::Values), key, value).PermitUncheckedError();
}

Status ClusterState::Batch::delete_database_data(std::string_view database) {
  // A range per family: the prefix "name\0" up to "name\1".
  std::string begin = db_prefix(database);
  std::string end = begin;
  end.back() = '\1';
  for (StateFamily f : {StateFamily::CompareExchange, StateFamily::Identities, StateFamily::ClusterTx}) {
    auto s = batch_->DeleteRange(state_.cf(f), begin, end);
    if (!s.ok()) return from_rocks(s, "cannot delete the cluster data of database '" + std::string(database) + "'");
  }
  return Status::Ok();
}

Status ClusterState::commit(Batch& batch, core::Index index) {
  batch.batch_->Put(cf(StateFamily::Meta), kAppliedKey, big_endian(index)).PermitUncheckedError();
  rocksdb::WriteOptions wo;
  wo.sync = false;
  auto s = db_->Write(wo, batch.batch_.get());
  if (!s.ok()) return from_rocks(s, "cannot write the cluster state");
  std::unique_lock lock(mu_);
  applied_ = index;
  if (batch.topology_) topology_ = *batch.topology_;
  topology_.applied = index;
  for (auto& [key, r] : batch.records_) {
    if (r) {
      records_[key] = *r;
    } else {
      records_.erase(key);
    }
  }
  return Status::Ok();
}

Status ClusterState::sync_wal() { return from_rocks(db_->SyncWAL(), "cannot sync the cluster state"); }

Result<std::string> ClusterState::snapshot() const {
  BufWriter w;
  w.u8(kSnapshotVersion);
  // One RocksDB snapshot for every family, so the stream is one applied index.
  const rocksdb::Snapshot* snap = db_->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  Status result;
  for (int f = 0; f < kStateFamilies && result.ok(); ++f) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[f]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (f == static_cast<int>(StateFamily::Meta) && it->key() == kAppliedKey) continue;
      w.u8(static_cast<std::uint8_t>(f));
      w.bytes(it->key().ToStringView());
      w.bytes(it->value().ToStringView());
    }
    if (!it->status().ok()) result = from_rocks(it->status(), "cannot read the cluster state for a snapshot");
  }
  db_->ReleaseSnapshot(snap);
  if (!result.ok()) return result;
  w.u8(kEndMarker);
  return std::move(w.str());
}

Status ClusterState::clear() {
  rocksdb::WriteBatch batch;
  for (int f = 0; f < kStateFamilies; ++f) {
    // Everything but the format marker; "\xff..." bounds every key we write.
    auto s = batch.DeleteRange(handles_[f], "", std::string(64, '\xff'));
    if (!s.ok()) return from_rocks(s, "cannot clear the cluster state");
  }
  batch.Put(cf(StateFamily::Meta), kFormatKey, kFormat).PermitUncheckedError();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto s = db_->Write(wo, &batch);
  if (!s.ok()) return from_rocks(s, "cannot clear the cluster state");
  std::unique_lock lock(mu_);
  applied_ = 0;
  topology_ = Topology{};
  records_.clear();
  return Status::Ok();
}

Status ClusterState::restore(std::string_view data, core::Index index) {
  if (Status s = clear(); !s.ok()) return s;
  if (!data.empty()) {
    BufReader r(data);
    std::uint8_t version = 0;
    if (!r.u8(&version) || version != kSnapshotVersion) {
      return Status::Corruption("cluster snapshot has an unknown format version");
    }
    rocksdb::WriteBatch batch;
    for (;;) {
      std::uint8_t family = 0;
      if (!r.u8(&family)) return Status::Corruption("cluster snapshot is truncated");
      if (family == kEndMarker) break;
      std::string key, value;
      if (family >= kStateFamilies || !r.bytes(&key) || !r.bytes(&value)) {
        return Status::Corruption("cluster snapshot has a malformed record");
      }
      batch.Put(handles_[family], key, value).PermitUncheckedError();
      if (batch.GetDataSize() >= kRestoreBatchBytes) {
        auto s = db_->Write(rocksdb::WriteOptions(), &batch);
        if (!s.ok()) return from_rocks(s, "cannot restore the cluster snapshot");
        batch.Clear();
      }
    }
    if (!r.done()) return Status::Corruption("cluster snapshot has trailing bytes");
    auto s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return from_rocks(s, "cannot restore the cluster snapshot");
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto s = db_->Put(wo, cf(StateFamily::Meta), kAppliedKey, big_endian(index));
  if (!s.ok()) return from_rocks(s, "cannot restore the cluster snapshot");
  return load_caches();
}

}  // namespace corvus::rachis::cluster
