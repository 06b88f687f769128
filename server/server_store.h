#pragma once
// ServerStore: everything one corvusd node owns: its options and identity
// (server id, node tag, topology id), the exclusive lock on its data
// directory, the databases, and the metrics registry. Built once in main(),
// outlives the HTTP server, closed last. Thread-safe after open().

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "server/changes/changes_feed.h"
#include "server/cluster/changes_notifier.h"
#include "server/cluster/cluster_manager.h"
#include "server/cluster/database_supervisor.h"
#include "server/cluster/databases_observer.h"
#include "server/databases_landlord.h"
#include "server/metrics/registry.h"
#include "server/options/server_options.h"
#include "server/security/access_policy.h"
#include "server/subscriptions/subscription_connections.h"
#include "storage/status.h"

namespace corvus::server {

class ServerStore {
 public:
  // Locks the data directory (IOError naming the other holder's directory if
  // it is in use), loads or creates the node identity, joins the cluster state
  // and opens the databases whose records name this node.
  static Result<std::unique_ptr<ServerStore>> open(const ServerOptions& options);
  ~ServerStore();

  const ServerOptions& options() const { return options_; }
  DatabasesLandlord& databases() { return *databases_; }
  metrics::Registry& metrics() { return metrics_; }

  // This node's tag and cluster (topology) id, as the cluster knows them now
  // (a node that joined another cluster takes the tag that cluster gave it).
  std::string node_tag() const { return cluster_ ? cluster_->node_tag(node_tag_) : node_tag_; }
  const std::string& server_id() const { return server_id_; }
  std::string topology_id() const { return cluster_ ? cluster_->topology_id() : topology_id_; }
  cluster::ClusterManager& cluster() { return *cluster_; }
  // The URL clients should use for this node (--public-server-url, else --server-url).
  const std::string& public_url() const { return public_url_; }

  // Whether requests are authorized (a secured server) and which certificates
  // are ClusterAdmin without registration. main() sets it before the HTTP
  // server starts (the TLS layer knows the server certificate); until then
  // the server is unsecured and allows everything.
  void set_security(security::SecurityOptions options);
  std::shared_ptr<const security::SecurityOptions> security() const;

  // The data subscription workers connected to this node (TCP listener).
  subscriptions::SubscriptionConnections& subscription_connections() { return subscription_connections_; }
  // The URL of the TCP listener as clients should dial it ("tcp://host:port"),
  // set by main() once it listens; empty while there is none.
  void set_tcp_url(std::string url);
  std::string tcp_url() const;
  // Base64 DER of the TCP listener's TLS certificate (/info/tcp's
  // Certificate); empty without TLS. Set by main() with the URL.
  void set_tcp_certificate(std::string base64);
  std::string tcp_certificate() const;

  // The server-wide Changes API feed (GET /changes): database and topology changes.
  std::shared_ptr<changes::ChangesFeed> server_changes() { return server_changes_; }

  // Closes the databases (draining their writers) and releases the lock.
  void close();

 private:
  ServerStore() = default;
  Status lock_data_dir();
  Status load_or_create_identity();
  void register_storage_metrics();
  void register_replication_metrics();
  void register_cluster_metrics();

  ServerOptions options_;
  std::string node_tag_ = "A";
  std::string server_id_;
  std::string topology_id_;
  std::string public_url_;
  int lock_fd_ = -1;
  metrics::Registry metrics_;
  std::unique_ptr<DatabasesLandlord> databases_;
  std::unique_ptr<cluster::ClusterManager> cluster_;
  std::unique_ptr<cluster::DatabasesObserver> observer_;
  std::shared_ptr<changes::ChangesFeed> server_changes_ = std::make_shared<changes::ChangesFeed>();
  std::unique_ptr<cluster::ChangesNotifier> changes_notifier_;
  std::unique_ptr<cluster::DatabaseSupervisor> supervisor_;
  subscriptions::SubscriptionConnections subscription_connections_;
  mutable std::mutex tcp_url_mu_;
  std::string tcp_url_;
  std::string tcp_certificate_;
  mutable std::mutex security_mu_;
  std::shared_ptr<const security::SecurityOptions> security_ = std::make_shared<const security::SecurityOptions>();
};

}  // namespace corvus::server
