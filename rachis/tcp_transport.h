#pragma once
// TcpTransport: carries Raft messages between Rachis nodes over TCP.
//
// Each node listens on its own cluster port. To send to a peer a node dials the
// peer's advertised address and uses that connection only for its own outgoing
// messages (connections are one-way; the peer answers over its own connection).
// So a proxy in front of a node's cluster port sees everything addressed to it.
//
// Framing: u32 little-endian length, then a payload whose first byte is its kind:
//   'H' handshake, first frame of every connection:
//       u8 version, bytes cluster_id, u64 from, u64 to, bytes from_address
//       (the address the dialer advertises; the listener dials it back when it does
//       not know that peer yet, e.g. a node that has just been added by the leader)
//   'M' one core::Message (rachis/wire.h)
//   'R' refusal sent by the listener before closing: bytes reason
// With TransportOptions::tls every connection is TLS first (both sides present
// their node certificate and judge the other's with check_peer); a refused
// certificate gets 'R' with the reason. A TLS listener answers plain frames
// with a plain 'R'; a plain listener closes a connection that starts a TLS
// handshake. Either way both nodes log why.
// The listener asks its Handler whether to accept a handshake (right cluster, right
// node id, or a fresh node that may join); refusals are logged by the dialer.
//
// Snapshot connections (rachis/snapshot_stream.h) are separate, short-lived and
// two-way: a follower that received a snapshot descriptor dials the sender's
// cluster port and pulls the state (fetch_snapshot()):
//   'S' snapshot request, first frame: u8 version, bytes cluster_id, u64 from,
//       u64 to, u64 index (the snapshot's; the sender's state must be at least there)
// and the listener answers with 'C' chunks (SnapshotSource::next(), about 1 MB
// each), then 'E' (the trailer) and closes; or with 'R' + reason. Chunks are
// read on a dedicated thread (RocksDB reads stay off the I/O thread) one at a
// time, written before the next is read: the sender holds one chunk per pull.
// Either side gives up after kSnapshotIdleTimeout without progress.
//
// Any other first frame belongs to another channel (replication's 'D', see
// replication/README.md): the connection is handed to on_channel as it is.
//
// Outgoing connections reconnect with exponential back-off (50 ms doubling to 1 s).
// While a peer is unreachable at most kMaxQueuedFrames frames wait; older ones are
// dropped (Raft tolerates loss and resends).
//
// Lifecycle: start() binds and runs one I/O thread and one snapshot thread;
// stop() (or the destructor) closes every socket and joins them. Thread-safety: every public function may be
// called from any thread. Handler callbacks run on the I/O thread and must not block.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "rachis/cluster_socket.h"
#include "rachis/core/types.h"
#include "rachis/snapshot_stream.h"
#include "storage/status.h"

