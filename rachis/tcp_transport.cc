#include "rachis/tcp_transport.h"

#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio.hpp>

#include "rachis/wire.h"

namespace corvus::rachis {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kMinBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
// Connections are one-way, so a sender cannot tell a live link from one that
// silently swallows its frames (a dead host behind NAT, a half-open proxy): the
// listener sends a keepalive frame ('K') this often on every accepted
// connection, and a sender that hears none for kDeadAfter reconnects.
constexpr auto kKeepaliveEvery = std::chrono::milliseconds(500);
constexpr auto kDeadAfter = std::chrono::milliseconds(3000);
// How often fetch_snapshot() checks whether it was cancelled.
constexpr auto kFetchPoll = std::chrono::milliseconds(100);
// How often a listener logs the same refusal of the same host (log_refusal).
constexpr auto kRefusalLogEvery = std::chrono::seconds(60);

std::shared_ptr<std::string> make_frame(char kind, const std::string& payload) {
  auto f = std::make_shared<std::string>();
  const std::uint32_t n = static_cast<std::uint32_t>(payload.size() + 1);
  f->reserve(4 + n);
  for (int i = 0; i < 4; ++i) f->push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  f->push_back(kind);
  f->append(payload);
  return f;
}

std::uint32_t read_len(const unsigned char* b) {
  return std::uint32_t(b[0]) | (std::uint32_t(b[1]) << 8) | (std::uint32_t(b[2]) << 16) | (std::uint32_t(b[3]) << 24);
}

std::shared_ptr<std::string> refusal_frame(const std::string& why) {
  BufWriter w;
  w.bytes(why);
  return make_frame('R', w.str());
}

// The first bytes of a TLS connection: a handshake record (0x16) of TLS 1.x
// (0x03). A plain cluster frame starts with its little-endian length: 0x16
// 0x03 there would be a first frame of at least 790 bytes, which no
// handshake ('H', 'S', 'D') is.
bool looks_like_tls(const unsigned char* b, std::size_t n) { return n >= 1 && b[0] == 0x16 && (n < 2 || b[1] == 0x03); }

bool split_address(const std::string& address, std::string* host, std::string* port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  *port = address.substr(colon + 1);
  return true;
}

}  // namespace

struct TcpTransport::Impl : std::enable_shared_from_this<TcpTransport::Impl> {
  struct Peer;
  struct Inbound;
  struct SnapshotSession;

  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::thread_pool snapshot_pool{1};  // reads snapshot chunks; after `io`, so destroyed first
  std::thread thread;
  TransportHandler handler;
  SSL_CTX* tls = nullptr;
  std::function<std::string(X509*)> check_peer;
  std::function<void(const char*, const std::string&)> log_fn;

  void log(const char* level, const std::string& message) const {
    if (log_fn) log_fn(level, message);
  }
  // A listener's refusals, by dialer host and message: a misconfigured peer
  // redials every second, so each is logged once per kRefusalLogEvery, not at
  // every attempt. I/O thread only.
  std::map<std::string, std::chrono::steady_clock::time_point> refusal_logged_at;
  void log_refusal(const char* level, const std::string& remote, const std::string& message) {
    const std::string key = remote.substr(0, remote.rfind(':')) + "|" + message;
    const auto now = std::chrono::steady_clock::now();
    auto [it, fresh] = refusal_logged_at.try_emplace(key, now);
    if (!fresh && now - it->second < kRefusalLogEvery) return;
    it->second = now;
    if (refusal_logged_at.size() > 1024) refusal_logged_at.clear();  // bounded, whoever dials
    log(level, message);
  }
  // The trust rule for the certificate of the connection on `s` ("" = trusted).
  std::string judge(const ClusterSocket& s) const {
    if (!check_peer) return "";
    return check_peer(s.peer_certificate());
  }

  // Guarded by mu: read by peer_status() and send() from other threads.
  mutable std::mutex mu;
  std::string cluster_id;
  core::NodeId self = core::kNoNode;
  std::string self_address;
  std::map<core::NodeId, PeerStatus> status;

