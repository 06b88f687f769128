#pragma once
// Response: what a Handler produces; a plain value type moved into Respond.
//
// The Connection adds Server, Raven-Server-Version, Request-Id, Content-Type (when
// non-empty), Content-Length and Connection headers itself; `headers` holds only the
// handler's extra ones (ETag, Refresh-Topology, ...). Header names/values containing
// CR or LF are dropped. For HEAD requests the body is not sent but its size is
// reported as Content-Length; 204 and 304 never carry a body or Content-Length.
// A body of unknown length (Response::stream_until_end) goes out with
// Transfer-Encoding: chunked to HTTP/1.1 clients and ended by closing the
// connection for HTTP/1.0 ones.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace corvus::server::http {

class WebSocketEndpoint;  // websocket.h

// A response body too large to hold in memory (an attachment, a query
// stream): the Connection pulls it chunk by chunk as the client reads, with a
// bounded idle time per chunk. Used only by the connection's strand, one call
// at a time; a read must not block for long (it holds an I/O thread).
class BodySource {
 public:
  virtual ~BodySource() = default;
  // Fills up to `n` bytes; returns how many (0 only at the end), or -1 on a
  // failed read (the connection is then closed: the status line was sent, and
  // a chunked body is left without its terminating chunk, so the client sees
  // a broken response rather than a complete-looking short one).
  virtual int64_t read(char* out, size_t n) = 0;
};

struct Response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is `source_length` bytes pulled from `source` (and `body` is unused);
  // with `source_length_known` false, whatever the source gives until it returns 0.
  std::shared_ptr<BodySource> source;
  uint64_t source_length = 0;
  bool source_length_known = true;
  // When set, the connection becomes a WebSocket served by this endpoint
  // (websocket.h): status, body and headers are not sent as such; a request
  // that is not a WebSocket upgrade gets 400 instead.
  std::shared_ptr<WebSocketEndpoint> websocket;

  static Response json(unsigned status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  // No body, Content-Length: 0, no Content-Type.
  static Response empty(unsigned status) {
    Response r;
    r.status = status;
    r.content_type.clear();
    return r;
  }
  static Response stream(unsigned status, std::string content_type, std::shared_ptr<BodySource> source,
                         uint64_t length) {
    Response r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.source = std::move(source);
    r.source_length = length;
    return r;
  }
  // A body whose length is known only at its end (streamed query results):
  // chunked transfer encoding, or close-delimited for HTTP/1.0 clients.
  static Response stream_until_end(unsigned status, std::string content_type, std::shared_ptr<BodySource> source) {
    Response r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.source = std::move(source);
    r.source_length_known = false;
    return r;
  }
  static Response websocket_upgrade(std::shared_ptr<WebSocketEndpoint> endpoint) {
    Response r;
    r.status = 101;
    r.content_type.clear();
    r.websocket = std::move(endpoint);
    return r;
  }
  Response& with_header(std::string name, std::string value) & {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  Response&& with_header(std::string name, std::string value) && {
    headers.emplace_back(std::move(name), std::move(value));
    return std::move(*this);
  }
};

// Completes a request. Call exactly once, from any thread; the Connection posts the
// write onto its own strand. If the connection has died (or the server shut down)
// meanwhile the response is dropped. Cheap to copy (one pointer).
using Respond = std::function<void(Response)>;

struct Request;
// Runs on an I/O thread. The Request stays alive until Respond is called. A handler
// that throws gets a 500 JSON error sent for it (unless it already responded).
using Handler = std::function<void(const Request&, Respond)>;

}  // namespace corvus::server::http
