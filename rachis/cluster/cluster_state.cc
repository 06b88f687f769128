#include "rachis/cluster/cluster_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "rachis/cluster/json_fields.h"
#include "rachis/wire.h"
#include "storage/document.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

namespace {

constexpr const char* kFamilyNames[kStateFamilies] = {"meta", "databases", "cmpxchg", "identities", "cluster_tx", "values",
                                                       "certificates", "subscriptions", "subscription_delivered"};
constexpr const char* kAppliedKey = "applied";
constexpr const char* kTopologyKey = "topology";
constexpr const char* kFormatKey = "format";
constexpr const char* kFormat = "corvus-cluster-state-1";
// Snapshot chunks: a version byte, then records (u8 family, bytes key, bytes
// value). The trailer: the version byte, u64 applied index, u64 record count.
// The applied index and the format marker are not records: the trailer carries
// the one, the staging store writes the other itself.
constexpr std::uint8_t kSnapshotVersion = 1;
// How long install() waits for readers of the instance it replaces.
constexpr auto kInstallReaderWait = std::chrono::seconds(10);

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

// The delivered versions of one subscription: a fixed-width id after the
// database, so one subscription's keys are one range (deleted at once) and no
// separator is needed before the document id.
std::string delivered_prefix(std::string_view database, std::uint64_t subscription_id) {
  return db_prefix(database) + storage::encode_big_endian(subscription_id);
}

std::string encode_u64_text(std::uint64_t v) { return std::to_string(v); }

std::string encode_cmpxchg(const CompareExchangeValue& v) {
  boost::system::error_code ec;
  json::value value = json::parse(v.value_json, ec);
  if (ec) value = json::object{{"Object", nullptr}};
  return json::serialize(json::object{{"Key", v.key}, {"Index", v.index}, {"Value", std::move(value)}});
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

Status closed_error() { return Status::IOError("the cluster state is closed (a snapshot install failed)"); }

// Makes renames inside `dir` durable.
Status sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Status::IOError("cannot open directory " + dir.string());
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Status::IOError("cannot sync directory " + dir.string());
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

// Set once a Store is destroyed, by whichever thread dropped the last
// reference: install() waits on it before it moves the directory.
struct ClosedSignal {
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
};

struct ClusterState::Store {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // by StateFamily, then default
  std::shared_ptr<ClosedSignal> closed = std::make_shared<ClosedSignal>();

  ~Store() {
    // Replaced by install() or shut down: a failed close changes nothing (the
    // Raft log holds every entry that was not synced here).
    close().ignore_error();
    {
      std::lock_guard lock(closed->mu);
      closed->closed = true;
    }
    closed->cv.notify_all();
  }
  rocksdb::ColumnFamilyHandle* cf(StateFamily f) const { return handles[static_cast<int>(f)]; }
  Status close() {
    if (!db) return Status::Ok();
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    handles.clear();
    Status s = from_rocks(db->Close(), "cannot close the cluster state");
    db.reset();
    return s;
  }
};

ClusterState::~ClusterState() = default;

std::shared_ptr<ClusterState::Store> ClusterState::store() const {
  std::shared_lock lock(store_mu_);
  return store_;
}

Result<std::shared_ptr<ClusterState::Store>> ClusterState::open_store(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_open_files = 128;
  options.keep_log_file_num = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : kFamilyNames) families.emplace_back(name, rocksdb::ColumnFamilyOptions(options));
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(options));
  auto store = std::make_shared<Store>();
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, path, families, &store->handles, &raw);
  if (!s.ok()) return from_rocks(s, "cannot open the cluster state at " + path);
  store->db.reset(raw);
  std::string format;
  s = store->db->Get(rocksdb::ReadOptions(), store->cf(StateFamily::Meta), kFormatKey, &format);
  if (s.IsNotFound()) {
    s = store->db->Put(rocksdb::WriteOptions(), store->cf(StateFamily::Meta), kFormatKey, kFormat);
    if (!s.ok()) return from_rocks(s, "cannot initialize the cluster state");
  } else if (!s.ok()) {
    return from_rocks(s, "cannot read the cluster state format");
  } else if (format != kFormat) {
    return Status::Corruption("the cluster state at " + path + " has format '" + format + "'; this build reads '" +
                              kFormat + "'");
  }
  return store;
}