  // I/O thread only.
  std::map<core::NodeId, std::shared_ptr<Peer>> peers;
  std::map<core::NodeId, std::string> configured;  // from set_peers
  struct Learned {
    std::string address;
    std::string cluster_id;
  };
  std::map<core::NodeId, Learned> learned;  // from accepted handshakes
  bool learn = true;
  std::set<std::shared_ptr<Inbound>> inbound;
  std::set<std::shared_ptr<SnapshotSession>> sessions;
  bool stopped = false;

  struct Peer : std::enable_shared_from_this<Peer> {
    Impl* owner;
    core::NodeId id;
    std::string address;
    ClusterSocket socket;
    tcp::resolver resolver;
    asio::steady_timer timer;
    asio::steady_timer watchdog;
    std::chrono::steady_clock::time_point last_alive{};
    std::deque<std::shared_ptr<std::string>> queue;
    bool connected = false;
    bool writing = false;
    bool closed = false;
    std::uint64_t generation = 0;  // bumps on every (re)connect attempt
    std::chrono::milliseconds backoff = kMinBackoff;
    unsigned char rhdr[4];
    std::string rbody;
    std::string last_logged;  // the last failure logged: each new reason once, not every retry

    Peer(Impl* o, core::NodeId i, std::string a)
        : owner(o),
          id(i),
          address(std::move(a)),
          socket(o->io.get_executor()),
          resolver(o->io),
          timer(o->io),
          watchdog(o->io) {}

    void set_connected(bool c, const std::string& err = "") {
      std::lock_guard lock(owner->mu);
      auto& st = owner->status[id];
      st.connected = c;
      if (!err.empty()) st.last_error = err;
    }

    void connect() {
      if (closed) return;
      const std::uint64_t gen = ++generation;
      std::string host, port;
      if (!split_address(address, &host, &port)) {
        set_connected(false, "bad address '" + address + "'");
        return;
      }
      auto self = shared_from_this();
      resolver.async_resolve(host, port, [self, gen](error_code ec, tcp::resolver::results_type results) {
        if (self->closed || gen != self->generation) return;
        if (ec) return self->fail(ec, "resolve");
        asio::async_connect(self->socket.tcp(), results, [self, gen](error_code ec2, const tcp::endpoint&) {
          if (self->closed || gen != self->generation) return;
          if (ec2) return self->fail(ec2, "connect");
          if (!self->owner->tls) return self->on_connected();
          self->socket.async_handshake(self->owner->tls, false, [self, gen](error_code ec3) {
            if (self->closed || gen != self->generation) return;
            if (ec3) {
              return self->fail(ec3, "TLS handshake with node at " + self->address + " failed (" +
                                         self->socket.tls_error() +
                                         "; is it a node without a certificate? a secured node talks to secured "
                                         "nodes only)",
                                "warn");
            }
            if (std::string why = self->owner->judge(self->socket); !why.empty()) {
              return self->fail(asio::error::access_denied,
                                "refusing the certificate of node at " + self->address + ": " + why, "warn");
            }
            self->on_connected();
          });
        });
      });
    }

    void on_connected() {
      error_code ignored;
      socket.tcp().set_option(tcp::no_delay(true), ignored);
      connected = true;
      backoff = kMinBackoff;
      set_connected(true);
      BufWriter w;
      {
        std::lock_guard lock(owner->mu);
        w.u8(kWireVersion);
        w.bytes(owner->cluster_id);
        w.u64(owner->self);
        w.u64(id);
        w.bytes(owner->self_address);
      }
      queue.push_front(make_frame('H', w.str()));
      last_alive = std::chrono::steady_clock::now();
      do_read_header(generation);
      watch(generation);
      do_write();
    }

