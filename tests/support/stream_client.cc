#include "tests/support/stream_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace corvus::testing {

StreamConnection::StreamConnection(uint16_t port, std::chrono::milliseconds timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) close();
}

StreamConnection::~StreamConnection() { close(); }

void StreamConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void StreamConnection::shutdown_send() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool StreamConnection::send(std::string_view bytes) {
  while (!bytes.empty() && fd_ >= 0) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return bytes.empty();
}

StreamedResponse StreamConnection::read_response(const std::function<void(std::string_view)>& sink) {
  StreamedResponse r;
  char buf[256 * 1024];
  auto fill = [&]() -> bool {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffered_.append(buf, static_cast<size_t>(n));
    return true;
  };
  size_t head_end;
  while ((head_end = buffered_.find("\r\n\r\n")) == std::string::npos) {
    if (fd_ < 0 || !fill()) {
      r.error = "connection closed before the response head";
      return r;
    }
  }
  std::string head = buffered_.substr(0, head_end);
  buffered_.erase(0, head_end + 4);
  size_t eol = head.find("\r\n");
  std::string status_line = head.substr(0, eol);
  if (status_line.size() < 12) {
    r.error = "bad status line";
    return r;
  }
  r.status = std::atoi(status_line.c_str() + 9);
  size_t pos = eol == std::string::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    std::string line = head.substr(pos, e == std::string::npos ? std::string::npos : e - pos);
    pos = e == std::string::npos ? head.size() : e + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t v = line.find_first_not_of(' ', colon + 1);
    r.headers[name] = v == std::string::npos ? "" : line.substr(v);
  }
  auto deliver = [&](std::string_view bytes) {
    r.body_bytes += bytes.size();
    if (sink) sink(bytes);
    else r.body.append(bytes);
  };
  if (r.header("transfer-encoding") == "chunked") return read_chunked_body(r, fill, deliver);
  uint64_t remaining = std::strtoull(r.header("content-length").c_str(), nullptr, 10);
  if (!buffered_.empty()) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, buffered_.size()));
    deliver(std::string_view(buffered_).substr(0, take));
    buffered_.erase(0, take);
    remaining -= take;
  }
  while (remaining > 0) {
    ssize_t n = ::recv(fd_, buf, static_cast<size_t>(std::min<uint64_t>(remaining, sizeof buf)), 0);
    if (n <= 0) {
      r.error = "connection closed with " + std::to_string(remaining) + " body bytes missing";
      r.status = 0;
      return r;
    }
    deliver(std::string_view(buf, static_cast<size_t>(n)));
    remaining -= static_cast<uint64_t>(n);
  }
  return r;
}

// Chunked framing: "<hex size>\r\n<bytes>\r\n" ... "0\r\n\r\n". A body cut
// off or malformed is an error (status 0), never a short success.
StreamedResponse StreamConnection::read_chunked_body(StreamedResponse& r, const std::function<bool()>& fill,
                                                     const std::function<void(std::string_view)>& deliver) {
  auto broken = [&](const std::string& why) {
    r.error = why + " (after " + std::to_string(r.body_bytes) + " body bytes)";
    r.status = 0;
    return r;
  };
  for (;;) {
    size_t eol;
    while ((eol = buffered_.find("\r\n")) == std::string::npos)
      if (fd_ < 0 || !fill()) return broken("connection closed in a chunk header");
    const std::string size_text = buffered_.substr(0, eol);
    char* end = nullptr;
    const uint64_t size = std::strtoull(size_text.c_str(), &end, 16);
    if (size_text.empty() || end != size_text.c_str() + size_text.size())
      return broken("bad chunk size '" + size_text + "'");
    buffered_.erase(0, eol + 2);
    if (size == 0) {
      while (buffered_.size() < 2)
        if (!fill()) return broken("connection closed after the last chunk");
      if (buffered_.compare(0, 2, "\r\n") != 0) return broken("trailers after the last chunk");
      buffered_.erase(0, 2);
      return r;
    }
    uint64_t remaining = size;
    while (remaining > 0) {
      if (buffered_.empty() && !fill()) return broken("connection closed inside a chunk");
      const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, buffered_.size()));
      deliver(std::string_view(buffered_).substr(0, take));
      buffered_.erase(0, take);
      remaining -= take;
    }
    while (buffered_.size() < 2)
      if (!fill()) return broken("connection closed after a chunk");
    if (buffered_.compare(0, 2, "\r\n") != 0) return broken("a chunk not followed by CRLF");
    buffered_.erase(0, 2);
  }
}

bool StreamConnection::closed_by_server() {
  char b[4096];
  while (fd_ >= 0) {
    ssize_t n = ::recv(fd_, b, sizeof b, 0);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;  // reset: closed; timeout: not
  }
  return true;
}

}  // namespace corvus::testing
