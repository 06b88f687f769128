#pragma once
// SinkReplication: one pull replication sink definition at work on the node
// that runs it. It always dials out (so a sink behind NAT works): hub to
// sink, a thread opens a connection to the hub (HubConnector: TLS with the
// sink's certificate, failover across the hub's nodes) and applies what the
// hub streams with an IncomingReplication, which keeps the hub's position in
// this database with the items, so a sink that was away resumes where it
// stopped; when the connection ends it redials with back-off (50 ms doubling
// to 5 s). Sink to hub, an OutgoingReplication registered with the database's
// DatabaseReplication pushes this database's writes up over connections
// HubConnector opens; the hub keeps the sink's position.
//
// Owned by a SinkSet; stop() (or the destructor) before the storage closes.
// Thread-safety: stop() from any thread.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "rachis/cluster/pull_replication_config.h"
#include "replication/database_replication.h"
#include "server/pull_replication/hub_connector.h"
#include "storage/documents_storage.h"

namespace corvus::server::pull_replication {

class SinkReplication {
 public:
  SinkReplication(storage::DocumentsStorage& storage, std::shared_ptr<replication::DatabaseReplication> replication,
                  replication::ReplicationIdentity identity, rachis::cluster::SinkDefinition definition,
                  HubTarget target, std::string own_url);
  ~SinkReplication();
  SinkReplication(const SinkReplication&) = delete;
  SinkReplication& operator=(const SinkReplication&) = delete;

  void stop();
  // The hub-to-sink connection is up (for a sink-to-hub only sink: the push is).
  bool connected() const;
  // The hub node it last connected to.
  std::string hub_url() const { return connector_->last_url(); }

 private:
  void pull_loop();
  void log(const char* level, const std::string& message) const;

  storage::DocumentsStorage& storage_;
  const std::shared_ptr<replication::DatabaseReplication> replication_;
  const replication::ReplicationIdentity identity_;
  const rachis::cluster::SinkDefinition definition_;
  const std::shared_ptr<HubConnector> connector_;
  const std::string push_key_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::unique_ptr<replication::IncomingReplication> current_;  // mu_
  std::thread puller_;
};

}  // namespace corvus::server::pull_replication