    void watch(std::uint64_t gen) {
      watchdog.expires_after(kKeepaliveEvery);
      auto self = shared_from_this();
      watchdog.async_wait([self, gen](error_code ec) {
        if (ec || self->closed || gen != self->generation) return;
        if (std::chrono::steady_clock::now() - self->last_alive > kDeadAfter) {
          return self->fail(asio::error::timed_out, "no keepalive from the peer");
        }
        self->watch(gen);
      });
    }

    void enqueue(std::shared_ptr<std::string> frame) {
      if (closed) return;
      queue.push_back(std::move(frame));
      while (queue.size() > kMaxQueuedFrames) queue.pop_front();
      if (connected) do_write();
    }

    void do_write() {
      if (writing || !connected || queue.empty()) return;
      writing = true;
      // Gather several frames into one write.
      auto batch = std::make_shared<std::vector<std::shared_ptr<std::string>>>();
      std::vector<asio::const_buffer> bufs;
      std::size_t bytes = 0;
      while (!queue.empty() && batch->size() < 64 && bytes < (4u << 20)) {
        bytes += queue.front()->size();
        bufs.emplace_back(asio::buffer(*queue.front()));
        batch->push_back(std::move(queue.front()));
        queue.pop_front();
      }
      auto self = shared_from_this();
      const std::uint64_t gen = generation;
      socket.async_write(std::move(bufs), [self, batch, gen](error_code ec) {
        // A write of an older connection (closed by fail/reconnect, which
        // already reset `writing`) must not touch the flag: a write may be in
        // flight on the new socket, and a second concurrent write would
        // interleave frames and corrupt the stream.
        if (self->closed || gen != self->generation) return;
        self->writing = false;
        if (ec) return self->fail(ec, "write");
        self->do_write();
      });
    }

    // The listener only ever sends a refusal; anything read means trouble.
    void do_read_header(std::uint64_t gen) {
      auto self = shared_from_this();
      socket.async_read(asio::buffer(rhdr), [self, gen](error_code ec) {
        if (self->closed || gen != self->generation) return;
        if (ec) return self->fail(ec, "read");
        const std::uint32_t n = read_len(self->rhdr);
        if (n == 0 || n > 64 * 1024) return self->fail(asio::error::message_size, "read");
        self->rbody.resize(n);
        self->socket.async_read(asio::buffer(self->rbody), [self, gen](error_code ec2) {
          if (self->closed || gen != self->generation) return;
          if (ec2) return self->fail(ec2, "read");
          if (self->rbody[0] == 'K') {
            self->last_alive = std::chrono::steady_clock::now();
            return self->do_read_header(gen);
          }
          std::string reason = "unexpected frame";
          const char* level = nullptr;
          if (self->rbody[0] == 'R') {
            BufReader r(std::string_view(self->rbody).substr(1));
            std::string why;
            if (r.bytes(&why)) reason = "refused by peer " + self->address + ": " + why;
            // A peer that does not trust our certificate says so; other
            // refusals are routine while a node joins or leaves.
            level = why.find("certificate") != std::string::npos ? "warn" : "info";
          }
          self->fail(asio::error::connection_refused, reason, level);
        });
      });
    }

    // `level` (nullptr: not logged): a reason a person may have to act on (a
    // refusal, an untrusted certificate, a TLS mismatch), logged once per new
    // reason rather than at every retry.
    void fail(error_code ec, const std::string& what, const char* level = nullptr) {
      socket.reset();
      connected = false;
      writing = false;
      ++generation;
      set_connected(false, what + ": " + ec.message());
      if (level && what != last_logged) {
        last_logged = what;
        owner->log(level, what);
      }
      if (closed) return;
      timer.expires_after(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(kMaxBackoff));
      auto self = shared_from_this();
      timer.async_wait([self](error_code tec) {
        if (!tec && !self->closed) self->connect();
      });
    }

    void reconnect_now() {
      socket.reset();
      timer.cancel();
      connected = false;
      writing = false;
      ++generation;
      backoff = kMinBackoff;
      connect();
    }

    void close() {
      closed = true;
      ++generation;
      socket.close();
      timer.cancel();
      watchdog.cancel();
      resolver.cancel();
      queue.clear();
    }
  };

