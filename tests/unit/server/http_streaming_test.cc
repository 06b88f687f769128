// Streamed bodies in the HttpServer: a streaming route gets its body chunk by
// chunk (Content-Length and chunked), its own size limit, a per-chunk idle
// timeout for a stalled sender; a BodySource response is pulled as the client
// reads, and a client that stops reading is dropped after the idle timeout.
// In-process server on port 0, plain sockets.

#include "server/http/http_server.h"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include "server/http/error_response.h"

using namespace corvus;
using namespace corvus::server::http;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// Receives a streamed body, counting chunks and bytes; answers with them.
struct Upload {
  BodyReader* reader;
  Respond respond;
  size_t bytes = 0;
  size_t chunks = 0;
  uint64_t sum = 0;
};

void read_on(std::shared_ptr<Upload> up) {
  up->reader->read([up](bool ok, std::string_view chunk, bool done) {
    if (!ok) return up->respond(error_response(Status::InvalidArgument("body failed"), "/upload"));
    up->bytes += chunk.size();
    if (!chunk.empty()) ++up->chunks;
    for (unsigned char c : chunk) up->sum += c;
    if (done) {
      return up->respond(Response::json(201, "{\"bytes\":" + std::to_string(up->bytes) + ",\"chunks\":" +
                                                 std::to_string(up->chunks) + ",\"sum\":" + std::to_string(up->sum) +
                                                 "}"));
    }
    read_on(up);
  });
}

// `size` bytes of 'z', served in whatever chunks the connection asks for.
class Zeros final : public BodySource {
 public:
  explicit Zeros(std::atomic<uint64_t>& served) : served_(served) {}
  int64_t read(char* out, size_t n) override {
    std::memset(out, 'z', n);
    served_ += n;
    return static_cast<int64_t>(n);
  }

 private:
  std::atomic<uint64_t>& served_;
};

// `total` bytes of a repeating alphabet, handed out at most 70,000 at a time
// (so chunk sizes vary), then the end; or, with `fail`, a failed read there.
class Alphabet final : public BodySource {
 public:
  Alphabet(uint64_t total, bool fail) : total_(total), fail_(fail) {}
  int64_t read(char* out, size_t n) override {
    if (pos_ == total_) return fail_ ? -1 : 0;
    const size_t k = static_cast<size_t>(std::min<uint64_t>({n, 70000, total_ - pos_}));
    for (size_t i = 0; i < k; ++i) out[i] = static_cast<char>('a' + (pos_ + i) % 26);
    pos_ += k;
    return static_cast<int64_t>(k);
  }
  static std::string expected(uint64_t total) {
    std::string s(total, ' ');
    for (uint64_t i = 0; i < total; ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
  }

 private:
  uint64_t total_;
  bool fail_;
  uint64_t pos_ = 0;
};

struct Fixture {
  Router router;
  metrics::Registry registry;
  std::unique_ptr<HttpServer> server;
  std::atomic<uint64_t> served{0};

  Fixture() {
    RouteOptions streaming;
    streaming.streaming_body = true;
    router.add(bhttp::verb::put, "/upload", RouteAccess::Open, "upload", [](const Request& req, Respond respond) {
      REQUIRE(req.body_reader != nullptr);
      CHECK(req.body.empty());
      auto up = std::make_shared<Upload>();
      up->reader = req.body_reader;
      up->respond = std::move(respond);
      read_on(up);
    }, streaming);
    router.add(bhttp::verb::put, "/early", RouteAccess::Open, "early", [](const Request&, Respond respond) {
      respond(error_response(Status::NotFound("no such thing"), "/early"));  // without reading the body
    }, streaming);
    router.add(bhttp::verb::get, "/download/{n}", RouteAccess::Open, "download", [this](const Request& req, Respond respond) {
      const uint64_t n = std::stoull(std::string(req.param("n")));
      respond(Response::stream(200, "application/octet-stream", std::make_shared<Zeros>(served), n));
    });
    for (auto verb : {bhttp::verb::get, bhttp::verb::head}) {
      router.add(verb, "/unsized/{n}", RouteAccess::Open, "unsized", [](const Request& req, Respond respond) {
        const uint64_t n = std::stoull(std::string(req.param("n")));
        respond(Response::stream_until_end(200, "text/plain", std::make_shared<Alphabet>(n, false)));
      });
    }
    router.add(bhttp::verb::get, "/unsized-failing/{n}", RouteAccess::Open, "unsized_failing",
               [](const Request& req, Respond respond) {
                 const uint64_t n = std::stoull(std::string(req.param("n")));
                 respond(Response::stream_until_end(200, "text/plain", std::make_shared<Alphabet>(n, true)));
               });
    router.add(bhttp::verb::put, "/plain", RouteAccess::Open, "plain", [](const Request& req, Respond respond) {
      CHECK(req.body_reader == nullptr);
      respond(Response::json(201, "{\"len\":" + std::to_string(req.body.size()) + "}"));
    });
  }

