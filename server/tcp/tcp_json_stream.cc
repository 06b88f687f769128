#include "server/tcp/tcp_json_stream.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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
  std::unique_lock lock(write_mu_, std::try_to_lock);
  if (!lock.owns_lock() || closed()) {
    close();
    return;
  }
  [[maybe_unused]] ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // Only our direction ends (FIN after the message): shutting the reading side
  // too would make the kernel answer the peer's next bytes with a reset, which
  // may reach it before it read why it was closed. The owner thread sees
  // closed() and stops within its next wait.
  closed_.store(true, std::memory_order_release);
  ::shutdown(fd_, SHUT_WR);
}

Status TcpJsonStream::write(std::string_view bytes) {
  std::lock_guard lock(write_mu_);
  while (!bytes.empty()) {
    if (closed()) return Status::ShuttingDown("the connection is closed");
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("cannot write to ") + peer_ + ": " + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
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
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Timeout("no message from " + peer_);
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("cannot read from ") + peer_ + ": " + std::strerror(errno));
    }
    if (r == 0) return Status::Timeout("no message from " + peer_);
    char buf[16 * 1024];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::IOError(std::string("cannot read from ") + peer_ + ": " + std::strerror(errno));
    }
    if (n == 0) {
      if (closed()) return Status::ShuttingDown("the connection is closed");
      return Status::IOError(peer_ + " closed the connection");
    }
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace corvus::server::tcp