  struct Inbound : std::enable_shared_from_this<Inbound> {
    Impl* owner;
    std::unique_ptr<ClusterSocket> socket;
    std::string remote;  // the dialer's address, for logs
    unsigned char hdr[4];
    std::string body;
    bool handshaken = false;
    core::NodeId from = core::kNoNode;
    std::string cluster;     // the handshake's: who this connection talks to
    core::NodeId to = core::kNoNode;

    asio::steady_timer keepalive{owner->io};
    bool finished = false;

    Inbound(Impl* o, tcp::socket s) : owner(o), socket(std::make_unique<ClusterSocket>(std::move(s))) {
      error_code ec;
      auto ep = socket->tcp().remote_endpoint(ec);
      remote = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    }

    // Looks at the first bytes before anything else: TLS where we speak TLS,
    // plain frames where we do not; the other kind is refused with a reason.
    void start() {
      auto self = shared_from_this();
      socket->tcp().async_wait(tcp::socket::wait_read, [self](error_code ec) {
        if (ec) return self->finish();
        unsigned char first[2] = {0, 0};
        error_code pec;
        const std::size_t n = self->socket->tcp().receive(asio::buffer(first), tcp::socket::message_peek, pec);
        if (pec || n == 0) return self->finish();
        const bool tls = looks_like_tls(first, n);
        if (!self->owner->tls) {
          if (!tls) return self->do_read();
          self->owner->log_refusal("warn", self->remote,
                                   "a TLS connection from " + self->remote.substr(0, self->remote.rfind(':')) +
                                       " reached this node's plain cluster port: this node has no certificate, and a "
                                       "node with one (a secured node) never talks to a node without; closed");
          return self->finish();
        }
        if (!tls) {
          const std::string why =
              "this node is secured (it has a certificate) and its cluster port speaks TLS only; a node without a "
              "certificate cannot talk to it";
          self->owner->log_refusal("warn", self->remote,
                                   "refused a plain connection from " + self->remote.substr(0, self->remote.rfind(':')) +
                                       ": " + why);
          return self->refuse(why, nullptr);
        }
        self->socket->async_handshake(self->owner->tls, true, [self](error_code hec) {
          if (hec) {
            self->owner->log_refusal("warn", self->remote,
                                     "TLS handshake with " + self->remote.substr(0, self->remote.rfind(':')) +
                                         " on the cluster port failed: " + self->socket->tls_error());
            return self->finish();
          }
          if (std::string why = self->owner->judge(*self->socket); !why.empty()) return self->refuse(why);
          self->do_read();
        });
      });
    }

    // After the handshake: tell the sender, twice a second, that we are here.
    void send_keepalives() {
      keepalive.expires_after(kKeepaliveEvery);
      auto self = shared_from_this();
      keepalive.async_wait([self](error_code ec) {
        if (ec || self->finished) return;
        auto frame = make_frame('K', "");
        self->socket->async_write({asio::buffer(*frame)}, [self, frame](error_code ec2) {
          if (ec2 || self->finished) return;
          self->send_keepalives();
        });
      });
    }

    void do_read() {
      auto self = shared_from_this();
      socket->async_read(asio::buffer(hdr), [self](error_code ec) {
        if (ec) return self->finish();
        const std::uint32_t n = read_len(self->hdr);
        if (n == 0 || n > kMaxFrameBytes) return self->finish();
        self->body.resize(n);
        self->socket->async_read(asio::buffer(self->body), [self](error_code ec2) {
          if (ec2) return self->finish();
          self->on_frame();
        });
      });
    }

