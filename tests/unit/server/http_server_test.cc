// In-process HttpServer on port 0, driven by a synchronous Beast client over real
// sockets. No sleeps: every wait is on a response, a promise or a closed socket.

#include "server/http/http_server.h"

#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "server/http/error_response.h"

using namespace corvus;
using namespace corvus::server::http;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

using HttpResponse = bhttp::response<bhttp::string_body>;

std::string str(beast::string_view v) { return std::string(v.data(), v.size()); }

class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  HttpResponse send(bhttp::verb method, std::string target, std::string body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    if (method != bhttp::verb::get && method != bhttp::verb::head) req.prepare_payload();
    bhttp::write(socket_, req);
    return read(method == bhttp::verb::head);
  }

  void write_raw(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }

  HttpResponse read(bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    if (head) parser.skip(true);
    bhttp::read(socket_, buffer_, parser);
    return parser.release();
  }

  // True when the server closed the connection (reads EOF or reset), with no
  // unexpected bytes in between.
  bool closed_by_server() {
    if (buffer_.size() > 0) return false;
    char c;
    boost::system::error_code ec;
    size_t n = socket_.read_some(asio::buffer(&c, 1), ec);
    return n == 0 && (ec == asio::error::eof || ec == asio::error::connection_reset);
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// Threads spawned by handlers to answer asynchronously; joined by the test.
struct Workers {
  std::mutex mu;
  std::vector<std::thread> threads;
  void spawn(std::function<void()> f) {
    std::lock_guard lock(mu);
    threads.emplace_back(std::move(f));
  }
  void join() {
    std::lock_guard lock(mu);
    for (auto& t : threads) t.join();
    threads.clear();
  }
  ~Workers() { join(); }
};

struct Fixture {
  Router router;
  metrics::Registry registry;
  Workers workers;
  std::unique_ptr<HttpServer> server;

  Fixture() {
    router.add(bhttp::verb::get, "/databases/{db}/docs", RouteAccess::Open, "docs_get", [](const Request& req, Respond respond) {
      std::string body = "{\"db\":\"" + std::string(req.param("db")) + "\",\"id\":\"" +
                         req.query.get("id").value_or("") + "\",\"req\":\"" + req.request_id + "\"}";
      respond(Response::json(200, std::move(body)));
    });
    router.add(bhttp::verb::head, "/databases/{db}/docs", RouteAccess::Open, "docs_head", [](const Request&, Respond respond) {
      Response r = Response::empty(200);
      r.headers.emplace_back("ETag", "\"A:1-xyz\"");
      respond(std::move(r));
    });
    router.add(bhttp::verb::put, "/databases/{db}/docs", RouteAccess::Open, "docs_put", [](const Request& req, Respond respond) {
      respond(Response::json(201, "{\"len\":" + std::to_string(req.body.size()) + ",\"ct\":\"" +
                                      std::string(req.header("content-type")) + "\"}"));
    });
    router.add(bhttp::verb::delete_, "/databases/{db}/docs", RouteAccess::Open, "docs_delete",
               [](const Request&, Respond respond) { respond(Response::empty(204)); });
    router.add(bhttp::verb::get, "/async/{n}", RouteAccess::Open, "async", [this](const Request& req, Respond respond) {
      // Respond from another thread; the Request stays valid until then.
      workers.spawn([&req, respond] {
        respond(Response::json(200, "{\"n\":\"" + std::string(req.param("n")) + "\"}"));
      });
    });
    router.add(bhttp::verb::get, "/throw", RouteAccess::Open, "throw",
               [](const Request&, Respond) { throw std::runtime_error("boom"); });
    router.add(bhttp::verb::get, "/status", RouteAccess::Open, "status", [](const Request&, Respond respond) {
      respond(error_response(Status::ConcurrencyConflict("cv mismatch"), "/status"));
    });
  }

  void start(HttpServerOptions opts = {}) {
    opts.host = "127.0.0.1";
    opts.port = 0;
    opts.threads = 2;
    auto s = HttpServer::start(opts, router, registry);
    REQUIRE(s.ok());
    server = std::move(s).value();
    REQUIRE(server->port() != 0);
  }
};

}  // namespace

