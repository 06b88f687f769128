#include "tests/support/one_shot_request.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

namespace corvus::testing {
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

Answer send_request(uint16_t port, const std::string& method, const std::string& target, const std::string& body,
                    std::chrono::milliseconds timeout) {
  Answer answer;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return answer;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    answer.error = std::string("connect: ") + std::strerror(errno);
    return answer;
  }
  answer.sent = true;
  timeval slice{0, 100'000};  // each send/recv waits at most this; the loop checks the deadline
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof slice);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &slice, sizeof slice);
  const auto deadline = Clock::now() + timeout;

  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body.empty() || method == "PUT" || method == "POST") {
    request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  for (std::size_t off = 0; off < request.size();) {
    const ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) && Clock::now() < deadline) {
      continue;
    } else {
      answer.error = std::string("send: ") + (n < 0 ? std::strerror(errno) : "timeout");
      return answer;
    }
  }

  std::string raw;
  char buf[16384];
  while (Clock::now() < deadline) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (n < 0) {
      answer.error = std::string("recv: ") + std::strerror(errno);
      return answer;
    }
    raw.append(buf, static_cast<std::size_t>(n));
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(64u << 20);
    boost::system::error_code ec;
    for (std::size_t used = 0; used < raw.size() && !ec && !parser.is_done();) {
      const std::size_t taken = parser.put(boost::asio::buffer(raw.data() + used, raw.size() - used), ec);
      if (taken == 0 || ec == http::error::need_more) break;
      used += taken;
    }
    // Closed: a body without a length ends here. Closed before any byte is no
    // answer (and Beast would call an empty message complete).
    if (n == 0 && !parser.is_done() && parser.got_some()) parser.put_eof(ec);
    if (parser.is_done()) {
      answer.status = static_cast<int>(parser.get().result_int());
      answer.head = raw.substr(0, raw.find("\r\n\r\n"));
      answer.body = parser.get().body();
      return answer;
    }
    if (n == 0 || (ec && ec != http::error::need_more)) {
      answer.error = n == 0 ? "closed after " + std::to_string(raw.size()) + " bytes" : "bad answer: " + ec.message();
      return answer;
    }
  }
  answer.error = "no answer within " + std::to_string(timeout.count()) + " ms";
  return answer;
}

}  // namespace corvus::testing