    void on_frame() {
      const char kind = body[0];
      std::string_view payload = std::string_view(body).substr(1);
      if (!handshaken && kind == 'S') return start_snapshot(payload);
      if (!handshaken && kind != 'H' && owner->handler.on_channel) return hand_over(kind, payload);
      if (!handshaken) {
        BufReader r(payload);
        std::uint8_t v = 0;
        std::string address;
        if (kind != 'H' || !r.u8(&v) || v != kWireVersion || !r.bytes(&cluster) || !r.u64(&from) || !r.u64(&to) ||
            !r.bytes(&address)) {
          return refuse("bad handshake");
        }
        std::string why = owner->handler.on_handshake ? owner->handler.on_handshake(cluster, from, to, address) : "";
        // Routine while a node joins or leaves (Raft retries): info, not warn.
        if (!why.empty()) return refuse(why, "info");
        handshaken = true;
        if (owner->learn && !address.empty() &&
            (owner->learned[from].address != address || owner->learned[from].cluster_id != cluster)) {
          owner->learned[from] = Learned{address, cluster};
          owner->apply_peers();
        }
        owner->touch(from);
        send_keepalives();
        return do_read();
      }
      if (kind != 'M') return finish();
      {
        // A node that left its cluster (or joined another) must not take the
        // old cluster's messages from connections accepted before: the same
        // NodeIds and terms mean something else now.
        std::lock_guard lock(owner->mu);
        if (owner->cluster_id != cluster || owner->self != to) return finish();
      }
      core::Message m;
      if (!decode_message(payload, &m)) return finish();
      owner->touch(from);
      if (owner->handler.on_message) owner->handler.on_message(std::move(m));
      do_read();
    }

    // Sends the refusal and closes, logged at `level` (nullptr: not logged
    // here); the dialer logs what it receives.
    void refuse(const std::string& why, const char* level = "warn") {
      if (level) {
        owner->log_refusal(level, remote,
                           "refused a cluster connection from " + remote.substr(0, remote.rfind(':')) + ": " + why);
      }
      auto frame = refusal_frame(why);
      auto self = shared_from_this();
      socket->async_write({asio::buffer(*frame)}, [self, frame](error_code) { self->finish(); });
    }

    void finish() {
      finished = true;
      keepalive.cancel();
      socket->close();
      owner->inbound.erase(shared_from_this());
    }

    // Another channel's connection: its handler owns the socket from now on.
    void hand_over(char kind, std::string_view payload) {
      std::string first(payload);  // `payload` is in `body`, which goes with this object
      ChannelConnection connection = socket->release();
      owner->inbound.erase(shared_from_this());
      if (connection.fd < 0) return;
      owner->handler.on_channel(kind, std::move(first), connection);
    }

    // A snapshot request: this connection becomes a SnapshotSession.
    void start_snapshot(std::string_view payload) {
      BufReader r(payload);
      std::uint8_t v = 0;
      std::string cluster_id;
      core::NodeId peer = core::kNoNode, self_id = core::kNoNode;
      core::Index index = 0;
      if (!r.u8(&v) || v != kWireVersion || !r.bytes(&cluster_id) || !r.u64(&peer) || !r.u64(&self_id) ||
          !r.u64(&index) || !r.done()) {
        return refuse("bad snapshot request");
      }
      auto session = std::make_shared<SnapshotSession>(owner, std::move(socket), peer);
      owner->inbound.erase(shared_from_this());
      owner->sessions.insert(session);
      session->start(std::move(cluster_id), self_id, index);
    }
  };

  // Streams one snapshot to the node that asked for it. The source is created
  // and read on snapshot_pool; frames are written on the I/O thread. One side
  // at a time touches the source: a chunk is read only once the previous frame
  // was written.
  struct SnapshotSession : std::enable_shared_from_this<SnapshotSession> {
    Impl* owner;
    std::unique_ptr<ClusterSocket> socket;
    asio::steady_timer timer;
    core::NodeId peer;
    std::unique_ptr<SnapshotSource> source;  // null when the request was refused
    bool ended = false;                      // I/O thread
    std::uint64_t writes = 0;                // I/O thread; tells a stale timer from a live one

    SnapshotSession(Impl* o, std::unique_ptr<ClusterSocket> s, core::NodeId p)
        : owner(o), socket(std::move(s)), timer(o->io), peer(p) {}