  void start(HttpServerOptions opts = {}) {
    opts.host = "127.0.0.1";
    opts.port = 0;
    opts.threads = 2;
    auto s = HttpServer::start(opts, router, registry);
    REQUIRE(s.ok());
    server = std::move(s).value();
  }
};

class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void shutdown_send() { socket_.shutdown(tcp::socket::shutdown_send); }
  void write(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }
  bhttp::response<bhttp::string_body> read() {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    bhttp::read(socket_, buffer_, parser);
    return parser.release();
  }
  template <class Parser>
  void read_header(Parser& p) { bhttp::read_header(socket_, buffer_, p); }
  // Every byte until the server closes (10 s receive timeout: a server that
  // never closes fails the test instead of hanging it).
  std::string read_until_closed() {
    std::string out(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    const int fd = socket_.native_handle();
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b[65536];
    for (;;) {
      ssize_t n = ::recv(fd, b, sizeof b, 0);
      if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) out += "<timed out>";
        return out;
      }
      out.append(b, static_cast<size_t>(n));
    }
  }
  // Reads until EOF or reset, or `cap` bytes (a server that never closes
  // must not hang the test); how many bytes came.
  // Plain recv with a 10 s receive timeout, so a server that neither sends nor
  // closes fails the test (SIZE_MAX) instead of hanging it.
  size_t drain_until_closed(size_t cap = size_t{256} << 20) {
    size_t total = buffer_.size();
    buffer_.consume(buffer_.size());
    const int fd = socket_.native_handle();
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b[65536];
    while (total < cap) {
      ssize_t n = ::recv(fd, b, sizeof b, 0);
      if (n == 0) return total;  // closed
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? SIZE_MAX : total;  // timeout / reset
      total += static_cast<size_t>(n);
    }
    return total;
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

}  // namespace

