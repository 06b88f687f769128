#pragma once
// ClusterSocket: one connection of the cluster port (rachis/tcp_transport.h),
// plain TCP or TLS, with the few asynchronous operations the transport needs:
// read exactly n bytes, write whole buffers, and (TLS) the handshake.
//
// TLS runs OpenSSL directly on the socket's descriptor (SSL_set_fd, the socket
// non-blocking, readiness from Asio's async_wait) rather than through
// asio::ssl::stream, so that a connection of another channel (database
// replication's 'D') can be handed over whole, TLS session included, to code
// that does blocking I/O on it (release()).
//
// Owned by one transport object (Peer, Inbound, SnapshotSession, a
// fetch_snapshot() call). Thread-safety: none; every call and every completion
// handler runs on the thread that runs the executor (the transport's I/O
// thread), which is what keeps a reader and a writer from using the SSL object
// at once. At most one read and one write may be outstanding.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <openssl/ssl.h>

namespace corvus::rachis {

// A connection handed over to another channel: the connected descriptor and,
// on a TLS cluster port, the established TLS session on it (else nullptr).
// The receiver owns both (SSL_free, then close).
struct ChannelConnection {
  int fd = -1;
  SSL* ssl = nullptr;
};

class ClusterSocket {
 public:
  using Handler = std::function<void(boost::system::error_code)>;

  explicit ClusterSocket(boost::asio::any_io_executor ex);
  explicit ClusterSocket(boost::asio::ip::tcp::socket socket);
  ~ClusterSocket();
  ClusterSocket(const ClusterSocket&) = delete;
  ClusterSocket& operator=(const ClusterSocket&) = delete;

  boost::asio::ip::tcp::socket& tcp() { return socket_; }
  bool tls() const { return ssl_ != nullptr; }

  // The TLS handshake on the connected socket, as the server (an accepted
  // connection) or the client (one we dialed), with `ctx` (our certificate;
  // it accepts any peer certificate: the caller judges peer_certificate()).
  // On failure tls_error() says why.
  void async_handshake(SSL_CTX* ctx, bool server, Handler handler);
  // Reads exactly buffer_size(b) bytes.
  void async_read(boost::asio::mutable_buffer b, Handler handler);
  // Writes every buffer whole, in order. The buffers must stay valid until
  // `handler` runs.
  void async_write(std::vector<boost::asio::const_buffer> buffers, Handler handler);
  // The certificate the peer presented over TLS; nullptr without one.
  X509* peer_certificate() const;
  // What OpenSSL said about the last TLS failure ("" when none).
  const std::string& tls_error() const { return tls_error_; }

  // Closes the connection (pending operations complete with operation_aborted).
  void close();
  // Closes, forgets the TLS session, and gets a fresh unconnected socket.
  void reset();
  // Gives the connection away (see ChannelConnection); this object is then empty.
  ChannelConnection release();

 private:
  struct Op;
  void step_handshake(std::shared_ptr<Op> op);
  void step_read(std::shared_ptr<Op> op);
  void step_write(std::shared_ptr<Op> op);
  // Waits until the socket can do what OpenSSL asked for (`want` is
  // SSL_ERROR_WANT_READ / _WRITE), then calls `next`; other codes fail `op`.
  bool wait_for(int ssl_error, const std::shared_ptr<Op>& op, void (ClusterSocket::*next)(std::shared_ptr<Op>));
  void fail_tls(const std::shared_ptr<Op>& op, int ssl_error);

  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
  std::string tls_error_;
  // Bumped by close()/reset()/release(): completions of an older connection
  // find their generation stale and end with operation_aborted.
  std::shared_ptr<unsigned> generation_ = std::make_shared<unsigned>(0);
};

}  // namespace corvus::rachis