    void start(std::string cluster_id, core::NodeId self_id, core::Index index) {
      auto self = shared_from_this();
      asio::post(owner->snapshot_pool, [self, cluster_id = std::move(cluster_id), self_id, index] {
        const auto& h = self->owner->handler;
        Result<std::unique_ptr<SnapshotSource>> src =
            h.on_snapshot_request ? h.on_snapshot_request(cluster_id, self->peer, self_id, index)
                                  : Result<std::unique_ptr<SnapshotSource>>(
                                        Status::InvalidArgument("this node serves no snapshots"));
        if (!src.ok()) {
          auto frame = refusal_frame(src.status().message());
          asio::post(self->owner->io, [self, frame] { self->write(frame, true, false); });
          return;
        }
        self->source = std::move(src).value();
        self->read_chunk();
      });
    }

    // Snapshot thread: reads the next chunk and hands its frame to the I/O thread.
    void read_chunk() {
      std::string chunk;
      Status s = source->next(&chunk);
      std::shared_ptr<std::string> frame;
      bool last = true, complete = false;
      if (!s.ok()) {
        frame = refusal_frame("cannot read the cluster state: " + s.to_string());
      } else if (chunk.empty()) {
        frame = make_frame('E', source->trailer());
        complete = true;
      } else {
        frame = make_frame('C', chunk);
        last = false;
      }
      auto self = shared_from_this();
      asio::post(owner->io, [self, frame, last, complete] { self->write(frame, last, complete); });
    }

    void write(std::shared_ptr<std::string> frame, bool last, bool complete) {
      if (ended) return;
      auto self = shared_from_this();
      const std::uint64_t n = ++writes;
      timer.expires_after(kSnapshotIdleTimeout);
      timer.async_wait([self, n](error_code ec) {
        if (!ec && n == self->writes) self->end(false);  // the peer stopped reading
      });
      socket->async_write({asio::buffer(*frame)}, [self, frame, last, complete](error_code ec) {
        if (self->ended) return;
        ++self->writes;
        self->timer.cancel();
        if (ec) return self->end(false);
        if (last) return self->end(complete);
        asio::post(self->owner->snapshot_pool, [self] { self->read_chunk(); });
      });
    }

    // Closes the connection; a stream that started and did not complete is
    // reported, so Raft can send the snapshot again without waiting.
    void end(bool complete) {
      if (ended) return;
      ended = true;
      timer.cancel();
      socket->close();
      auto self = shared_from_this();
      owner->sessions.erase(self);
      if (!complete && source && owner->handler.on_snapshot_failed) owner->handler.on_snapshot_failed(peer);
    }

    // Transport shutdown: no report, and the source may be in use on the
    // snapshot thread, which is joined next.
    void abort() {
      ended = true;
      timer.cancel();
      socket->close();
    }
  };

  void touch(core::NodeId from) {
    std::lock_guard lock(mu);
    auto it = status.find(from);
    if (it != status.end()) it->second.last_received = std::chrono::system_clock::now();
  }

