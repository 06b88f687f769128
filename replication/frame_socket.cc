#include "replication/frame_socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corvus::replication {
namespace {

// A send that makes no progress this long means the peer stopped reading.
constexpr auto kSendStall = std::chrono::seconds(5);

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

void set_blocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

// The length (kind byte included), little-endian, then the kind.
void append_header(std::string& out, char kind, size_t payload_size) {
  const auto n = static_cast<std::uint32_t>(payload_size + 1);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.push_back(kind);
}

void tune(int fd) {
  set_blocking(fd);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{};
  tv.tv_sec = kSendStall.count();
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

PlainByteStream::PlainByteStream(int fd) : fd_(fd) { tune(fd_); }

PlainByteStream::~PlainByteStream() {
  if (fd_ >= 0) ::close(fd_);
}

Status PlainByteStream::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::IOError("the peer stopped reading");
      return Status::IOError(errno_text("send"));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Result<size_t> PlainByteStream::read_some(char* buf, size_t size, std::chrono::milliseconds timeout, int wake_fd) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Timeout("no bytes within " + std::to_string(timeout.count()) + " ms");
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const int ready = ::poll(p, wake_fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return Status::IOError(errno_text("poll"));
    if (ready <= 0) continue;
    if (wake_fd >= 0 && (p[1].revents & POLLIN)) {
      uint64_t drained = 0;
      [[maybe_unused]] ssize_t r = ::read(wake_fd, &drained, sizeof drained);
      return Status::Busy("woken");
    }
    const ssize_t got = ::recv(fd_, buf, size, MSG_DONTWAIT);
    if (got == 0) return Status::IOError("connection closed by the peer");
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return Status::IOError(errno_text("recv"));
    }
    return static_cast<size_t>(got);
  }
}

void PlainByteStream::shutdown() { ::shutdown(fd_, SHUT_RDWR); }

FrameSocket::FrameSocket(int fd) : stream_(std::make_unique<PlainByteStream>(fd)) {}

FrameSocket::FrameSocket(std::unique_ptr<ByteStream> stream) : stream_(std::move(stream)) {}

FrameSocket::~FrameSocket() = default;

Result<int> connect_tcp(const std::string& address, std::chrono::milliseconds timeout) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return Status::Busy("bad address '" + address + "'");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Status::Busy("cannot resolve " + address + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last_error = errno_text("socket");
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_error = errno_text("connect");
      ::close(fd);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      last_error = err ? std::string("connect: ") + std::strerror(err) : "connect timed out";
      ::close(fd);
      continue;
    }
    return fd;
  }
  return Status::Busy("cannot connect to " + address + ": " + last_error);
}

Result<std::unique_ptr<FrameSocket>> FrameSocket::connect(const std::string& address,
                                                          std::chrono::milliseconds timeout) {
  auto fd = connect_tcp(address, timeout);
  if (!fd.ok()) return fd.status();
  return std::make_unique<FrameSocket>(fd.value());
}

void FrameSocket::append_frame(std::string& out, char kind, std::string_view payload) {
  append_header(out, kind, payload.size());
  out.append(payload);
}

Status FrameSocket::send(char kind, std::string_view payload) {
  // Small frames are copied so that header and payload leave in one write.
  constexpr size_t kCopyBelow = 64 * 1024;
  if (payload.size() < kCopyBelow) {
    std::string frame;
    frame.reserve(payload.size() + 5);
    append_frame(frame, kind, payload);
    return send_frames(frame);
  }
  std::string header;
  append_header(header, kind, payload.size());
  std::lock_guard lock(send_mu_);
  if (Status s = stream_->write_all(header); !s.ok()) return s;
  return stream_->write_all(payload);
}

Status FrameSocket::send_frames(std::string_view frames) {
  std::lock_guard lock(send_mu_);
  return stream_->write_all(frames);
}

Result<Frame> FrameSocket::receive(std::chrono::milliseconds timeout, int wake_fd) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (buffer_.size() >= 4) {
      const auto* b = reinterpret_cast<const unsigned char*>(buffer_.data());
      const std::uint32_t n = std::uint32_t(b[0]) | (std::uint32_t(b[1]) << 8) | (std::uint32_t(b[2]) << 16) |
                              (std::uint32_t(b[3]) << 24);
      if (n == 0 || n > kMaxFrameBytes) return Status::Corruption("impossible frame length " + std::to_string(n));
      if (buffer_.size() >= 4 + size_t(n)) {
        Frame f{buffer_[4], buffer_.substr(5, n - 1)};
        buffer_.erase(0, 4 + size_t(n));
        return f;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Timeout("no frame within " + std::to_string(timeout.count()) + " ms");
    char chunk[64 * 1024];
    auto got = stream_->read_some(chunk, sizeof chunk, left, wake_fd);
    if (!got.ok()) {
      if (got.status().code() == StatusCode::Timeout) continue;  // the deadline check above answers
      return got.status();
    }
    buffer_.append(chunk, *got);
  }
}

void FrameSocket::shutdown() { stream_->shutdown(); }

}  // namespace corvus::replication
