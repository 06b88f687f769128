// WebSockets in the HttpServer (server/http/websocket.h): a route answering
// Response::websocket_upgrade takes the connection over; a request that is not
// an upgrade gets 400; messages go both ways (pulled by the channel); the
// endpoint's close(code, reason) reaches the client; server shutdown closes an
// open WebSocket with 1001; on_closed runs exactly once. In-process server on
// port 0; every client wait is bounded.

#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "server/http/http_server.h"
#include "server/http/websocket.h"

using namespace corvus;
using namespace corvus::server::http;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;

namespace {

// Answers "echo:<text>"; "close" makes it close with 4000 "bye".
class Echo final : public WebSocketEndpoint {
 public:
  explicit Echo(std::atomic<int>& closed) : closed_(closed) {}
  void on_open(std::weak_ptr<WebSocketChannel> channel) override { channel_ = std::move(channel); }
  void on_message(std::string_view text) override {
    auto channel = channel_.lock();
    REQUIRE(channel);
    if (text == "close") return channel->close(4000, "bye");
    {
      std::lock_guard lock(mu_);
      out_.push_back("echo:" + std::string(text));
    }
    channel->wake();
  }
  std::optional<std::string> next_outgoing() override {
    std::lock_guard lock(mu_);
    if (out_.empty()) return std::nullopt;
    std::string m = std::move(out_.front());
    out_.pop_front();
    return m;
  }
  void on_closed() override { ++closed_; }

 private:
  std::atomic<int>& closed_;
  std::weak_ptr<WebSocketChannel> channel_;
  std::mutex mu_;
  std::deque<std::string> out_;
};

struct Fixture {
  Router router;
  metrics::Registry registry;
  std::unique_ptr<HttpServer> server;
  std::atomic<int> closed{0};

  Fixture() {
    router.add(bhttp::verb::get, "/ws", RouteAccess::Open, "ws", [this](const Request&, Respond respond) {
      respond(Response::websocket_upgrade(std::make_shared<Echo>(closed)));
    });
    HttpServerOptions opts;
    opts.host = "127.0.0.1";
    opts.port = 0;
    opts.threads = 2;
    auto s = HttpServer::start(opts, router, registry);
    REQUIRE(s.ok());
    server = std::move(s).value();
  }
};

class WsClient {
 public:
  explicit WsClient(uint16_t port) : ws_(ioc_) {
    ws_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    ws_.handshake("127.0.0.1", "/ws");
  }
  void send(const std::string& text) { ws_.write(asio::buffer(text)); }
  // The next message; nullopt when the connection ended or after 10 s.
  std::optional<std::string> read() {
    buf_.consume(buf_.size());
    bool done = false;
    beast::error_code result;
    ws_.async_read(buf_, [&](beast::error_code ec, std::size_t) {
      done = true;
      result = ec;
    });
    ioc_.restart();
    ioc_.run_for(std::chrono::seconds(10));
    if (!done) {
      timed_out = true;
      beast::error_code ignored;
      ws_.next_layer().close(ignored);
      ioc_.restart();
      ioc_.run();
      return std::nullopt;
    }
    if (result) {
      if (ws_.reason().code != websocket::close_code::none) {
        close_code = ws_.reason().code;
        close_reason = std::string(ws_.reason().reason.c_str());
      }
      return std::nullopt;
    }
    return beast::buffers_to_string(buf_.data());
  }

  bool timed_out = false;
  std::optional<uint16_t> close_code;
  std::string close_reason;

 private:
  asio::io_context ioc_;
  websocket::stream<asio::ip::tcp::socket> ws_;
  beast::flat_buffer buf_;
};

}  // namespace

TEST_CASE("websocket: not an upgrade request is 400") {
  Fixture f;
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), f.server->port()});
  const std::string req = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  asio::write(s, asio::buffer(req));
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buf, res);
  CHECK(res.result_int() == 400);
  CHECK(res.body().find("WebSocket") != std::string::npos);
  CHECK(f.closed == 0);
}

TEST_CASE("websocket: messages both ways, the endpoint's close reaches the client") {
  Fixture f;
  WsClient c(f.server->port());
  for (int i = 0; i < 3; ++i) {
    c.send("m" + std::to_string(i));
    CHECK(c.read() == std::optional<std::string>("echo:m" + std::to_string(i)));
  }
  c.send("close");
  CHECK_FALSE(c.read());
  CHECK_FALSE(c.timed_out);
  CHECK(c.close_code == std::optional<uint16_t>(4000));
  CHECK(c.close_reason == "bye");
  for (int i = 0; i < 500 && f.closed == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(f.closed == 1);
}

TEST_CASE("websocket: server shutdown closes an open WebSocket with 1001") {
  Fixture f;
  WsClient c(f.server->port());
  c.send("hello");
  REQUIRE(c.read() == std::optional<std::string>("echo:hello"));
  std::thread stopper([&] { f.server->shutdown(); });
  CHECK_FALSE(c.read());
  stopper.join();
  CHECK_FALSE(c.timed_out);
  CHECK(c.close_code == std::optional<uint16_t>(1001));
  CHECK(f.closed == 1);
}
