#pragma once
// OutgoingReplication: this node's push of one database to one other member
// of the group. A thread dials the peer's cluster port, learns what the peer
// has (its position for our database id and its database change vector),
// then sends everything after it in etag order, batch by batch, each
// acknowledged once durable there; idle, it waits for a commit (notify()) and
// sends heartbeats. Items the peer sent us itself are not sent back to it
// (SentByPeer), and a batch that would carry nothing but our position waits
// up to kQuietPositionEvery for company. Under a steady load batches go at
// most every kLinger, so each carries more. A broken or silent
// connection is redialed with back-off (RedialBackoff), cut short when the
// peer shows it is up again (redial_now()).
//
// Owned by DatabaseReplication, which outlives it and keeps the storage open
// while it runs. Thread-safety: notify(), status() and stop() from any thread.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "replication/frame_socket.h"
#include "replication/item_filter.h"
#include "replication/messages.h"
#include "replication/replication_stats.h"
#include "storage/change_vector.h"
#include "storage/documents_storage.h"

namespace corvus::replication {

struct ReplicationIdentity {
  std::string cluster_id;
  std::string node_tag;  // this node
  std::string database;
  // Where notable events go ("info"/"warn", message); may be empty.
  std::function<void(const char* level, const std::string& message)> log;
  // How group replication dials a peer's cluster port ("host:port"): TLS
  // with the node's certificate on a secured node (the server's). Empty:
  // plain TCP (FrameSocket::connect).
  std::function<Result<std::unique_ptr<FrameSocket>>(const std::string& address)> dial_peer;
};

// The wait before redialing a destination that could not be reached: from
// `first`, doubling after each failed connection up to `max`.
struct RedialBackoff {
  std::chrono::milliseconds first{50};
  std::chrono::milliseconds max{5000};
};

// One redial loop's state: the wait before each redial. Group pushes and a
// pull replication sink's dials to its hub share it.
class RedialWait {
 public:
  // A connection that lasted this long worked: the wait after it starts over.
  static constexpr auto kWorkedFor = std::chrono::seconds(3);

  explicit RedialWait(RedialBackoff bounds) : bounds_(bounds), next_(bounds.first) {}
  // The wait after a connection that lasted `lasted`; the next one doubles.
  std::chrono::milliseconds after(std::chrono::steady_clock::duration lasted) {
    if (lasted > kWorkedFor) next_ = bounds_.first;
    const auto wait = next_;
    next_ = std::min(next_ * 2, bounds_.max);
    return wait;
  }
  // The peer is up again: the next wait is the first one.
  void start_over() { next_ = bounds_.first; }

 private:
  RedialBackoff bounds_;
  std::chrono::milliseconds next_;
};

// How an OutgoingReplication gets its connections, and what it sends.
struct OutgoingOptions {
  // Opens a connection to the destination; Busy/IOError when it cannot (the
  // caller retries with back-off). Group replication dials the peer's cluster
  // port; a pull replication sink dials its hub over TLS and negotiates.
  std::function<Result<std::unique_ptr<FrameSocket>>()> dial;
  // Only items for which this is true are sent (the others are skipped, and
  // the batch still moves the position past them); empty: everything. With
  // a filter no batch claims to complete our change vector.
  std::function<bool(const storage::ReplicationItem&)> filter;
  // Asked before every batch and while idle: a connection that is no longer
  // allowed (its pull replication hub or access was deleted) ends with its
  // answer. Empty: always allowed.
  std::function<Status()> permitted;
  // What the server knows of the destination (pull replication: the hub's
  // name, the sink's database and URL), handed back by
  // DatabaseReplication::externals().
  std::map<std::string, std::string> labels;
  // The highest etag that may be sent now (external replication's
  // DelayReplicationFor: younger items wait); items above it stay for a later
  // batch, which the idle loop retries at least every heartbeat. Empty:
  // everything. A held-back batch never claims to complete our change vector.
  std::function<uint64_t()> send_limit;
  // One connection only (a hub serving the connection a sink opened): when it
  // ends, the thread ends and finished() is true.
  bool once = false;
  RedialBackoff backoff;
};

class OutgoingReplication {
 public:
  static constexpr size_t kMaxBatchItems = 1024;
  static constexpr size_t kMaxBatchBytes = 4u << 20;
  static constexpr size_t kChunkBytes = 1u << 20;
  static constexpr size_t kWriteBytes = 256u << 10;
  static constexpr auto kHeartbeatEvery = std::chrono::milliseconds(500);
  static constexpr auto kSilenceLimit = std::chrono::seconds(3);
  // Batches sent ahead of their acknowledgement.
  static constexpr size_t kWindow = 2;
  // How often at most a batch goes out with no item in it, only a position
  // (items the peer had, or our change vector): each costs the peer a
  // transaction, and a busy peer whose own writes we skip would otherwise
  // get one per commit of ours (~150/s at 10,000 writes/s).
  static constexpr auto kQuietPositionEvery = std::chrono::milliseconds(50);
  // A busy stream waits this long after a batch before reading the next,
  // unless the last read left items behind (a backlog goes at full speed).
  // The peer applies each batch in a transaction of its own, with a WAL sync:
  // at 8,000 writes/s on one node, a member applied ~720 batches of ~11 items
  // a second and spent 58-61 us of CPU per write; with 5 ms, ~315 batches and
  // 47-57 us. Adds at most kLinger to the lag of a write that just missed a batch.
  static constexpr auto kLinger = std::chrono::milliseconds(5);