TEST_CASE("HttpServer: keep-alive reuse, standard headers, params and query") {
  Fixture f;
  f.start();
  Client c(f.server->port());
  std::string first_id;
  for (int i = 0; i < 3; ++i) {
    auto r = c.send(bhttp::verb::get, "/databases/shop/docs?&id=users%2F" + std::to_string(i));
    CHECK(r.result_int() == 200);
    CHECK(r.keep_alive());
    CHECK(str(r["Server"]) == "corvus");
    CHECK(str(r["Raven-Server-Version"]) == "7.0.0");
    CHECK(str(r["Content-Type"]) == "application/json; charset=utf-8");
    CHECK(str(r["Content-Length"]) == std::to_string(r.body().size()));
    std::string id = str(r["Request-Id"]);
    CHECK(!id.empty());
    CHECK(id != first_id);
    if (i == 0) first_id = id;
    CHECK(r.body() == "{\"db\":\"shop\",\"id\":\"users/" + std::to_string(i) + "\",\"req\":\"" + id + "\"}");
  }
  // PUT with a body and a 204 on the same connection.
  auto put = c.send(bhttp::verb::put, "/databases/shop/docs?id=a", "{\"Name\":\"x\"}",
                    {{"Content-Type", "application/json"}});
  CHECK(put.result_int() == 201);
  CHECK(put.body() == "{\"len\":12,\"ct\":\"application/json\"}");
  auto del = c.send(bhttp::verb::delete_, "/databases/shop/docs?id=a");
  CHECK(del.result_int() == 204);
  CHECK(del.body().empty());

  // All of it went over one connection.
  CHECK(f.registry.serialize().find("corvus_http_open_connections 1\n") != std::string::npos);
}

TEST_CASE("HttpServer: HEAD sends headers only and the connection stays usable") {
  Fixture f;
  f.start();
  Client c(f.server->port());
  auto h = c.send(bhttp::verb::head, "/databases/shop/docs?id=users/1");
  CHECK(h.result_int() == 200);
  CHECK(str(h["ETag"]) == "\"A:1-xyz\"");
  CHECK(h.body().empty());
  auto g = c.send(bhttp::verb::get, "/databases/shop/docs?id=x");
  CHECK(g.result_int() == 200);
  CHECK(g.body().find("\"id\":\"x\"") != std::string::npos);
}