TEST_CASE("HttpServer streaming: the handler pulls the body in chunks; keep-alive afterwards") {
  Fixture f;
  f.start();
  Client c(f.server->port());
  const std::string body(3 * 1024 * 1024 + 17, 'a');
  c.write("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  c.write(body);
  auto r = c.read();
  CHECK(r.result_int() == 201);
  CHECK(r.body().find("\"bytes\":3145745") != std::string::npos);
  CHECK(r.body().find("\"sum\":" + std::to_string(uint64_t{'a'} * body.size())) != std::string::npos);
  // More than one chunk: the body never sat in memory whole.
  CHECK(r.body().find("\"chunks\":1,") == std::string::npos);

  // Chunked transfer encoding, on the same connection.
  c.write("PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  r = c.read();
  CHECK(r.result_int() == 201);
  CHECK(r.body().find("\"bytes\":11") != std::string::npos);

  // A client that waits for "100 Continue" gets it when the handler reads.
  c.write("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  {
    bhttp::response_parser<bhttp::empty_body> interim;
    c.read_header(interim);
    CHECK(interim.get().result_int() == 100);
  }
  c.write("abcd");
  r = c.read();
  CHECK(r.result_int() == 201);
  CHECK(r.body().find("\"bytes\":4") != std::string::npos);

  // An ordinary route still gets its body whole, after a streamed one.
  c.write("PUT /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  r = c.read();
  CHECK(r.result_int() == 201);
  CHECK(r.body() == "{\"len\":3}");
}

TEST_CASE("HttpServer streaming: limits, early answers and failures") {
  Fixture f;
  HttpServerOptions opts;
  opts.max_body_bytes = 1024;  // ordinary routes
  opts.max_streamed_body_bytes = 1 << 20;
  opts.body_idle_timeout = std::chrono::milliseconds(200);
  f.start(opts);

  SUBCASE("a streamed body may exceed max_body_bytes") {
    Client c(f.server->port());
    const std::string body(100000, 'b');
    c.write("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + body);
    CHECK(c.read().result_int() == 201);
  }
  SUBCASE("a declared length over the streamed limit is 413 before anything is read") {
    Client c(f.server->port());
    c.write("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
    auto r = c.read();
    CHECK(r.result_int() == 413);
    CHECK(r.body().find("streamed body limit") != std::string::npos);
  }
  SUBCASE("a chunked body growing over the limit is 413, then close") {
    Client c(f.server->port());
    c.write("PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    const std::string chunk(64 * 1024, 'c');
    for (int i = 0; i < 18; ++i) c.write("10000\r\n" + chunk + "\r\n");  // 1.125 MiB: over the 1 MiB limit
    auto r = c.read();
    CHECK(r.result_int() == 413);
  }
  SUBCASE("a handler answering before reading the body: the answer arrives, then close") {
    Client c(f.server->port());
    c.write("PUT /early HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(1000, 'e'));
    auto r = c.read();
    CHECK(r.result_int() == 404);
    CHECK(r[bhttp::field::connection] == "close");
  }
  SUBCASE("a sender that stalls mid-body is dropped after the idle timeout") {
    Client c(f.server->port());
    c.write("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(1000, 's'));
    // Nothing more is sent: the per-chunk idle timeout closes the connection
    // (the handler is told the body failed; its answer has nowhere to go).
    CHECK(c.drain_until_closed() == 0);
  }
  SUBCASE("a body cut short (the client half-closes) is answered 400, then close") {
    Client c(f.server->port());
    c.write("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(1000, 's'));
    c.shutdown_send();
    auto r = c.read();
    CHECK(r.result_int() == 400);
    CHECK(r.body().find("not received completely") != std::string::npos);
  }
}

TEST_CASE("HttpServer streaming: a BodySource response, whole and to a client that stops reading") {
  Fixture f;
  HttpServerOptions opts;
  opts.body_idle_timeout = std::chrono::milliseconds(200);
  f.start(opts);
  {
    Client c(f.server->port());
    c.write("GET /download/5000000 HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.read();
    CHECK(r.result_int() == 200);
    CHECK(r.body().size() == 5000000);
    CHECK(r.body() == std::string(5000000, 'z'));
    // HEAD-like reuse: the connection goes on.
    c.write("GET /download/3 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(c.read().body() == "zzz");
  }
  {
    const uint64_t size = uint64_t{1} << 40;  // 1 TiB: only ever produced as the client reads
    Client c(f.server->port());
    c.write("GET /download/" + std::to_string(size) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    // Not reading: the socket buffers fill, the server's chunk write stalls,
    // and the idle timeout closes the connection. Reading afterwards ends.
    std::this_thread::sleep_for(std::chrono::seconds(2));  // ten times the 200 ms idle timeout
    const size_t got = c.drain_until_closed();
    CHECK(got < (size_t{256} << 20));  // closed by the server, well before the cap
    // The server pulled no more than what the socket buffers held plus a chunk.
    CHECK(f.served.load() < (uint64_t{64} << 20));
  }
}

TEST_CASE("HttpServer streaming: a body of unknown length is chunked for HTTP/1.1, close-delimited for HTTP/1.0") {
  Fixture f;
  f.start();
  SUBCASE("HTTP/1.1: chunked, several chunks, then keep-alive") {
    Client c(f.server->port());
    c.write("GET /unsized/1000003 HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.read();
    CHECK(r.result_int() == 200);
    CHECK(r.chunked());
    CHECK(r.find(bhttp::field::content_length) == r.end());
    CHECK(r.body() == Alphabet::expected(1000003));
    CHECK(r.keep_alive());
    // The connection goes on after the terminating chunk; an empty body is
    // just the last chunk.
    c.write("GET /unsized/0 HTTP/1.1\r\nHost: x\r\n\r\n");
    r = c.read();
    CHECK(r.result_int() == 200);
    CHECK(r.chunked());
    CHECK(r.body().empty());
  }
  SUBCASE("HTTP/1.1: the framing on the wire") {
    Client c(f.server->port());
    c.write("GET /unsized/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const std::string raw = c.read_until_closed();
    CHECK(raw.find("\r\nTransfer-Encoding: chunked\r\n") != std::string::npos);
    CHECK(raw.find("Content-Length") == std::string::npos);
    const auto body = raw.substr(raw.find("\r\n\r\n") + 4);
    CHECK(body == "5\r\nabcde\r\n0\r\n\r\n");
  }
  SUBCASE("HEAD: the headers of a chunked response, no body, keep-alive") {
    Client c(f.server->port());
    c.write("HEAD /unsized/100 HTTP/1.1\r\nHost: x\r\n\r\n");
    bhttp::response_parser<bhttp::empty_body> head;
    head.skip(true);
    c.read_header(head);
    CHECK(head.get().result_int() == 200);
    CHECK(head.get()[bhttp::field::transfer_encoding] == "chunked");
    c.write("GET /unsized/3 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(c.read().body() == "abc");
  }
  SUBCASE("HTTP/1.0: no length, no chunking, the body ends when the server closes") {
    Client c(f.server->port());
    c.write("GET /unsized/300000 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    const std::string raw = c.read_until_closed();
    const auto split = raw.find("\r\n\r\n");
    REQUIRE(split != std::string::npos);
    const std::string head = raw.substr(0, split + 2);
    CHECK(head.find("Content-Length") == std::string::npos);
    CHECK(head.find("Transfer-Encoding") == std::string::npos);
    CHECK(head.find("\r\nConnection: close\r\n") != std::string::npos);
    CHECK(raw.substr(split + 4) == Alphabet::expected(300000));
  }
  SUBCASE("a source failing after the head: the connection is cut, the chunked body left unterminated") {
    Client c(f.server->port());
    c.write("GET /unsized-failing/600000 HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string raw = c.read_until_closed();
    CHECK(raw.find("HTTP/1.1 200") == 0);
    CHECK(raw.find("<timed out>") == std::string::npos);
    CHECK(raw.size() > 600000);  // what was produced went out
    CHECK(raw.find("\r\n0\r\n\r\n") == std::string::npos);  // never the terminating chunk
    // A client's HTTP parser sees a broken message, not a short complete one.
    Client c2(f.server->port());
    c2.write("GET /unsized-failing/600000 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_THROWS(c2.read());
  }
}
