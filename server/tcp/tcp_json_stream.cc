#include "server/tcp/tcp_json_stream.h"

#include <arpa/inet.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/err.h>

namespace corvus::server::tcp {

namespace {

std::string peer_of(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

bool is_space(char c) { return c == ' ' || c == '\r' || c == '\n' || c == '\t'; }

}  // namespace

TcpJsonStream::TcpJsonStream(int fd, std::size_t max_value_bytes)
    : fd_(fd), max_value_bytes_(max_value_bytes), peer_(peer_of(fd)) {}

TcpJsonStream::~TcpJsonStream() {
  if (ssl_) SSL_free(ssl_);
  // Read what the peer still sent before closing: closing with unread bytes
  // makes the kernel answer with a reset, which can destroy the last message
  // we wrote before the peer reads it.
  char buf[4096];
  while (::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
  }
  ::close(fd_);
}

void TcpJsonStream::close() {
  closed_.store(true, std::memory_order_release);
  ::shutdown(fd_, SHUT_RDWR);
}

void TcpJsonStream::try_write_then_close(std::string_view bytes) {
  // Waiting a little: a worker taken over is usually writing a heartbeat,
  // and without the wait it was closed without being told why (seen under
  // a loaded full test run).
  constexpr std::chrono::milliseconds kTellWait{200};
  std::unique_lock lock(write_mu_, kTellWait);
  if (!lock.owns_lock() || closed()) {
    close();
    return;
  }
  if (ssl_) {
    // Non-blocking socket: one attempt.
    ssl_call(true, const_cast<char*>(bytes.data()), bytes.size());
  } else {
    [[maybe_unused]] ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  // Only our direction ends (FIN after the message): shutting the reading side
  // too would make the kernel answer the peer's next bytes with a reset, which
  // may reach it before it read why it was closed. The owner thread sees
  // closed() and stops within its next wait.
  closed_.store(true, std::memory_order_release);
  ::shutdown(fd_, SHUT_WR);
}

Status TcpJsonStream::accept_tls(SSL_CTX* ctx, std::chrono::milliseconds timeout) {
  return handshake_tls(ctx, true, timeout);
}

Status TcpJsonStream::connect_tls(SSL_CTX* ctx, std::chrono::milliseconds timeout) {
  return handshake_tls(ctx, false, timeout);
}

Status TcpJsonStream::handshake_tls(SSL_CTX* ctx, bool server, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  ssl_ = SSL_new(ctx);
  if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) return Status::IOError("cannot set up TLS for " + peer_);
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  for (;;) {
    ERR_clear_error();
    const int r = server ? SSL_accept(ssl_) : SSL_connect(ssl_);
    if (r == 1) return Status::Ok();
    const int err = SSL_get_error(ssl_, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      char why[256] = {0};
      ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
      return Status::IOError("TLS handshake with " + peer_ + " failed: " + why);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || closed()) return Status::IOError("TLS handshake with " + peer_ + " did not finish");
    pollfd p{fd_, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

void TcpJsonStream::adopt_tls(SSL* ssl) {
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  ssl_ = ssl;
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

X509* TcpJsonStream::peer_certificate() const { return ssl_ ? SSL_get0_peer_certificate(ssl_) : nullptr; }

int TcpJsonStream::ssl_call(bool write, char* buf, std::size_t size) {
  std::lock_guard lock(ssl_mu_);
  ERR_clear_error();
  const int n = write ? SSL_write(ssl_, buf, static_cast<int>(size)) : SSL_read(ssl_, buf, static_cast<int>(size));
  return n > 0 ? n : -SSL_get_error(ssl_, n);
}

long TcpJsonStream::read_some(char* buf, std::size_t size, std::chrono::steady_clock::time_point deadline,
                              std::string* error, int wake_fd) {
  for (;;) {
    short wait_for = POLLIN;
    if (ssl_) {
      const int n = ssl_call(false, buf, size);
      if (n > 0) return n;
      if (-n == SSL_ERROR_ZERO_RETURN || -n == SSL_ERROR_SYSCALL) return 0;  // closed, with or without close_notify
      if (-n == SSL_ERROR_WANT_WRITE) {
        wait_for = POLLOUT;
      } else if (-n != SSL_ERROR_WANT_READ) {
        *error = "TLS error " + std::to_string(-n);
        return -1;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return -2;
    pollfd p[2] = {{fd_, wait_for, 0}, {wake_fd, POLLIN, 0}};
    const int r = ::poll(p, wake_fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
    if (r < 0) {
      if (errno == EINTR) continue;
      *error = std::strerror(errno);
      return -1;
    }
    if (r == 0) return -2;
    if (wake_fd >= 0 && (p[1].revents & POLLIN)) {
      uint64_t drained = 0;
      [[maybe_unused]] ssize_t got = ::read(wake_fd, &drained, sizeof drained);
      return -3;
    }
    if (ssl_) continue;
    const ssize_t n = ::recv(fd_, buf, size, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      *error = std::strerror(errno);
      return -1;
    }
    return n;
  }
}

Status TcpJsonStream::write(std::string_view bytes) { return write(bytes, std::chrono::milliseconds(0)); }

Status TcpJsonStream::write(std::string_view bytes, std::chrono::milliseconds stall) {
  std::lock_guard lock(write_mu_);
  auto progress = std::chrono::steady_clock::now();
  const auto stalled = [&] { return stall.count() > 0 && std::chrono::steady_clock::now() - progress > stall; };
  while (!bytes.empty()) {
    if (closed()) return Status::ShuttingDown("the connection is closed");
    if (stalled()) return Status::IOError(peer_ + " stopped reading");
    if (ssl_) {
      const int n = ssl_call(true, const_cast<char*>(bytes.data()), bytes.size());
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        progress = std::chrono::steady_clock::now();
        continue;
      }
      if (-n != SSL_ERROR_WANT_WRITE && -n != SSL_ERROR_WANT_READ) {
        return Status::IOError("cannot write to " + peer_ + ": TLS error " + std::to_string(-n));
      }
      pollfd p{fd_, static_cast<short>(-n == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
      ::poll(&p, 1, 1000);  // then look at closed() again
      continue;
    }
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | (stall.count() > 0 ? MSG_DONTWAIT : 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 1000);
        continue;
      }
      return Status::IOError(std::string("cannot write to ") + peer_ + ": " + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    progress = std::chrono::steady_clock::now();
  }
  return Status::Ok();
}

Result<std::size_t> TcpJsonStream::read_bytes(char* buf, std::size_t size, std::chrono::milliseconds timeout,
                                              int wake_fd) {
  if (closed()) return Status::ShuttingDown("the connection is closed");
  if (!pending_.empty()) {
    const std::size_t n = std::min(size, pending_.size());
    pending_.copy(buf, n);
    pending_.erase(0, n);
    return n;
  }
  std::string error;
  const long n = read_some(buf, size, std::chrono::steady_clock::now() + timeout, &error, wake_fd);
  if (n == -3) return Status::Busy("woken");
  if (n == -2) return Status::Timeout("no bytes from " + peer_);
  if (n == -1) return Status::IOError("cannot read from " + peer_ + ": " + error);
  if (n == 0) {
    if (closed()) return Status::ShuttingDown("the connection is closed");
    return Status::IOError(peer_ + " closed the connection");
  }
  return static_cast<std::size_t>(n);
}

Result<boost::json::value> TcpJsonStream::read_value(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (closed()) return Status::ShuttingDown("the connection is closed");
    // Feed what is buffered; skip whitespace between values (heartbeats).
    std::size_t skip = 0;
    if (value_bytes_ == 0) {
      while (skip < pending_.size() && is_space(pending_[skip])) ++skip;
    }
    if (skip < pending_.size()) {
      boost::system::error_code ec;
      const std::size_t used = parser_.write_some(pending_.data() + skip, pending_.size() - skip, ec);
      if (ec) {
        parser_.reset();
        value_bytes_ = 0;
        pending_.clear();
        return Status::InvalidArgument("the peer sent something that is not JSON: " + ec.message());
      }
      value_bytes_ += used;
      pending_.erase(0, skip + used);
      if (parser_.done()) {
        boost::json::value v = parser_.release();
        parser_.reset();
        value_bytes_ = 0;
        return v;
      }
      if (value_bytes_ > max_value_bytes_) {
        return Status::InvalidArgument("the peer sent a JSON value of more than " + std::to_string(max_value_bytes_) +
                                       " bytes");
      }
    } else {
      pending_.clear();
    }
    char buf[16 * 1024];
    std::string error;
    const long n = read_some(buf, sizeof(buf), deadline, &error);
    if (n == -2) return Status::Timeout("no message from " + peer_);
    if (n == -1) return Status::IOError("cannot read from " + peer_ + ": " + error);
    if (n == 0) {
      if (closed()) return Status::ShuttingDown("the connection is closed");
      return Status::IOError(peer_ + " closed the connection");
    }
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace corvus::server::tcp
