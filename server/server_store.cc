#include "server/server_store.h"


#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <rocksdb/cache.h>
#include <rocksdb/rate_limiter.h>

#include "server/cluster/replication_acceptor.h"
#include "storage/random_ids.h"

namespace corvus::server {
namespace fs = std::filesystem;

namespace {

// A quarter of the machine's memory (RavenDB and PostgreSQL both count on
// the operating system for the rest), at least 64 MiB.
size_t default_cache_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  const size_t quarter = pages > 0 && page_size > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page_size) / 4 : 0;
  return std::max<size_t>(quarter, size_t{64} << 20);
}

// The node's block cache, shared by its databases and their indexes. A
// HyperClockCache: lookups take no lock and touch one slot, where the LRU
// cache's took a shard mutex and walked a hash chain and the LRU list (~15%
// of corvusd's CPU in bench/query_bench.sh's equality query; 7-9% less CPU
// per query with it, bench/README.md). Its slot table is sized up front from
// the capacity and an entry estimate (8 KB: data blocks are 4 KB, so the
// capacity fills before the table does): ~20 MB per GB of cache.
std::shared_ptr<rocksdb::Cache> make_block_cache(size_t bytes) {
  return rocksdb::HyperClockCacheOptions(bytes, 8 << 10).MakeSharedCache();
}

// The node's bound on flush and compaction writes, shared by its databases
// (null when unbounded). Refilled every 20 ms rather than RocksDB's default
// 100 ms, so a flush writes in small steps instead of 100 ms worth at once.
std::shared_ptr<rocksdb::RateLimiter> make_background_write_limiter(size_t bytes_per_second) {
  if (bytes_per_second == 0) return nullptr;
  return std::shared_ptr<rocksdb::RateLimiter>(rocksdb::NewGenericRateLimiter(
      static_cast<int64_t>(bytes_per_second), 20'000, 10, rocksdb::RateLimiter::Mode::kWritesOnly));
}

}  // namespace

Result<std::unique_ptr<ServerStore>> ServerStore::open(const ServerOptions& options) {
  std::unique_ptr<ServerStore> store(new ServerStore());
  store->options_ = options;
  store->public_url_ = options.public_server_url.empty() ? options.server_url : options.public_server_url;
  while (!store->public_url_.empty() && store->public_url_.back() == '/') store->public_url_.pop_back();

  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  if (ec) {
    return Status::IOError("data directory " + options.data_dir + " cannot be created: " + ec.message());
  }
  if (Status s = store->lock_data_dir(); !s.ok()) return s;
  if (Status s = store->load_or_create_identity(); !s.ok()) return s;
  auto cluster = cluster::ClusterManager::open(options, store->topology_id_, store->public_url_,
                                               options.node_tag_hint.empty() ? store->node_tag_ : options.node_tag_hint);
  if (!cluster.ok()) return cluster.status();
  store->cluster_ = std::move(cluster).value();

  storage::StorageOptions storage_options;
  storage_options.block_cache = make_block_cache(options.cache_bytes > 0 ? options.cache_bytes : default_cache_bytes());
  storage_options.background_write_limiter = make_background_write_limiter(options.background_write_bytes_per_second);
  // A request's I/O thread may block for its own sync only when another I/O
  // thread keeps reading the other connections meanwhile.
  storage_options.write_on_caller_when_idle = options.threads > 1;
  store->databases_ = std::make_unique<DatabasesLandlord>(options.data_dir, std::move(storage_options));
  // Databases open with the tag the cluster gave this node when their record
  // names it (also after the node joined another cluster).
  store->cluster_->set_channel_handler([raw = store.get()](char kind, std::string payload,
                                                          rachis::ChannelConnection connection) {
    cluster::accept_replication_connection(*raw->cluster_, *raw->databases_, kind, std::move(payload), connection);
  });
  // This node's certificate as a TLS client (the context node-to-node TLS
  // uses, which accepts any server certificate: HubConnector pins it):
  // external replication presents it to the other clusters it pushes to.
  std::shared_ptr<SSL_CTX> node_tls;
  if (const cluster::NodeTls* tls = store->cluster_->tls()) {
    SSL_CTX_up_ref(tls->native());
    node_tls = std::shared_ptr<SSL_CTX>(tls->native(), &SSL_CTX_free);
  }
  store->observer_ = std::make_unique<cluster::DatabasesObserver>(*store->cluster_, *store->databases_, node_tls);
  store->observer_->start();
  store->changes_notifier_ = std::make_unique<cluster::ChangesNotifier>(*store->cluster_, *store->databases_,
                                                                        store->server_changes_, store->public_url_);
  store->changes_notifier_->start();
  store->cluster_->start_feed();
  store->supervisor_ = std::make_unique<cluster::DatabaseSupervisor>(
      *store->cluster_, std::chrono::seconds(options.database_rehab_grace_seconds));
  store->supervisor_->start();
  store->register_storage_metrics();
  store->register_replication_metrics();
  store->register_cluster_metrics();
  return store;
}

ServerStore::~ServerStore() { close(); }

void ServerStore::close() {
  if (supervisor_) supervisor_->stop();
  if (observer_) observer_->stop();
  if (cluster_) cluster_->close();  // the applied feed stops: nothing more is published
  if (server_changes_) server_changes_->stop("The server is closing");
  if (databases_) databases_->close_all();
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
}

Status ServerStore::lock_data_dir() {
  const std::string path = (fs::path(options_.data_dir) / "corvusd.lock").string();
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return Status::IOError("data directory " + options_.data_dir + " is not writable (cannot create " + path + ")");
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::IOError("data directory " + options_.data_dir +
                           " is in use by another corvusd process (lock " + path + " is held)");
  }
  return Status::Ok();
}

