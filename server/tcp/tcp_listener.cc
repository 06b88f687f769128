#include "server/tcp/tcp_listener.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>

#include "server/logging/logger.h"

namespace corvus::server::tcp {
namespace json = boost::json;

namespace {

// How long a new connection may take to send its header.
constexpr auto kHeaderTimeout = std::chrono::seconds(30);
// A client that keeps proposing versions we answered is not negotiating.
constexpr int kMaxNegotiationRounds = 8;

}  // namespace

Result<std::unique_ptr<TcpListener>> TcpListener::bind(const TcpListenerOptions& options) {
  std::unique_ptr<TcpListener> l(new TcpListener());
  l->options_ = options;
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, options.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options.port);
    len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, options.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options.port);
    len = sizeof(sockaddr_in6);
  } else {
    return Status::InvalidArgument("the TCP listener needs an IP address, not '" + options.host + "'");
  }
  const std::string where = options.host + ":" + std::to_string(options.port);
  l->listen_fd_ = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l->listen_fd_ < 0) return Status::IOError("cannot create the TCP listener socket: " + std::string(std::strerror(errno)));
  int one = 1;
  ::setsockopt(l->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(l->listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(l->listen_fd_, 128) != 0) {
    return Status::IOError("cannot listen for TCP on " + where + ": " + std::strerror(errno));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  ::getsockname(l->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  l->port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                              : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  l->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (l->wake_fd_ < 0) return Status::IOError("cannot create an eventfd: " + std::string(std::strerror(errno)));
  return l;
}

TcpListener::~TcpListener() {
  stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void TcpListener::add_handler(const std::string& operation, TcpOperationHandler* handler) {
  handlers_[operation] = handler;
}

void TcpListener::start() { accept_thread_ = std::thread([this] { accept_loop(); }); }

void TcpListener::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  std::list<std::unique_ptr<Connection>> connections;
  {
    std::lock_guard lock(mu_);
    connections.swap(connections_);
  }
  for (auto& c : connections) c->stream->close();
  for (auto& c : connections) {
    if (c->thread.joinable()) c->thread.join();
  }
}

void TcpListener::reap_finished() {
  std::list<std::unique_ptr<Connection>> done;
  {
    std::lock_guard lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->finished.load(std::memory_order_acquire)) {
        done.push_back(std::move(*it));
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : done) c->thread.join();
}

void TcpListener::accept_loop() {
  while (!stopping_.load(std::memory_order_acquire)) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int r = ::poll(fds, 2, 1000);
    reap_finished();
    if (r < 0 && errno != EINTR) {
      log::error("tcp listener poll failed").kv("error", std::strerror(errno));
      return;
    }
    if (r <= 0 || !(fds[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    auto conn = std::make_unique<Connection>();
    conn->stream = std::make_shared<TcpJsonStream>(fd, options_.max_value_bytes);
    Connection* raw = conn.get();
    {
      std::lock_guard lock(mu_);
      if (stopping_.load(std::memory_order_acquire)) break;  // conn closes with its stream
      connections_.push_back(std::move(conn));
      raw->thread = std::thread([this, raw] {
        serve_connection(raw->stream);
        raw->finished.store(true, std::memory_order_release);
      });
    }
  }
}

void TcpListener::serve_connection(std::shared_ptr<TcpJsonStream> stream) {
  if (options_.tls) {
    if (Status s = stream->accept_tls(options_.tls, kHeaderTimeout); !s.ok()) {
      log::info("tcp connection without TLS handshake").kv("peer", stream->peer()).kv("why", s.message());
      return;
    }
  }
  for (int round = 0; round < kMaxNegotiationRounds; ++round) {
    auto value = stream->read_value(kHeaderTimeout);
    if (!value.ok()) {
      if (value.status().code() != StatusCode::ShuttingDown) {
        log::info("tcp connection ended before its header").kv("peer", stream->peer()).kv("why", value.status().message());
      }
      return;
    }
    auto header = parse_connection_header(value.value());
    if (!header.ok()) {
      NegotiationReply bad;
      bad.version = -1;
      bad.message = header.status().message();
      stream->write(json::serialize(bad.to_json())).ignore_error();
      return;
    }
    // A client that could not agree asks us to drop the connection.
    if (header.value().operation == "Drop") return;
    if (options_.authorize) {
      if (auto refusal = options_.authorize(header.value(), stream->peer_certificate())) {
        json::object denied{{"Status", "AuthorizationFailed"}, {"Version", -2}, {"Message", *refusal}};
        stream->write(json::serialize(denied)).ignore_error();
        return;
      }
    }
    auto it = handlers_.find(header.value().operation);
    const std::vector<std::int64_t> versions = it == handlers_.end() ? std::vector<std::int64_t>{} : it->second->versions();
    NegotiationReply reply = negotiate(versions, header.value());
    if (!stream->write(json::serialize(reply.to_json())).ok()) return;
    if (reply.agreed) {
      it->second->serve(stream, header.value());
      return;
    }
    if (reply.version < 0) return;  // nothing to agree on: the client gives up
  }
}

}  // namespace corvus::server::tcp
