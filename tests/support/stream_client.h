#pragma once
// StreamConnection: one raw HTTP/1.1 connection for tests that stream bodies
// (attachments, query streams): the test writes the request head and body bytes itself (so
// it can send 2 GB generated on the fly, or stop half way) and reads the
// response body chunk by chunk. Every socket call is bounded by the timeout.
// Not thread-safe; one owner.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace corvus::testing {

struct StreamedResponse {
  int status = 0;  // 0: no (complete) response
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;  // when no sink was given
  uint64_t body_bytes = 0;
  std::string error;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class StreamConnection {
 public:
  StreamConnection(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~StreamConnection();
  StreamConnection(const StreamConnection&) = delete;
  StreamConnection& operator=(const StreamConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends `bytes` completely; false on error or timeout.
  bool send(std::string_view bytes);
  // Reads one response (Content-Length or chunked). The body goes to `sink` in
  // chunks when given (then `body` stays empty), else into `body`.
  StreamedResponse read_response(const std::function<void(std::string_view)>& sink = nullptr);
  // Whether the server closed the connection (reads EOF or an error within the timeout).
  bool closed_by_server();
  void close();
  // Half-close: the server reads EOF (a body cut off) but can still answer.
  void shutdown_send();

 private:
  StreamedResponse read_chunked_body(StreamedResponse& r, const std::function<bool()>& fill,
                                     const std::function<void(std::string_view)>& deliver);

  int fd_ = -1;
  std::string buffered_;
};

}  // namespace corvus::testing