Status ServerStore::load_or_create_identity() {
  const fs::path path = fs::path(options_.data_dir) / "server.json";
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    auto v = boost::json::parse(ss.str(), ec);
    if (ec || !v.is_object()) return Status::Corruption(path.string() + " is not valid JSON");
    auto& o = v.as_object();
    if (auto* id = o.if_contains("ServerId"); id && id->is_string()) server_id_ = std::string(id->as_string());
    if (auto* t = o.if_contains("TopologyId"); t && t->is_string()) topology_id_ = std::string(t->as_string());
    if (auto* tag = o.if_contains("NodeTag"); tag && tag->is_string()) node_tag_ = std::string(tag->as_string());
    if (server_id_.empty() || topology_id_.empty()) return Status::Corruption(path.string() + " lacks ids");
    return Status::Ok();
  }
  server_id_ = storage::new_guid();
  topology_id_ = storage::new_guid();
  boost::json::object o{{"ServerId", server_id_}, {"TopologyId", topology_id_}, {"NodeTag", node_tag_}};
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << boost::json::serialize(o);
    if (!out) return Status::IOError("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IOError("cannot write " + path.string() + ": " + ec.message());
  return Status::Ok();
}

void ServerStore::register_cluster_metrics() {
  metrics_.add_collector([this](metrics::CollectorWriter& w) {
    if (!cluster_) return;
    const auto v = cluster_->node().view();
    const metrics::Labels labels{{"node_tag", node_tag()}};
    w.gauge("corvus_rachis_term", "Current Raft term", labels, static_cast<double>(v.term));
    w.gauge("corvus_rachis_commit_index", "Raft commit index", labels, static_cast<double>(v.commit));
    w.gauge("corvus_rachis_applied_index", "Index applied to the cluster state machine", labels,
            static_cast<double>(v.applied));
    w.gauge("corvus_rachis_is_leader", "1 when this node leads the cluster", labels,
            v.role == rachis::core::Role::Leader ? 1.0 : 0.0);
    w.gauge("corvus_rachis_members", "Nodes in the cluster topology", labels,
            static_cast<double>(cluster_->node().state().topology().nodes.size()));
    w.counter("corvus_rachis_log_syncs_total", "Synced writes of the Raft log (one per Ready)", labels,
              static_cast<double>(cluster_->node().sync_count()));
  });
}

void ServerStore::register_replication_metrics() {
  metrics_.add_collector([this](metrics::CollectorWriter& w) {
    for (const auto& db : databases_->all()) {
      auto replication = db->replication();
      if (!replication) continue;
      for (const auto& lag : replication->lag()) {
        const metrics::Labels labels{{"database", db->name()}, {"destination", lag.tag}};
        w.gauge("corvus_replication_lag_etags", "This node's last etag minus what the destination acknowledged",
                labels, static_cast<double>(lag.etags));
        w.gauge("corvus_replication_lag_seconds",
                "Age of the oldest commit the destination has not acknowledged (0 when it has everything)", labels,
                lag.ms / 1000.0);
        w.gauge("corvus_replication_connected", "1 while the outgoing replication connection is up", labels,
                lag.connected ? 1.0 : 0.0);
      }
    }
  });
}

