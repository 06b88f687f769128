#pragma once
// ExternalReplicationSet: the external replication tasks one database runs
// on this node (the node the DatabasesObserver chose for each), kept in step
// with its record (set()): a task whose definition, connection string or
// certificate changed is restarted, a removed or disabled one stopped, a new
// one started. A task is an OutgoingReplication registered with the
// database's DatabaseReplication under "external:<task id>" (so its
// acknowledged position holds back tombstone purges): it dials the other
// cluster's TCP listener through a HubConnector (the connection string's
// URLs in turn, TLS with this node's certificate when they are https),
// negotiates the "ExternalReplication" operation
// (external_replication_tcp_handler.h) and pushes everything of the
// database from the position the destination keeps for it, with
// DelayReplicationFor holding back what is younger (delay_window.h).
//
// Owned by the DocumentDatabase; stop() before its replication stops.
// Thread-safety: set(), state() and stop() from any thread (one mutex).

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "rachis/cluster/external_replication_config.h"
#include "rachis/cluster/pull_replication_config.h"
#include "replication/database_replication.h"
#include "server/pull_replication/hub_connector.h"
#include "storage/documents_storage.h"

namespace corvus::server::external_replication {

inline constexpr std::string_view kExternalReplicationOperation = "ExternalReplication";
inline constexpr std::int64_t kExternalReplicationVersion = 1;

struct ExternalSpec {
  rachis::cluster::ExternalReplicationDefinition definition;
  rachis::cluster::RavenConnectionString connection_string;
  std::string own_url;           // this node's URL, told to the destination
  std::shared_ptr<SSL_CTX> tls;  // this node's certificate; null on an unsecured node
};

struct ExternalState {
  bool connected = false;
  std::string destination_url;  // the node it last connected to
  std::string last_error;       // why the last connection failed ("" while it works)
};

class ExternalReplicationSet {
 public:
  ExternalReplicationSet(storage::DocumentsStorage& storage, replication::ReplicationIdentity identity);
  ~ExternalReplicationSet();

  // The tasks to run now (an empty list stops them all).
  void set(const std::shared_ptr<replication::DatabaseReplication>& replication,
           const std::vector<ExternalSpec>& tasks);
  void stop();
  // Forgets the stored positions of tasks the record no longer has (`existing`:
  // the task ids it has, disabled ones included), so a deleted task stops
  // holding back tombstone purges. Call after set(): a running task's
  // position is never removed.
  Status forget_deleted(const std::set<std::uint64_t>& existing);
  // nullopt when this node does not run task `task_id`.
  std::optional<ExternalState> state(std::uint64_t task_id);

  // The task's key among the database's replication positions.
  static std::string key_of(std::uint64_t task_id);

 private:
  struct Running {
    std::string fingerprint;  // definition + connection string + certificate, as text
    std::shared_ptr<pull_replication::HubConnector> connector;
    std::shared_ptr<replication::DatabaseReplication> replication;
  };

  storage::DocumentsStorage& storage_;
  const replication::ReplicationIdentity identity_;
  std::mutex mu_;
  std::map<std::uint64_t, Running> running_;  // by task id
};

}  // namespace corvus::server::external_replication
