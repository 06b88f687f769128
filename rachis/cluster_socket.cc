#include "rachis/cluster_socket.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>

namespace corvus::rachis {
namespace asio = boost::asio;
using boost::system::error_code;

struct ClusterSocket::Op {
  Handler handler;
  unsigned generation = 0;
  bool server = false;                 // handshake
  char* rbuf = nullptr;                // read
  std::size_t rsize = 0, rdone = 0;
  std::string wdata;                   // write (the buffers, gathered)
  std::size_t wdone = 0;
};

ClusterSocket::ClusterSocket(asio::any_io_executor ex) : socket_(std::move(ex)) {}
ClusterSocket::ClusterSocket(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

ClusterSocket::~ClusterSocket() {
  if (ssl_) SSL_free(ssl_);
}

void ClusterSocket::async_handshake(SSL_CTX* ctx, bool server, Handler handler) {
  auto op = std::make_shared<Op>();
  op->handler = std::move(handler);
  op->generation = *generation_;
  op->server = server;
  error_code ec;
  socket_.non_blocking(true, ec);
  if (!ec) {
    ssl_ = SSL_new(ctx);
    if (!ssl_ || SSL_set_fd(ssl_, socket_.native_handle()) != 1) {
      tls_error_ = "cannot set up TLS";
      ec = asio::error::no_memory;
    }
  }
  if (ec) {
    asio::post(socket_.get_executor(), [op, ec] { op->handler(ec); });
    return;
  }
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
  step_handshake(std::move(op));
}

void ClusterSocket::step_handshake(std::shared_ptr<Op> op) {
  if (*generation_ != op->generation || !ssl_) {
    asio::post(socket_.get_executor(), [op] { op->handler(asio::error::operation_aborted); });
    return;
  }
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    asio::post(socket_.get_executor(), [op] { op->handler({}); });
    return;
  }
  wait_for(SSL_get_error(ssl_, r), op, &ClusterSocket::step_handshake);
}

void ClusterSocket::async_read(asio::mutable_buffer b, Handler handler) {
  if (!ssl_) {
    asio::async_read(socket_, b, [handler = std::move(handler)](error_code ec, std::size_t) { handler(ec); });
    return;
  }
  auto op = std::make_shared<Op>();
  op->handler = std::move(handler);
  op->generation = *generation_;
  op->rbuf = static_cast<char*>(b.data());
  op->rsize = b.size();
  step_read(std::move(op));
}

void ClusterSocket::step_read(std::shared_ptr<Op> op) {
  if (*generation_ != op->generation || !ssl_) {
    asio::post(socket_.get_executor(), [op] { op->handler(asio::error::operation_aborted); });
    return;
  }
  while (op->rdone < op->rsize) {
    ERR_clear_error();
    const int n = SSL_read(ssl_, op->rbuf + op->rdone, static_cast<int>(std::min<std::size_t>(op->rsize - op->rdone, INT_MAX)));
    if (n > 0) {
      op->rdone += static_cast<std::size_t>(n);
      continue;
    }
    wait_for(SSL_get_error(ssl_, n), op, &ClusterSocket::step_read);
    return;
  }
  // Posted, not called: a caller reading frame after frame from OpenSSL's
  // buffer would otherwise recurse.
  asio::post(socket_.get_executor(), [op] { op->handler({}); });
}

void ClusterSocket::async_write(std::vector<asio::const_buffer> buffers, Handler handler) {
  if (!ssl_) {
    asio::async_write(socket_, buffers, [handler = std::move(handler)](error_code ec, std::size_t) { handler(ec); });
    return;
  }
  auto op = std::make_shared<Op>();
  op->handler = std::move(handler);
  op->generation = *generation_;
  std::size_t total = 0;
  for (const auto& b : buffers) total += b.size();
  op->wdata.reserve(total);
  for (const auto& b : buffers) op->wdata.append(static_cast<const char*>(b.data()), b.size());
  step_write(std::move(op));
}

void ClusterSocket::step_write(std::shared_ptr<Op> op) {
  if (*generation_ != op->generation || !ssl_) {
    asio::post(socket_.get_executor(), [op] { op->handler(asio::error::operation_aborted); });
    return;
  }
  while (op->wdone < op->wdata.size()) {
    ERR_clear_error();
    const int n = SSL_write(ssl_, op->wdata.data() + op->wdone,
                            static_cast<int>(std::min<std::size_t>(op->wdata.size() - op->wdone, INT_MAX)));
    if (n > 0) {
      op->wdone += static_cast<std::size_t>(n);
      continue;
    }
    wait_for(SSL_get_error(ssl_, n), op, &ClusterSocket::step_write);
    return;
  }
  asio::post(socket_.get_executor(), [op] { op->handler({}); });
}

bool ClusterSocket::wait_for(int ssl_error, const std::shared_ptr<Op>& op,
                             void (ClusterSocket::*next)(std::shared_ptr<Op>)) {
  if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE) {
    fail_tls(op, ssl_error);
    return false;
  }
  const auto what = ssl_error == SSL_ERROR_WANT_READ ? asio::ip::tcp::socket::wait_read
                                                     : asio::ip::tcp::socket::wait_write;
  socket_.async_wait(what, [this, op, next](error_code ec) {
    if (ec) return op->handler(ec);
    (this->*next)(op);
  });
  return true;
}

void ClusterSocket::fail_tls(const std::shared_ptr<Op>& op, int ssl_error) {
  error_code ec = asio::error::eof;
  if (ssl_error == SSL_ERROR_SSL) {
    char why[256] = {0};
    ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
    tls_error_ = why;
    ec = asio::error::connection_aborted;
  } else if (ssl_error == SSL_ERROR_SYSCALL && errno != 0) {
    tls_error_ = std::strerror(errno);
    ec = asio::error::connection_reset;
  } else if (ssl_error != SSL_ERROR_ZERO_RETURN && ssl_error != SSL_ERROR_SYSCALL) {
    tls_error_ = "TLS error " + std::to_string(ssl_error);
    ec = asio::error::connection_aborted;
  } else {
    tls_error_ = "the peer closed the connection";
  }
  ERR_clear_error();
  asio::post(socket_.get_executor(), [op, ec] { op->handler(ec); });
}

X509* ClusterSocket::peer_certificate() const { return ssl_ ? SSL_get0_peer_certificate(ssl_) : nullptr; }

void ClusterSocket::close() {
  ++*generation_;
  error_code ignored;
  socket_.close(ignored);
}

void ClusterSocket::reset() {
  close();
  if (ssl_) SSL_free(ssl_);
  ssl_ = nullptr;
  tls_error_.clear();
  socket_ = asio::ip::tcp::socket(socket_.get_executor());
}

ChannelConnection ClusterSocket::release() {
  ++*generation_;
  ChannelConnection out;
  error_code ec;
  out.fd = socket_.release(ec);
  if (ec) {
    out.fd = -1;
    if (ssl_) SSL_free(ssl_);
  } else {
    out.ssl = ssl_;
  }
  ssl_ = nullptr;
  return out;
}

}  // namespace corvus::rachis
