#pragma once
// IncomingReplication: one accepted connection of another member pushing a
// database to us. It answers the handshake with our position for the
// source's database id (kept in storage with the items, so a batch is applied
// exactly once across crashes) and our database change vector, then takes
// batch after batch: receives the attachment bytes we lack into the blob
// store, applies the items and the new position in one transaction, and
// acknowledges once that is durable. Heartbeats while idle or applying.
//
// Owned by DatabaseReplication. Runs on its own thread; stop() from any thread.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "replication/frame_socket.h"
#include "replication/messages.h"
#include "replication/outgoing_replication.h"
#include "replication/replication_stats.h"
#include "storage/documents_storage.h"
#include "storage/replicated_writes.h"

namespace corvus::replication {

class IncomingReplication {
 public:
  using PolicyFn = std::function<storage::ConflictPolicy()>;
  // Told, before a batch is applied, the items the source sent: our outgoing
  // connection to it need not send them back.
  using SourceSent = std::function<void(const std::string& source_tag, const std::vector<storage::ReplicationItem>&)>;
  // Only items for which this is true are applied (pull replication: the
  // ids a sink may send up); the others are dropped, the position still
  // moves past them. Empty: everything.
  using ItemFilter = std::function<bool(const storage::ReplicationItem&)>;
  IncomingReplication(storage::DocumentsStorage& storage, ReplicationIdentity identity, PolicyFn policy,
                      SourceSent source_sent, std::unique_ptr<FrameSocket> socket, Handshake handshake,
                      ItemFilter filter = nullptr, std::function<Status()> permitted = nullptr);
  ~IncomingReplication();
  IncomingReplication(const IncomingReplication&) = delete;
  IncomingReplication& operator=(const IncomingReplication&) = delete;

  IncomingStatus status() const;
  const Handshake& handshake() const { return handshake_; }
  bool finished() const { return finished_; }
  // Closes the connection and joins the thread.
  void stop();

 private:
  void run();
  Status serve();
  Status receive_batch(const BatchHeader& header);
  // Receives the X frames of one attachment into the blob store.
  Result<std::unique_ptr<storage::BlobStore::Pin>> receive_attachment(const std::string& hash, uint64_t* bytes);
  Result<Frame> next_frame();
  Position position() const;
  void log(const char* level, const std::string& message) const;

  storage::DocumentsStorage& storage_;
  const ReplicationIdentity identity_;
  const PolicyFn policy_;
  const SourceSent source_sent_;
  const ItemFilter filter_;
  // Asked before each batch: a refusal ends the connection (told to the source).
  const std::function<Status()> permitted_;
  std::unique_ptr<FrameSocket> socket_;
  const Handshake handshake_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};
  mutable std::mutex status_mu_;
  IncomingStatus status_;
  std::thread thread_;
};

}  // namespace corvus::replication