namespace corvus::rachis {

struct TransportOptions {
  // Address to bind the cluster listener to. Default: 127.0.0.1
  std::string host = "127.0.0.1";
  // Port of the cluster listener; 0 picks a free port. Default: 0
  std::uint16_t port = 0;
  // TLS (a node with a certificate): every connection of the cluster port, in
  // both directions, is TLS with this context (our certificate; it asks the
  // peer for one and accepts any at the TLS level). Not owned; outlives the
  // transport. nullptr: plain TCP. A secured and a plain node never talk: each
  // side tells the other kind of first bytes apart and refuses them.
  // OpenSSL writes with write(2): the process must ignore SIGPIPE (corvusd
  // does), or a peer closing mid-write kills it.
  SSL_CTX* tls = nullptr;
  // With `tls`: may the node that presented `certificate` (nullptr: none)
  // talk to us? "" = yes, else the reason, sent as the refusal ('R') and
  // logged on both sides. Asked for every connection, accepted or dialed
  // (the listener's certificate too). On the I/O thread: must not block.
  std::function<std::string(X509* certificate)> check_peer;
  // Where refusals and TLS failures go ("warn"/"info", message); may be empty.
  std::function<void(const char* level, const std::string& message)> log;
};

struct TransportHandler {
  // An inbound connection introduced itself; return "" to accept it, else the
  // reason to refuse it.
  // `address` is where the dialer says it can be reached.
  std::function<std::string(const std::string& cluster_id, core::NodeId from, core::NodeId to,
                            const std::string& address)>
      on_handshake;
  // One message from an accepted connection.
  std::function<void(core::Message)> on_message;
  // Node `from` of `cluster_id` asks node `to` for the state, at least at
  // `index`: a source to stream, or an error whose message is sent as the
  // refusal. Runs on the snapshot thread (it may read the store, briefly).
  std::function<Result<std::unique_ptr<SnapshotSource>>(const std::string& cluster_id, core::NodeId from,
                                                         core::NodeId to, core::Index index)>
      on_snapshot_request;
  // A stream accepted by on_snapshot_request to node `to` broke before its
  // trailer was sent (connection cut, stalled, read error).
  std::function<void(core::NodeId to)> on_snapshot_failed;
  // A connection whose first frame is neither 'H' nor 'S' (database
  // replication's 'D'): the transport hands the connection over, with its TLS
  // session on a secured node (the peer's certificate already passed
  // check_peer). `connection` is the handler's to own and close; `payload` is
  // the first frame's (after the kind byte). On the I/O thread: must not
  // block. Without it such a connection is refused.
  std::function<void(char kind, std::string payload, ChannelConnection connection)> on_channel;
};

struct PeerStatus {
  bool connected = false;  // our outgoing connection is up
  std::chrono::system_clock::time_point last_received{};  // last frame it sent us
  std::string last_error;
  std::string address;  // where we dial it (from set_peers, or learned)
};

class TcpTransport {
 public:
  static constexpr std::size_t kMaxQueuedFrames = 1024;
  static constexpr std::size_t kMaxFrameBytes = 512u * 1024 * 1024;
  static constexpr std::chrono::seconds kSnapshotIdleTimeout{30};

  static Result<std::unique_ptr<TcpTransport>> start(const TransportOptions& options, TransportHandler handler);
  ~TcpTransport();
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  std::uint16_t port() const;

  // Who we are in outgoing handshakes (and the address peers should dial back).
  // Reconnects every peer if it changed.
  void set_identity(const std::string& cluster_id, core::NodeId self, const std::string& address);
  // The peers to dial (id -> "host:port"). With `learn`, peers learned from
  // accepted handshakes stay dialable (unless `peers` names them) and new ones are
  // learned; without it they are forgotten and none are learned. A node learns
  // only while it is fresh or joining (its topology does not list it yet): learning from
  // anyone later would let a stale peer pull a fresh node into the wrong cluster.
  void set_peers(const std::map<core::NodeId, std::string>& peers, bool learn);
  // Forgets every peer, learned ones included (after leaving a cluster).
  void clear_peers();
  // Forgets peers learned from handshakes of any cluster but `cluster_id` (the
  // one we are joining: its leader, and maybe a follower, invited us).
  void forget_learned_except(const std::string& cluster_id);
  // Queues `m` for m.to; dropped when m.to is not a known peer.
  void send(core::Message m);
  // Pulls the state of node `to`, listening at `address`, into `sink`: sends a
  // snapshot request for `index` (as the identity of set_identity()), hands
  // every chunk to sink.add() and the trailer to sink.finish(). Blocks the
  // calling thread until the transfer ends, polling `cancelled` (may be empty)
  // a few times a second. Returns sink's errors as they are; ShuttingDown when
  // cancelled; Busy for every transfer problem (unreachable, refused, cut,
  // stalled for kSnapshotIdleTimeout, malformed frame): retry later.
  Status fetch_snapshot(const std::string& address, core::NodeId to, core::Index index, SnapshotSink& sink,
                        const std::function<bool()>& cancelled);
  std::map<core::NodeId, PeerStatus> peer_status() const;

  void stop();

 private:
  struct Impl;
  explicit TcpTransport(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace corvus::rachis
