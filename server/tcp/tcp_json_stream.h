#pragma once
// TcpJsonStream: one accepted TCP connection of the TCP listener, speaking
// what RavenDB's TCP protocol is: JSON values written back to back with no
// framing (whitespace between them is allowed and is what heartbeats are).
// read_value() parses incrementally (boost::json::stream_parser) and keeps
// the bytes after a value for the next call.
//
// On a server with a certificate the connection is TLS (accept_tls(), then
// the socket is non-blocking and every OpenSSL call on it is made under one
// mutex, so the reader and a writer on another thread never use the SSL
// object at once).
//
// Owned (shared_ptr) by the connection's thread in TcpListener; a registry
// may hold another reference to close it from elsewhere. Thread-safety: one
// reader thread; write() may be called from any thread (a mutex keeps each
// message whole); close() from any thread unblocks a reader or writer (the
// socket is shut down, the descriptor is closed only by the destructor).

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <atomic>

#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>
#include <openssl/ssl.h>

#include "storage/status.h"

namespace corvus::server::tcp {

class TcpJsonStream {
 public:
  // Takes ownership of the connected socket `fd`. Values larger than
  // `max_value_bytes` are refused (InvalidArgument) so a client cannot make
  // the server buffer without limit.
  TcpJsonStream(int fd, std::size_t max_value_bytes);
  ~TcpJsonStream();
  TcpJsonStream(const TcpJsonStream&) = delete;
  TcpJsonStream& operator=(const TcpJsonStream&) = delete;

  // The TLS handshake as the server, with `ctx` (which asks for a client
  // certificate and accepts any: authorization judges it). IOError when it
  // fails or does not finish within `timeout`. Before any read or write.
  Status accept_tls(SSL_CTX* ctx, std::chrono::milliseconds timeout);
  // The TLS handshake as the client (a pull replication sink dialing its
  // hub), with `ctx` (its certificate; the server's is checked by the caller
  // against what the hub advertises). Same errors as accept_tls.
  Status connect_tls(SSL_CTX* ctx, std::chrono::milliseconds timeout);
  // Takes over a TLS session already established on this stream's socket
  // (the cluster port hands a database replication connection over with its
  // session: rachis::ChannelConnection). Owns `ssl` from the call on. Before
  // any read or write.
  void adopt_tls(SSL* ssl);
  // The certificate the client presented over TLS; nullptr without one (or
  // without TLS). Owned by the stream.
  X509* peer_certificate() const;

  // The next JSON value. Timeout when none completed within `timeout` (what
  // was read so far is kept); IOError when the peer closed or the socket
  // failed; InvalidArgument when the bytes are not JSON or too large;
  // ShuttingDown after close().
  Result<boost::json::value> read_value(std::chrono::milliseconds timeout);
  // Writes `bytes` whole (blocking). IOError when the socket failed,
  // ShuttingDown after close().
  Status write(std::string_view bytes);
  // The same, but IOError when a write makes no progress for `stall` (a
  // peer that stopped reading).
  Status write(std::string_view bytes, std::chrono::milliseconds stall);
  // Raw bytes after the JSON header exchange (pull replication's frames;
  // tcp_byte_stream.h): first what read_value() buffered, then the socket.
  // Timeout, IOError (closed), ShuttingDown as read_value(); Busy as soon as
  // `wake_fd` (an eventfd, -1: none) is readable (drained).
  Result<std::size_t> read_bytes(char* buf, std::size_t size, std::chrono::milliseconds timeout, int wake_fd);
  // Shuts the socket down: blocked and later reads and writes fail. Any thread.
  void close();
  // Writes `bytes` if the write under way (a heartbeat, a batch) ends within
  // 200 ms and the socket takes them without blocking, then ends the
  // connection (our side: the peer reads the message, then the end; without
  // the write, close()). For telling a connection why it is closed from a
  // thread that must not wait long for a slow peer.
  void try_write_then_close(std::string_view bytes);
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  // The peer's address, for logs.
  const std::string& peer() const { return peer_; }

 private:
  // > 0 bytes read; 0 the peer closed; -1 failed (`*error`); -2 timed out;
  // -3 woken by `wake_fd`.
  long read_some(char* buf, std::size_t size, std::chrono::steady_clock::time_point deadline, std::string* error,
                 int wake_fd = -1);
  Status handshake_tls(SSL_CTX* ctx, bool server, std::chrono::milliseconds timeout);
  // One SSL_read/SSL_write under ssl_mu_: > 0 done, else the SSL_get_error code (negated).
  int ssl_call(bool write, char* buf, std::size_t size);

  int fd_;
  SSL* ssl_ = nullptr;  // TLS only
  std::mutex ssl_mu_;   // every OpenSSL call on ssl_
  std::size_t max_value_bytes_;
  std::string peer_;
  std::atomic<bool> closed_{false};
  std::timed_mutex write_mu_;
  boost::json::stream_parser parser_;
  std::size_t value_bytes_ = 0;  // bytes fed into the value being parsed
  std::string pending_;          // read but not yet parsed
};

}  // namespace corvus::server::tcp