TEST_CASE("HttpServer: unknown route or method is a 400 RouteNotFound, connection kept") {
  Fixture f;
  f.start();
  Client c(f.server->port());
  auto r = c.send(bhttp::verb::get, "/no/such/path");
  CHECK(r.result_int() == 400);
  CHECK(r.body().find("\"Type\":\"Raven.Client.Exceptions.Routing.RouteNotFoundException\"") != std::string::npos);
  CHECK(r.body().find("There is no handler for path: GET /no/such/path") != std::string::npos);
  auto m = c.send(bhttp::verb::post, "/databases/shop/docs");
  CHECK(m.result_int() == 400);
  CHECK(m.body().find("POST /databases/shop/docs") != std::string::npos);
  CHECK(c.send(bhttp::verb::get, "/databases/shop/docs").result_int() == 200);

  std::string text = f.registry.serialize();
  CHECK(text.find("corvus_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"400\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("corvus_http_requests_total{method=\"POST\",route=\"unmatched\",status=\"400\"} 1\n") !=
        std::string::npos);
}

TEST_CASE("HttpServer: body over the limit gets 413 with the limit in the message, then close") {
  Fixture f;
  HttpServerOptions opts;
  opts.max_body_bytes = 1024;
  f.start(opts);
  Client c(f.server->port());
  auto ok = c.send(bhttp::verb::put, "/databases/shop/docs?id=a", std::string(1024, 'x'));
  CHECK(ok.result_int() == 201);
  auto r = c.send(bhttp::verb::put, "/databases/shop/docs?id=a", std::string(200 * 1024, 'x'));
  CHECK(r.result_int() == 413);
  CHECK(r.body().find("\"Type\":\"Raven.Client.Exceptions.BadRequestException\"") != std::string::npos);
  CHECK(r.body().find("the limit is 1024 bytes") != std::string::npos);
  CAPTURE(r.body());
  CHECK(r.body().find("204800") != std::string::npos);
  CHECK_FALSE(r.keep_alive());
  CHECK(c.closed_by_server());
  CHECK(f.registry.serialize().find("route=\"invalid_request\",status=\"413\"} 1\n") != std::string::npos);
}

TEST_CASE("HttpServer: malformed request gets a 400 JSON error, then close") {
  Fixture f;
  f.start();
  Client c(f.server->port());
  c.write_raw("THIS IS NOT HTTP\r\n\r\n");
  auto r = c.read();
  CHECK(r.result_int() == 400);
  CHECK(r.body().find("\"Type\":\"Raven.Client.Exceptions.BadRequestException\"") != std::string::npos);
  CHECK(r.body().find("Malformed HTTP request") != std::string::npos);
  CHECK(str(r["Raven-Server-Version"]) == "7.0.0");
  CHECK(c.closed_by_server());
}

TEST_CASE("HttpServer: Respond from another thread, many in a row") {
  Fixture f;
  f.start();
  Client c(f.server->port());
  for (int i = 0; i < 20; ++i) {
    auto r = c.send(bhttp::verb::get, "/async/" + std::to_string(i));
    CHECK(r.result_int() == 200);
    CHECK(r.body() == "{\"n\":\"" + std::to_string(i) + "\"}");
  }
}

TEST_CASE("HttpServer: a throwing handler gives 500 JSON; error statuses pass through") {
  Fixture f;
  f.start();
  Client c(f.server->port());
  auto r = c.send(bhttp::verb::get, "/throw");
  CHECK(r.result_int() == 500);
  CHECK(r.body().find("Unhandled exception: boom") != std::string::npos);
  auto s = c.send(bhttp::verb::get, "/status");
  CHECK(s.result_int() == 409);
  CHECK(s.body().find("ConcurrencyException") != std::string::npos);
}

TEST_CASE("HttpServer: metrics count requests by route, method and status") {
  Fixture f;
  f.start();
  Client c(f.server->port());
  for (int i = 0; i < 3; ++i) CHECK(c.send(bhttp::verb::get, "/databases/d/docs?id=x").result_int() == 200);
  CHECK(c.send(bhttp::verb::delete_, "/databases/d/docs?id=x").result_int() == 204);
  std::string text = f.registry.serialize();
  CHECK(text.find("# TYPE corvus_http_requests_total counter\n") != std::string::npos);
  CHECK(text.find("corvus_http_requests_total{method=\"GET\",route=\"docs_get\",status=\"200\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("corvus_http_requests_total{method=\"DELETE\",route=\"docs_delete\",status=\"204\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("# TYPE corvus_http_request_duration_seconds histogram\n") != std::string::npos);
  CHECK(text.find("corvus_http_request_duration_seconds_count{method=\"GET\",route=\"docs_get\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("corvus_http_request_duration_seconds_bucket{method=\"GET\",route=\"docs_get\",le=\"+Inf\"} 3\n") !=
        std::string::npos);
}

TEST_CASE("HttpServer: HTTP/1.0 and Connection: close are honoured") {
  Fixture f;
  f.start();
  {
    Client c(f.server->port());
    auto r = c.send(bhttp::verb::get, "/databases/d/docs", "", {{"Connection", "close"}});
    CHECK(r.result_int() == 200);
    CHECK_FALSE(r.keep_alive());
    CHECK(c.closed_by_server());
  }
  {
    Client c(f.server->port());
    c.write_raw("GET /databases/d/docs HTTP/1.0\r\n\r\n");
    auto r = c.read();
    CHECK(r.result_int() == 200);
    CHECK(c.closed_by_server());
  }
}

TEST_CASE("HttpServer: connections that send no complete request within the read timeout are closed") {
  Fixture f;
  HttpServerOptions opts;
  opts.read_timeout = std::chrono::milliseconds(300);
  f.start(opts);
  SUBCASE("idle keep-alive connection after a request") {
    Client c(f.server->port());
    CHECK(c.send(bhttp::verb::get, "/databases/d/docs").result_int() == 200);
    CHECK(c.closed_by_server());
  }
  SUBCASE("a request that never finishes") {
    Client c(f.server->port());
    c.write_raw("GET /databases/d/docs HTTP/1.1\r\nHost: x\r\n");
    CHECK(c.closed_by_server());
  }
}

TEST_CASE("HttpServer: port in use is a clear error") {
  Fixture f;
  f.start();
  HttpServerOptions opts;
  opts.host = "127.0.0.1";
  opts.port = f.server->port();
  auto again = HttpServer::start(opts, f.router, f.registry);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == StatusCode::IOError);
  CHECK(again.status().message().find("cannot listen on 127.0.0.1:" + std::to_string(opts.port)) !=
        std::string::npos);

}

TEST_CASE("HttpServer: shutdown closes idle connections and finishes in-flight requests") {
  Router router;
  metrics::Registry registry;
  std::promise<Respond> pending;
  router.add(bhttp::verb::get, "/slow", RouteAccess::Open, "slow", [&](const Request&, Respond respond) { pending.set_value(respond); });
  router.add(bhttp::verb::get, "/fast", RouteAccess::Open, "fast",
             [](const Request&, Respond respond) { respond(Response::json(200, "{}")); });
  HttpServerOptions opts;
  opts.host = "127.0.0.1";
  opts.port = 0;
  opts.threads = 2;
  opts.shutdown_timeout = std::chrono::seconds(60);
  auto started = HttpServer::start(opts, router, registry);
  REQUIRE(started.ok());
  auto server = std::move(started).value();

  Client idle(server->port());
  CHECK(idle.send(bhttp::verb::get, "/fast").result_int() == 200);

  Client busy(server->port());
  auto response = std::async(std::launch::async, [&] { return busy.send(bhttp::verb::get, "/slow"); });
  Respond respond = pending.get_future().get();  // the handler is now in flight
  auto stopped = std::async(std::launch::async, [&] { server->shutdown(); });
  CHECK(idle.closed_by_server());  // idle keep-alive connection closed by shutdown
  respond(Response::json(200, "{\"late\":true}"));
  auto r = response.get();
  CHECK(r.result_int() == 200);
  CHECK(r.body() == "{\"late\":true}");
  stopped.get();
  CHECK(busy.closed_by_server());
}

TEST_CASE("HttpServer: Respond after an abandoning shutdown is dropped safely") {
  Router router;
  metrics::Registry registry;
  std::promise<Respond> pending;
  router.add(bhttp::verb::get, "/stuck", RouteAccess::Open, "stuck", [&](const Request&, Respond respond) { pending.set_value(respond); });
  HttpServerOptions opts;
  opts.host = "127.0.0.1";
  opts.port = 0;
  opts.threads = 1;
  opts.shutdown_timeout = std::chrono::milliseconds(0);
  auto started = HttpServer::start(opts, router, registry);
  REQUIRE(started.ok());
  auto server = std::move(started).value();

  Client c(server->port());
  auto response = std::async(std::launch::async, [&] {
    try {
      c.send(bhttp::verb::get, "/stuck");
      return false;
    } catch (const boost::system::system_error&) {
      return true;  // connection closed without a response
    }
  });
  Respond respond = pending.get_future().get();
  server->shutdown();
  server.reset();
  CHECK(response.get());
  respond(Response::json(200, "{}"));  // must neither crash nor leak
}