Result<std::unique_ptr<ClusterState>> ClusterState::open(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path current(path), staging(path + ".incoming"), old(path + ".old");
  std::error_code ec;
  // A crash between install()'s two renames: the old state is still whole.
  if (!fs::exists(current, ec) && fs::exists(old, ec)) {
    fs::rename(old, current, ec);
    if (ec) return Status::IOError("cannot roll back the cluster state at " + path + ": " + ec.message());
  }
  for (const auto& leftover : {staging, old}) {
    fs::remove_all(leftover, ec);
    if (ec) return Status::IOError("cannot delete " + leftover.string() + ": " + ec.message());
  }
  auto store = open_store(path);
  if (!store.ok()) return store.status();
  std::unique_ptr<ClusterState> st(new ClusterState());
  st->path_ = path;
  st->store_ = std::move(store).value();
  if (Status ls = st->load_caches(*st->store_); !ls.ok()) return ls;
  return st;
}

Status ClusterState::load_caches(const Store& st) {
  std::string value;
  core::Index applied = 0;
  auto s = st.db->Get(rocksdb::ReadOptions(), st.cf(StateFamily::Meta), kAppliedKey, &value);
  if (s.ok()) {
    applied = storage::decode_big_endian(value);
  } else if (!s.IsNotFound()) {
    return from_rocks(s, "cannot read the applied index");
  }
  Topology topology;
  s = st.db->Get(rocksdb::ReadOptions(), st.cf(StateFamily::Meta), kTopologyKey, &value);
  if (s.ok()) {
    auto o = parse_object(value);
    if (!o || !Topology::from_json(*o, &topology)) return Status::Corruption("the stored cluster topology is unreadable");
  } else if (!s.IsNotFound()) {
    return from_rocks(s, "cannot read the cluster topology");
  }
  std::map<std::string, std::shared_ptr<const DatabaseRecord>> records;
  std::unique_ptr<rocksdb::Iterator> it(st.db->NewIterator(rocksdb::ReadOptions(), st.cf(StateFamily::Databases)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto o = parse_object(it->value().ToStringView());
    DatabaseRecord r;
    if (!o || !DatabaseRecord::from_json(*o, &r)) {
      return Status::Corruption("the stored record of database '" + it->key().ToString() + "' is unreadable");
    }
    records[it->key().ToString()] = std::make_shared<const DatabaseRecord>(std::move(r));
  }
  if (!it->status().ok()) return from_rocks(it->status(), "cannot read the database records");
  std::map<std::string, std::shared_ptr<const CertificateRecord>> certificates;
  it.reset(st.db->NewIterator(rocksdb::ReadOptions(), st.cf(StateFamily::Certificates)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto o = parse_object(it->value().ToStringView());
    auto c = o ? CertificateRecord::from_json(*o) : Result<CertificateRecord>(Status::Corruption("not JSON"));
    if (!c.ok()) {
      return Status::Corruption("the stored certificate '" + it->key().ToString() +
                                "' is unreadable: " + c.status().message());
    }
    certificates[it->key().ToString()] = std::make_shared<const CertificateRecord>(std::move(c).value());
  }
  if (!it->status().ok()) return from_rocks(it->status(), "cannot read the certificates");
  std::unique_lock lock(mu_);
  applied_ = applied;
  topology_ = std::move(topology);
  topology_.applied = applied;
  records_ = std::move(records);
  certificates_ = std::move(certificates);
  return Status::Ok();
}

std::shared_ptr<const CertificateRecord> ClusterState::certificate(std::string_view thumbprint) const {
  const std::string key = upper(thumbprint);
  std::shared_lock lock(mu_);
  auto it = certificates_.find(key);
  return it == certificates_.end() ? nullptr : it->second;
}

std::shared_ptr<const CertificateRecord> ClusterState::certificate_by_key_hash(std::string_view hash) const {
  if (hash.empty()) return nullptr;
  std::shared_lock lock(mu_);
  // A linear scan: a cluster registers tens of certificates, not thousands.
  for (const auto& [k, c] : certificates_) {
    if (c->public_key_hash == hash) return c;
  }
  return nullptr;
}

std::vector<std::shared_ptr<const CertificateRecord>> ClusterState::certificates() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const CertificateRecord>> out;
  for (const auto& [k, c] : certificates_) out.push_back(c);
  return out;
}

std::vector<ClusterState::HubGrant> ClusterState::hub_grants(std::string_view thumbprint,
                                                             std::string_view public_key_hash) const {
  const std::string key = upper(thumbprint);
  std::vector<HubGrant> out;
  std::shared_lock lock(mu_);
  // A linear scan of the cached records, as for key hashes above: a few
  // databases with a few hubs each.
  for (const auto& [k, r] : records_) {
    for (const auto& a : r->hub_accesses) {
      if (upper(a.thumbprint) == key || (!public_key_hash.empty() && a.public_key_hash == public_key_hash)) {
        out.push_back(HubGrant{r->name, a});
      }
    }
  }
  return out;
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

std::shared_ptr<const DatabaseRecord> ClusterState::record(std::string_view database) const {
  const std::string key = storage::lower_id(database);
  std::shared_lock lock(mu_);
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const DatabaseRecord>> ClusterState::records() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const DatabaseRecord>> out;
  for (const auto& [k, r] : records_) out.push_back(r);
  return out;
}

Result<std::optional<CompareExchangeValue>> ClusterState::compare_exchange(std::string_view database,
                                                                           std::string_view key) const {
  const auto st = store();
  if (!st) return closed_error();
  std::string value;
  auto s = st->db->Get(rocksdb::ReadOptions(), st->cf(StateFamily::CompareExchange), db_key(database, key), &value);
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
  const auto st = store();
  if (!st) return closed_error();
  std::vector<CompareExchangeValue> out;
  const std::string seek = db_key(database, prefix);
  std::unique_ptr<rocksdb::Iterator> it(st->db->NewIterator(rocksdb::ReadOptions(), st->cf(StateFamily::CompareExchange)));
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

Result<std::uint64_t> ClusterState::count(StateFamily family, std::string_view database) const {
  const auto st = store();
  if (!st) return closed_error();
  const std::string seek = db_prefix(database);
  std::unique_ptr<rocksdb::Iterator> it(st->db->NewIterator(rocksdb::ReadOptions(), st->cf(family)));
  std::uint64_t n = 0;
  for (it->Seek(seek); it->Valid() && it->key().starts_with(seek); it->Next()) ++n;
  if (!it->status().ok()) return from_rocks(it->status(), "cannot count the cluster state of '" + std::string(database) + "'");
  return n;
}

Result<std::uint64_t> ClusterState::identity(std::string_view database, std::string_view prefix) const {
  const auto st = store();
  if (!st) return closed_error();
  std::string value;
  auto s = st->db->Get(rocksdb::ReadOptions(), st->cf(StateFamily::Identities), db_key(database, prefix), &value);
  if (s.IsNotFound()) return std::uint64_t{0};
  if (!s.ok()) return from_rocks(s, "cannot read identity '" + std::string(prefix) + "'");
  return static_cast<std::uint64_t>(std::stoull(value));
}

Result<std::map<std::string, std::uint64_t>> ClusterState::identities(std::string_view database) const {
  const auto st = store();
  if (!st) return closed_error();
  std::map<std::string, std::uint64_t> out;
  const std::string prefix = db_prefix(database);
  std::unique_ptr<rocksdb::Iterator> it(st->db->NewIterator(rocksdb::ReadOptions(), st->cf(StateFamily::Identities)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    out[it->key().ToString().substr(prefix.size())] = std::stoull(it->value().ToString());
  if (!it->status().ok()) return from_rocks(it->status(), "cannot read the identities of '" + std::string(database) + "'");
  return out;
}

Result<std::vector<ClusterTransactionRecord>> ClusterState::cluster_transactions(std::string_view database,
                                                                                 std::uint64_t after,
                                                                                 std::size_t limit) const {
  const auto st = store();
  if (!st) return closed_error();
  std::vector<ClusterTransactionRecord> out;
  const std::string prefix = db_prefix(database);
  std::unique_ptr<rocksdb::Iterator> it(st->db->NewIterator(rocksdb::ReadOptions(), st->cf(StateFamily::ClusterTx)));
  for (it->Seek(prefix + storage::encode_big_endian(after + 1)); it->Valid() && it->key().starts_with(prefix) && out.size() < limit;
       it->Next()) {
    ClusterTransactionRecord tx;
    tx.index = storage::decode_big_endian(it->key().ToStringView().substr(prefix.size()));
    tx.commands_json = it->value().ToString();
    out.push_back(std::move(tx));
  }
  if (!it->status().ok()) return from_rocks(it->status(), "cannot read cluster-wide transactions");
  return out;
}

Result<std::optional<std::string>> ClusterState::value(std::string_view key) const {
  const auto st = store();
  if (!st) return closed_error();
  std::string value;
  auto s = st->db->Get(rocksdb::ReadOptions(), st->cf(StateFamily::Values), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_rocks(s, "cannot read cluster value '" + std::string(key) + "'");
  return std::optional<std::string>(std::move(value));
}

Result<std::uint64_t> ClusterState::value_count() const {
  const auto st = store();
  if (!st) return closed_error();
  std::unique_ptr<rocksdb::Iterator> it(st->db->NewIterator(rocksdb::ReadOptions(), st->cf(StateFamily::Values)));
  std::uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  if (!it->status().ok()) return from_rocks(it->status(), "cannot count cluster values");
  return n;
}

Result<std::optional<SubscriptionRecord>> ClusterState::subscription(std::string_view database,
                                                                   std::string_view name) const {
  const auto st = store();
  if (!st) return closed_error();
  std::string value;
  auto s = st->db->Get(rocksdb::ReadOptions(), st->cf(StateFamily::Subscriptions), db_key(database, name), &value);
  if (s.IsNotFound()) return std::optional<SubscriptionRecord>();
  if (!s.ok()) return from_rocks(s, "cannot read subscription '" + std::string(name) + "'");
  auto o = parse_object(value);
  if (!o) return Status::Corruption("subscription '" + std::string(name) + "' is not JSON");
  auto r = SubscriptionRecord::from_json(*o);
  if (!r.ok()) return r.status();
  return std::optional<SubscriptionRecord>(std::move(r).value());
}

Result<std::vector<SubscriptionRecord>> ClusterState::subscriptions(std::string_view database) const {
  const auto st = store();
  if (!st) return closed_error();
  std::vector<SubscriptionRecord> out;
  const std::string prefix = db_prefix(database);
  std::unique_ptr<rocksdb::Iterator> it(st->db->NewIterator(rocksdb::ReadOptions(), st->cf(StateFamily::Subscriptions)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto o = parse_object(it->value().ToStringView());
    if (!o) return Status::Corruption("a subscription of '" + std::string(database) + "' is not JSON");
    auto r = SubscriptionRecord::from_json(*o);
    if (!r.ok()) return r.status();
    out.push_back(std::move(r).value());
  }
  if (!it->status().ok()) return from_rocks(it->status(), "cannot list the subscriptions of '" + std::string(database) + "'");
  return out;
}

Result<std::optional<std::string>> ClusterState::delivered_change_vector(std::string_view database,
                                                                         std::uint64_t subscription_id,
                                                                         std::string_view document_id) const {
  const auto st = store();
  if (!st) return closed_error();
  std::string value;
  auto s = st->db->Get(rocksdb::ReadOptions(), st->cf(StateFamily::SubscriptionDelivered),
                       delivered_prefix(database, subscription_id) + storage::lower_id(document_id), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_rocks(s, "cannot read the delivered version of '" + std::string(document_id) + "'");
  return std::optional<std::string>(std::move(value));
}

Result<std::uint64_t> ClusterState::delivered_count(std::string_view database, std::uint64_t subscription_id) const {
  const auto st = store();
  if (!st) return closed_error();
  const std::string prefix = delivered_prefix(database, subscription_id);
  std::unique_ptr<rocksdb::Iterator> it(
      st->db->NewIterator(rocksdb::ReadOptions(), st->cf(StateFamily::SubscriptionDelivered)));
  std::uint64_t n = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
  if (!it->status().ok()) return from_rocks(it->status(), "cannot count the delivered versions");
  return n;
}

// --- Batch ---

ClusterState::Batch::Batch(ClusterState& state)
    : store_(state.store()), batch_(std::make_unique<rocksdb::WriteBatch>()) {}
ClusterState::Batch::~Batch() = default;

void ClusterState::Batch::put_topology(const Topology& t) {
  batch_->Put(store_->cf(StateFamily::Meta), kTopologyKey, json::serialize(t.to_json())).PermitUncheckedError();
  topology_ = t;
}

void ClusterState::Batch::put_record(const DatabaseRecord& r) {
  const std::string key = storage::lower_id(r.name);
  batch_->Put(store_->cf(StateFamily::Databases), key, json::serialize(r.to_json())).PermitUncheckedError();
  records_[key] = r;
}

void ClusterState::Batch::delete_record(std::string_view database) {
  const std::string key = storage::lower_id(database);
  batch_->Delete(store_->cf(StateFamily::Databases), key).PermitUncheckedError();
  records_[key] = std::nullopt;
}

void ClusterState::Batch::put_compare_exchange(std::string_view database, const CompareExchangeValue& v) {
  batch_->Put(store_->cf(StateFamily::CompareExchange), db_key(database, v.key), encode_cmpxchg(v))
      .PermitUncheckedError();
}

void ClusterState::Batch::delete_compare_exchange(std::string_view database, std::string_view key) {
  batch_->Delete(store_->cf(StateFamily::CompareExchange), db_key(database, key)).PermitUncheckedError();
}

void ClusterState::Batch::put_identity(std::string_view database, std::string_view prefix, std::uint64_t value) {
  batch_->Put(store_->cf(StateFamily::Identities), db_key(database, prefix), encode_u64_text(value))
      .PermitUncheckedError();
}

void ClusterState::Batch::put_cluster_transaction(std::string_view database, const ClusterTransactionRecord& tx) {
  batch_->Put(store_->cf(StateFamily::ClusterTx), db_prefix(database) + storage::encode_big_endian(tx.index), tx.commands_json)
      .PermitUncheckedError();
}

void ClusterState::Batch::put_value(std::string_view key, std::string_view value) {
  batch_->Put(store_->cf(StateFamily::Values), key, value).PermitUncheckedError();
}

void ClusterState::Batch::put_certificate(const CertificateRecord& c) {
  const std::string key = upper(c.thumbprint);
  batch_->Put(store_->cf(StateFamily::Certificates), key, json::serialize(c.to_json())).PermitUncheckedError();
  certificates_[key] = c;
}

void ClusterState::Batch::delete_certificate(std::string_view thumbprint) {
  const std::string key = upper(thumbprint);
  batch_->Delete(store_->cf(StateFamily::Certificates), key).PermitUncheckedError();
  certificates_[key] = std::nullopt;
}

void ClusterState::Batch::put_subscription(std::string_view database, const SubscriptionRecord& r) {
  batch_->Put(store_->cf(StateFamily::Subscriptions), db_key(database, r.name), json::serialize(r.to_json()))
      .PermitUncheckedError();
}

void ClusterState::Batch::delete_subscription(std::string_view database, std::string_view name) {
  batch_->Delete(store_->cf(StateFamily::Subscriptions), db_key(database, name)).PermitUncheckedError();
}

void ClusterState::Batch::put_delivered(std::string_view database, std::uint64_t subscription_id,
                                        std::string_view document_id, std::string_view change_vector) {
  batch_->Put(store_->cf(StateFamily::SubscriptionDelivered),
              delivered_prefix(database, subscription_id) + storage::lower_id(document_id), change_vector)
      .PermitUncheckedError();
}

Status ClusterState::Batch::delete_delivered(std::string_view database, std::uint64_t subscription_id) {
  // The id's range: the next id bounds it (ids are Raft indexes, never ~0).
  auto s = batch_->DeleteRange(store_->cf(StateFamily::SubscriptionDelivered), delivered_prefix(database, subscription_id),
                               delivered_prefix(database, subscription_id + 1));
  return from_rocks(s, "cannot delete the delivered versions of a subscription of '" + std::string(database) + "'");
}

Status ClusterState::Batch::delete_database_data(std::string_view database) {
  // A range per family: the prefix "name\0" up to "name\1".
  std::string begin = db_prefix(database);
  std::string end = begin;
  end.back() = '\1';
  for (StateFamily f : {StateFamily::CompareExchange, StateFamily::Identities, StateFamily::ClusterTx,
                        StateFamily::Subscriptions, StateFamily::SubscriptionDelivered}) {
    auto s = batch_->DeleteRange(store_->cf(f), begin, end);
    if (!s.ok()) return from_rocks(s, "cannot delete the cluster data of database '" + std::string(database) + "'");
  }
  return Status::Ok();
}

Status ClusterState::commit(Batch& batch, core::Index index) {
  const auto st = store();
  if (!st) return closed_error();
  if (batch.store_ != st) return Status::Internal("a cluster state batch outlived a snapshot install");
  batch.batch_->Put(st->cf(StateFamily::Meta), kAppliedKey, storage::encode_big_endian(index)).PermitUncheckedError();
  rocksdb::WriteOptions wo;
  wo.sync = false;
  auto s = st->db->Write(wo, batch.batch_.get());
  if (!s.ok()) return from_rocks(s, "cannot write the cluster state");
  std::unique_lock lock(mu_);
  applied_ = index;
  if (batch.topology_) topology_ = *batch.topology_;
  topology_.applied = index;
  for (auto& [key, r] : batch.records_) {
    if (r) {
      records_[key] = std::make_shared<const DatabaseRecord>(*r);
    } else {
      records_.erase(key);
    }
  }
  for (auto& [key, c] : batch.certificates_) {
    if (c) {
      certificates_[key] = std::make_shared<const CertificateRecord>(*c);
    } else {
      certificates_.erase(key);
    }
  }
  return Status::Ok();
}

Status ClusterState::sync_wal() {
  const auto st = store();
  if (!st) return closed_error();
  return from_rocks(st->db->SyncWAL(), "cannot sync the cluster state");
}

Status ClusterState::clear() {
  const auto st = store();
  if (!st) return closed_error();
  rocksdb::WriteBatch batch;
  for (int f = 0; f < kStateFamilies; ++f) {
    // Everything but the format marker; "\xff..." bounds every key we write.
    auto s = batch.DeleteRange(st->handles[f], "", std::string(64, '\xff'));
    if (!s.ok()) return from_rocks(s, "cannot clear the cluster state");
  }
  batch.Put(st->cf(StateFamily::Meta), kFormatKey, kFormat).PermitUncheckedError();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto s = st->db->Write(wo, &batch);
  if (!s.ok()) return from_rocks(s, "cannot clear the cluster state");
  std::unique_lock lock(mu_);
  applied_ = 0;
  topology_ = Topology{};
  records_.clear();
  certificates_.clear();
  return Status::Ok();
}

// --- snapshots: the sending side ---

struct ClusterState::SnapshotReader::View {
  std::shared_ptr<Store> store;
  const rocksdb::Snapshot* snapshot = nullptr;
  rocksdb::ReadOptions ro;
  int family = 0;                          // the family being read
  std::unique_ptr<rocksdb::Iterator> it;   // over `family`; null before it starts

  ~View() {
    it.reset();
    if (snapshot) store->db->ReleaseSnapshot(snapshot);
  }
};

ClusterState::SnapshotReader::SnapshotReader(std::unique_ptr<View> view) : view_(std::move(view)) {}
ClusterState::SnapshotReader::~SnapshotReader() = default;

Result<std::unique_ptr<ClusterState::SnapshotReader>> ClusterState::read_snapshot() const {
  auto st = store();
  if (!st) return closed_error();
  auto view = std::make_unique<SnapshotReader::View>();
  view->store = st;
  // One RocksDB snapshot for every family: the stream is the state at one applied index.
  view->snapshot = st->db->GetSnapshot();
  view->ro.snapshot = view->snapshot;
  view->ro.fill_cache = false;  // a one-off scan; keep the cache for the hot keys
  std::string value;
  auto s = st->db->Get(view->ro, st->cf(StateFamily::Meta), kAppliedKey, &value);
  if (!s.ok() && !s.IsNotFound()) return from_rocks(s, "cannot read the applied index for a snapshot");
  std::unique_ptr<SnapshotReader> reader(new SnapshotReader(std::move(view)));
  reader->applied_ = s.ok() ? storage::decode_big_endian(value) : 0;
  return reader;
}

Status ClusterState::SnapshotReader::next(std::string* chunk) {
  chunk->clear();
  View& v = *view_;
  BufWriter w;
  w.str().reserve(kSnapshotChunkBytes + 4096);
  w.u8(kSnapshotVersion);
  std::uint64_t records = 0;
  while (v.family < kStateFamilies) {
    if (!v.it) {
      v.it.reset(v.store->db->NewIterator(v.ro, v.store->handles[v.family]));
      v.it->SeekToFirst();
    }
    for (; v.it->Valid() && w.str().size() < kSnapshotChunkBytes; v.it->Next()) {
      if (v.family == static_cast<int>(StateFamily::Meta) &&
          (v.it->key() == kAppliedKey || v.it->key() == kFormatKey)) {
        continue;
      }
      w.u8(static_cast<std::uint8_t>(v.family));
      w.bytes(v.it->key().ToStringView());
      w.bytes(v.it->value().ToStringView());
      ++records;
    }
    if (v.it->Valid()) break;  // the chunk is full
    if (!v.it->status().ok()) return from_rocks(v.it->status(), "cannot read the cluster state for a snapshot");
    v.it.reset();
    ++v.family;
  }
  if (records == 0) return Status::Ok();  // the end: an empty chunk
  records_ += records;
  *chunk = std::move(w.str());
  return Status::Ok();
}

std::string ClusterState::SnapshotReader::trailer() const {
  BufWriter w;
  w.u8(kSnapshotVersion);
  w.u64(applied_);
  w.u64(records_);
  return std::move(w.str());
}

// --- snapshots: the receiving side ---

ClusterState::StagedSnapshot::StagedSnapshot(std::string path, std::shared_ptr<Store> store)
    : path_(std::move(path)), store_(std::move(store)) {}

ClusterState::StagedSnapshot::~StagedSnapshot() {
  if (installed_) return;
  store_.reset();
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);  // open() retries a failed delete
}

Result<std::unique_ptr<ClusterState::StagedSnapshot>> ClusterState::stage_snapshot() {
  const std::string path = path_ + ".incoming";
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return Status::IOError("cannot delete " + path + ": " + ec.message());
  auto st = open_store(path);
  if (!st.ok()) return st.status();
  return std::unique_ptr<StagedSnapshot>(new StagedSnapshot(path, std::move(st).value()));
}

Status ClusterState::StagedSnapshot::add(std::string_view chunk) {
  if (!store_) return Status::InvalidArgument("the staged cluster snapshot is already finished");
  BufReader r(chunk);
  std::uint8_t version = 0;
  if (!r.u8(&version) || version != kSnapshotVersion) {
    return Status::Corruption("a cluster snapshot chunk has an unknown format version");
  }
  rocksdb::WriteBatch batch;
  std::string key, value;
  while (!r.done()) {
    std::uint8_t family = 0;
    if (!r.u8(&family) || family >= kStateFamilies || !r.bytes(&key) || !r.bytes(&value)) {
      return Status::Corruption("a cluster snapshot chunk has a malformed record");
    }
    batch.Put(store_->handles[family], key, value).PermitUncheckedError();
    ++records_;
  }
  // Unlogged: finish() flushes everything, and a crash before that throws the
  // staging directory away anyway.
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  return from_rocks(store_->db->Write(wo, &batch), "cannot write the staged cluster snapshot");
}

Status ClusterState::StagedSnapshot::finish(std::string_view trailer) {
  if (!store_) return Status::InvalidArgument("the staged cluster snapshot is already finished");
  BufReader r(trailer);
  std::uint8_t version = 0;
  std::uint64_t applied = 0, records = 0;
  if (!r.u8(&version) || version != kSnapshotVersion || !r.u64(&applied) || !r.u64(&records) || !r.done()) {
    return Status::Corruption("the cluster snapshot trailer is malformed");
  }
  if (records != records_) {
    return Status::Corruption("the cluster snapshot announced " + std::to_string(records) + " records but " +
                              std::to_string(records_) + " arrived");
  }
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  auto s = store_->db->Put(wo, store_->cf(StateFamily::Meta), kAppliedKey, storage::encode_big_endian(applied));
  if (!s.ok()) return from_rocks(s, "cannot write the staged cluster snapshot");
  rocksdb::FlushOptions fo;
  fo.wait = true;
  s = store_->db->Flush(fo, std::vector<rocksdb::ColumnFamilyHandle*>(store_->handles));
  if (!s.ok()) return from_rocks(s, "cannot flush the staged cluster snapshot");
  if (Status c = store_->close(); !c.ok()) return c;
  store_.reset();
  applied_ = applied;
  finished_ = true;
  return Status::Ok();
}

Status ClusterState::install(std::unique_ptr<StagedSnapshot> staged) {
  namespace fs = std::filesystem;
  if (!staged || !staged->finished_ || staged->path_ != path_ + ".incoming") {
    return Status::InvalidArgument("only a finished snapshot staged by this cluster state can be installed");
  }
  const fs::path current(path_), old(path_ + ".old");
  std::error_code ec;
  {
    // New readers wait here; readers of the current instance must be done
    // before its directory moves (RocksDB keeps writing files by path): the
    // last one to drop it closes it.
    std::unique_lock lock(store_mu_);
    if (!store_) return closed_error();
    const std::shared_ptr<ClosedSignal> closed = store_->closed;
    const std::weak_ptr<Store> current_store = store_;
    store_.reset();
    {
      std::unique_lock wait(closed->mu);
      if (!closed->cv.wait_for(wait, kInstallReaderWait, [&] { return closed->closed; })) {
        store_ = current_store.lock();
        if (store_) return Status::Busy("readers kept the cluster state open; the snapshot will be installed later");
        closed->cv.wait(wait, [&] { return closed->closed; });  // its last reader is closing it right now
      }
    }
    fs::rename(current, old, ec);
    if (ec) {
      // Nothing moved: carry on with the old state.
      auto reopened = open_store(path_);
      if (!reopened.ok()) return reopened.status();
      store_ = std::move(reopened).value();
      return Status::IOError("cannot move the cluster state aside: " + ec.message());
    }
    fs::rename(staged->path_, current, ec);
    if (ec) return Status::IOError("cannot move the received cluster snapshot in place: " + ec.message());
    if (Status s = sync_dir(current.parent_path().empty() ? fs::path(".") : current.parent_path()); !s.ok()) return s;
    auto opened = open_store(path_);
    if (!opened.ok()) return opened.status();
    // The caches switch before the store is published: no reader sees the new
    // values with the old topology.
    if (Status s = load_caches(**opened); !s.ok()) return s;
    store_ = std::move(opened).value();
  }
  staged->installed_ = true;
  fs::remove_all(old, ec);  // open() retries a failed delete
  return Status::Ok();
}

}  // namespace corvus::rachis::cluster