  // Reconciles `peers` with configured + learned addresses (I/O thread).
  void apply_peers() {
    if (stopped) return;
    std::map<core::NodeId, std::string> want = configured;
    for (const auto& [id, l] : learned) {
      if (!l.address.empty()) want.emplace(id, l.address);
    }
    for (auto it = peers.begin(); it != peers.end();) {
      auto w = want.find(it->first);
      if (w == want.end() || w->second != it->second->address) {
        it->second->close();
        {
          std::lock_guard lock(mu);
          status.erase(it->first);
        }
        it = peers.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [id, address] : want) {
      if (peers.count(id)) continue;
      {
        std::lock_guard lock(mu);
        status[id] = PeerStatus{};
        status[id].address = address;
      }
      auto p = std::make_shared<Peer>(this, id, address);
      peers[id] = p;
      p->connect();
    }
  }

  void do_accept() {
    acceptor.async_accept([this](error_code ec, tcp::socket s) {
      if (stopped) return;
      if (!ec) {
        error_code ignored;
        s.set_option(tcp::no_delay(true), ignored);
        auto conn = std::make_shared<Inbound>(this, std::move(s));
        inbound.insert(conn);
        conn->start();
      }
      do_accept();
    });
  }
};

TcpTransport::TcpTransport(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<TcpTransport>> TcpTransport::start(const TransportOptions& options, TransportHandler handler) {
  auto impl = std::make_shared<Impl>();
  impl->handler = std::move(handler);
  impl->tls = options.tls;
  impl->check_peer = options.check_peer;
  impl->log_fn = options.log;
  error_code ec;
  auto addr = asio::ip::make_address(options.host, ec);
  if (ec) return Status::InvalidArgument("bad cluster listen host '" + options.host + "': " + ec.message());
  tcp::endpoint ep(addr, options.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen for cluster traffic on " + options.host + ":" +
                           std::to_string(options.port) + ": " + ec.message());
  }
  impl->do_accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<TcpTransport>(new TcpTransport(std::move(impl)));
}

TcpTransport::~TcpTransport() { stop(); }

std::uint16_t TcpTransport::port() const {
  error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void TcpTransport::set_identity(const std::string& cluster_id, core::NodeId self, const std::string& address) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->cluster_id == cluster_id && impl_->self == self && impl_->self_address == address) return;
    impl_->cluster_id = cluster_id;
    impl_->self = self;
    impl_->self_address = address;
  }
  Impl* impl = impl_.get();
  asio::post(impl->io, [impl] {
    for (auto& [id, p] : impl->peers) p->reconnect_now();
  });
}

void TcpTransport::set_peers(const std::map<core::NodeId, std::string>& peers, bool learn) {
  Impl* impl = impl_.get();
  asio::post(impl->io, [impl, peers, learn] {
    impl->configured = peers;
    impl->learn = learn;
    if (!learn) impl->learned.clear();
    impl->apply_peers();
  });
}

void TcpTransport::forget_learned_except(const std::string& cluster_id) {
  Impl* impl = impl_.get();
  asio::post(impl->io, [impl, cluster_id] {
    for (auto it = impl->learned.begin(); it != impl->learned.end();) {
      it = it->second.cluster_id == cluster_id ? std::next(it) : impl->learned.erase(it);
    }
    impl->apply_peers();
  });
}

void TcpTransport::clear_peers() {
  Impl* impl = impl_.get();
  asio::post(impl->io, [impl] {
    impl->configured.clear();
    impl->learned.clear();
    impl->apply_peers();
  });
}

void TcpTransport::send(core::Message m) {
  auto frame = make_frame('M', encode_message(m));
  Impl* impl = impl_.get();
  const core::NodeId to = m.to;
  asio::post(impl->io, [impl, to, frame = std::move(frame)]() mutable {
    auto it = impl->peers.find(to);
    if (it != impl->peers.end()) it->second->enqueue(std::move(frame));
  });
}