void ServerStore::register_storage_metrics() {
  // Writes per WAL sync over the interval since the previous scrape, so the
  // figure reflects current load rather than the lifetime average.
  struct Previous {
    uint64_t batches = 0;
    uint64_t transactions = 0;
  };
  auto previous = std::make_shared<std::pair<std::mutex, std::map<std::string, Previous>>>();
  metrics_.add_collector([this, previous](metrics::CollectorWriter& w) {
    for (const auto& db : databases_->all()) {
      const auto& storage = db->storage();
      const auto stats = storage.stats();
      const auto& merger = storage.merger_stats();
      const metrics::Labels labels{{"database", db->name()}};
      const uint64_t batches = merger.batches.load();
      const uint64_t transactions = merger.transactions.load();
      w.gauge("corvus_documents", "Documents in the database", labels, static_cast<double>(stats.document_count));
      w.gauge("corvus_tombstones", "Tombstones in the database", labels, static_cast<double>(stats.tombstone_count));
      w.gauge("corvus_last_etag", "Last etag of the database", labels, static_cast<double>(stats.last_etag));
      w.gauge("corvus_storage_size_bytes", "RocksDB SST files plus memtables", labels,
              static_cast<double>(stats.size_bytes));
      w.counter("corvus_txmerger_batches_total", "Merged write batches (one WAL sync each)", labels,
                static_cast<double>(batches));
      w.counter("corvus_txmerger_transactions_total", "Transactions completed by the merger", labels,
                static_cast<double>(transactions));
      w.counter("corvus_txmerger_apply_seconds_total", "Writer time spent running transactions", labels,
                static_cast<double>(merger.apply_micros.load()) / 1e6);
      w.counter("corvus_txmerger_write_seconds_total", "Writer time spent writing and syncing batches", labels,
                static_cast<double>(merger.write_micros.load()) / 1e6);
      w.gauge("corvus_txmerger_last_batch_size", "Transactions in the most recent batch", labels,
              static_cast<double>(merger.last_batch_size.load()));
      double per_sync = 0;
      {
        std::lock_guard lock(previous->first);
        Previous& p = previous->second[db->name()];
        if (batches > p.batches) per_sync = double(transactions - p.transactions) / double(batches - p.batches);
        p = {batches, transactions};
      }
      w.gauge("corvus_txmerger_writes_per_sync", "Transactions per WAL sync since the previous scrape", labels,
              per_sync);
      uint64_t cumulative = 0;
      for (int i = 0; i < storage::MergerStats::kBuckets; ++i) {
        cumulative += merger.batch_size_buckets[i].load();
        w.counter("corvus_txmerger_batch_size_le_total",
                  "Batches with at most `le` transactions (cumulative buckets)",
                  {{"database", db->name()}, {"le", std::to_string(1u << i)}}, static_cast<double>(cumulative));
      }
    }
  });
}

void ServerStore::set_tcp_url(std::string url) {
  std::lock_guard lock(tcp_url_mu_);
  tcp_url_ = std::move(url);
}

void ServerStore::set_tcp_certificate(std::string base64) {
  std::lock_guard lock(tcp_url_mu_);
  tcp_certificate_ = std::move(base64);
}

std::string ServerStore::tcp_certificate() const {
  std::lock_guard lock(tcp_url_mu_);
  return tcp_certificate_;
}

std::string ServerStore::tcp_url() const {
  std::lock_guard lock(tcp_url_mu_);
  return tcp_url_;
}

void ServerStore::set_security(security::SecurityOptions options) {
  auto shared = std::make_shared<const security::SecurityOptions>(std::move(options));
  std::lock_guard lock(security_mu_);
  security_ = std::move(shared);
}

std::shared_ptr<const security::SecurityOptions> ServerStore::security() const {
  std::lock_guard lock(security_mu_);
  return security_;
}

}  // namespace corvus::server