  // Group replication: dials `peer_address` (the peer's cluster port) with
  // identity.dial_peer, or plain TCP.
  OutgoingReplication(storage::DocumentsStorage& storage, ReplicationIdentity identity, std::string peer_tag,
                      std::string peer_address, RedialBackoff backoff = {});
  OutgoingReplication(storage::DocumentsStorage& storage, ReplicationIdentity identity, std::string peer_tag,
                      std::string peer_address, OutgoingOptions options);
  ~OutgoingReplication();
  OutgoingReplication(const OutgoingReplication&) = delete;
  OutgoingReplication& operator=(const OutgoingReplication&) = delete;

  // Something was committed: send it.
  void notify();
  // The peer sent us these items itself: they need not go back to it.
  void peer_sent(const std::vector<storage::ReplicationItem>& items);
  // The peer is up (it just dialed us): a wait before redialing it ends now,
  // and the back-off starts over. Without this, a node back from a few
  // seconds away waited up to RedialBackoff::max before its peers pushed to
  // it again. During a live connection it only spares the wait after that
  // connection ends, once.
  void redial_now();
  OutgoingStatus status() const;
  const std::string& peer_tag() const { return peer_tag_; }
  const std::string& peer_address() const { return peer_address_; }
  // OutgoingOptions::once: the connection ended.
  bool finished() const { return finished_; }
  const std::map<std::string, std::string>& labels() const { return options_.labels; }
  // Stops sending and joins the thread.
  void stop();

 private:
  void run();
  // One connection, until it breaks or stop(); the reason it ended.
  Status run_connection();
  struct InFlight {
    std::chrono::steady_clock::time_point started;
    BatchRecord record;
  };
  // Sends the batch after `sent` (and moves `sent` past it) without waiting
  // for its acknowledgement. *sent_any is false when there was nothing new.
  Status send_batch(FrameSocket& socket, uint64_t& sent, std::deque<InFlight>& in_flight, bool* sent_any);
  // Takes the acknowledgement of the oldest batch in flight.
  Status await_ack(FrameSocket& socket, std::deque<InFlight>& in_flight);
  Status send_attachment(FrameSocket& socket, const std::string& hash, uint64_t* bytes);
  // The next frame that is not a heartbeat; Timeout after kSilenceLimit of silence.
  Result<Frame> next_frame(FrameSocket& socket);
  void heard();
  void log(const char* level, const std::string& message) const;

  storage::DocumentsStorage& storage_;
  const ReplicationIdentity identity_;
  const std::string peer_tag_;
  const std::string peer_address_;
  const OutgoingOptions options_;
  std::atomic<bool> finished_{false};
  int wake_fd_ = -1;  // eventfd: notify() and stop() write it
  std::atomic<bool> stopping_{false};
  std::atomic<bool> redial_now_{false};
  std::mutex socket_mu_;
  FrameSocket* socket_ = nullptr;  // the live connection, for stop()
  mutable std::mutex status_mu_;
  OutgoingStatus status_;
  SentByPeer sent_by_peer_;  // status_mu_
  // The last etag of ours whose change vector this connection sent as a
  // batch's CompleteChangeVector (only the run() thread touches it).
  uint64_t complete_sent_ = 0;
  // The run() thread's too: when the last batch went out, and whether the
  // peer has not yet been told a position or change vector of ours.
  std::chrono::steady_clock::time_point last_batch_at_{};
  bool position_owed_ = false;
  // The last read stopped at kMaxBatchItems or kMaxBatchBytes: more is waiting.
  bool backlog_ = false;
  std::thread thread_;
};

}  // namespace corvus::replication