Status TcpTransport::fetch_snapshot(const std::string& address, core::NodeId to, core::Index index, SnapshotSink& sink,
                                    const std::function<bool()>& cancelled) {
  std::string host, port;
  if (!split_address(address, &host, &port)) return Status::Busy("bad snapshot source address '" + address + "'");
  BufWriter w;
  {
    std::lock_guard lock(impl_->mu);
    w.u8(kWireVersion);
    w.bytes(impl_->cluster_id);
    w.u64(impl_->self);
    w.u64(to);
    w.u64(index);
  }
  auto request = make_frame('S', w.str());

  // A private io_context run on this thread, in slices, so that a stalled or
  // cancelled transfer can be abandoned.
  asio::io_context io;
  tcp::resolver resolver(io);
  ClusterSocket socket(io.get_executor());
  bool done = false;
  error_code ec;
  const auto wait = [&](const char* what) -> Status {
    const auto deadline = std::chrono::steady_clock::now() + kSnapshotIdleTimeout;
    for (;;) {
      io.restart();
      io.run_for(kFetchPoll);
      if (done) return ec ? Status::Busy(std::string(what) + " " + address + ": " + ec.message()) : Status::Ok();
      const bool stop = cancelled && cancelled();
      if (stop || std::chrono::steady_clock::now() >= deadline) {
        resolver.cancel();
        socket.close();
        io.restart();
        io.run();  // completes the abandoned operation
        if (stop) return Status::ShuttingDown("the snapshot transfer was cancelled");
        return Status::Busy(std::string(what) + " " + address + " made no progress for " +
                            std::to_string(kSnapshotIdleTimeout.count()) + " s");
      }
    }
  };

  tcp::resolver::results_type endpoints;
  done = false;
  resolver.async_resolve(host, port, [&](error_code e, tcp::resolver::results_type r) {
    ec = e;
    endpoints = std::move(r);
    done = true;
  });
  if (Status s = wait("resolving"); !s.ok()) return s;
  done = false;
  asio::async_connect(socket.tcp(), endpoints, [&](error_code e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  if (Status s = wait("connecting to"); !s.ok()) return s;
  socket.tcp().set_option(tcp::no_delay(true), ec);
  if (impl_->tls) {
    done = false;
    socket.async_handshake(impl_->tls, false, [&](error_code e) {
      ec = e;
      done = true;
    });
    if (Status s = wait("TLS handshake with"); !s.ok()) return Status::Busy(s.message() + " (" + socket.tls_error() + ")");
    if (std::string why = impl_->judge(socket); !why.empty()) {
      impl_->log("warn", "refusing the certificate of node at " + address + " (snapshot source): " + why);
      return Status::Busy("refusing the certificate of node at " + address + ": " + why);
    }
  }
  done = false;
  socket.async_write({asio::buffer(*request)}, [&](error_code e) {
    ec = e;
    done = true;
  });
  if (Status s = wait("sending the snapshot request to"); !s.ok()) return s;

  unsigned char header[4];
  std::string body;
  for (;;) {
    done = false;
    socket.async_read(asio::buffer(header), [&](error_code e) {
      ec = e;
      done = true;
    });
    if (Status s = wait("reading the snapshot from"); !s.ok()) return s;
    const std::uint32_t n = read_len(header);
    if (n == 0 || n > kMaxFrameBytes) return Status::Busy("malformed snapshot frame from " + address);
    body.resize(n);
    done = false;
    socket.async_read(asio::buffer(body), [&](error_code e) {
      ec = e;
      done = true;
    });
    if (Status s = wait("reading the snapshot from"); !s.ok()) return s;
    const std::string_view payload = std::string_view(body).substr(1);
    switch (body[0]) {
      case 'C':
        if (Status s = sink.add(payload); !s.ok()) return s;
        break;
      case 'E':
        return sink.finish(payload);
      case 'R': {
        BufReader r(payload);
        std::string why;
        return Status::Busy("snapshot refused by " + address + ": " + (r.bytes(&why) ? why : "(no reason)"));
      }
      default:
        return Status::Busy("unexpected snapshot frame from " + address);
    }
  }
}

std::map<core::NodeId, PeerStatus> TcpTransport::peer_status() const {
  std::lock_guard lock(impl_->mu);
  return impl_->status;
}

void TcpTransport::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  Impl* impl = impl_.get();
  asio::post(impl->io, [impl] {
    impl->stopped = true;
    error_code ignored;
    impl->acceptor.close(ignored);
    for (auto& [id, p] : impl->peers) p->close();
    impl->peers.clear();
    for (auto& c : std::set<std::shared_ptr<Impl::Inbound>>(impl->inbound)) c->socket->close();
    impl->inbound.clear();
    for (auto& session : impl->sessions) session->abort();
    impl->sessions.clear();
    impl->io.stop();
  });
  impl->thread.join();
  impl->snapshot_pool.stop();
  impl->snapshot_pool.join();
}

}  // namespace corvus::rachis
