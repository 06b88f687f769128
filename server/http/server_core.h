#pragma once
// HttpServer::Core: the state behind an HttpServer, shared by http_server.cc
// (listener, accept loop, shutdown, metrics recording, the connection registry)
// and http_connection.cc (each Connection reads and updates it). Internal to
// server/http: include only from this module's .cc files and http_connection.h.
//
// Owned through shared_ptr by the HttpServer, by every Connection and by the
// pending accept. Thread-safety: what start() sets is not reassigned while
// running; `conns` is guarded by `mu`; the atomics are used from any thread;
// the acceptor lives on its strand.

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/verb.hpp>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "server/http/http_server.h"
#include "server/http/router.h"
#include "server/metrics/registry.h"

namespace corvus::server::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// Per (route, method): the duration histogram resolved at start, and a small
// lock-free cache of status -> counter so the hot path never takes the family mutex.
struct RouteMetrics {
  static constexpr size_t kSlots = 16;
  std::string route;
  std::string method;
  metrics::Histogram* duration = nullptr;
  std::array<std::atomic<unsigned>, kSlots> status_keys{};
  std::array<std::atomic<metrics::Counter*>, kSlots> status_counters{};
};

inline std::string to_label(bhttp::verb v) {
  auto s = bhttp::to_string(v);
  return std::string(s.data(), s.size());
}

class Connection;

struct HttpServer::Core : std::enable_shared_from_this<HttpServer::Core> {
  Core(HttpServerOptions o, const Router& r, metrics::Registry& m) : opts(std::move(o)), router(r), registry(m) {}

  HttpServerOptions opts;
  const Router& router;
  metrics::Registry& registry;

  // Declared first: destroyed last. Reset explicitly by shutdown().
  std::optional<asio::io_context> ioc;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::optional<asio::steady_timer> accept_retry_timer;
  std::vector<std::thread> threads;
  uint16_t bound_port = 0;
  // Set when opts.certificate_path is: the port serves HTTPS.
  std::shared_ptr<asio::ssl::context> tls;

  std::atomic<bool> stopping{false};
  // Respond calls from non-I/O threads currently handing a response to a strand.
  std::atomic<int> responders{0};
  // False once the I/O threads are joined: connections dying after that (abandoned
  // ones, possibly after the Registry is gone) must not touch metrics.
  std::atomic<bool> metrics_live{true};

  std::mutex mu;  // guards conns; taken on connection open/close only
  std::condition_variable conns_cv;
  std::unordered_set<Connection*> conns;

  std::mutex shutdown_mu;
  bool shut_down = false;

  // Metrics, resolved at start.
  metrics::Family<metrics::Counter>* requests = nullptr;
  metrics::Family<metrics::Histogram>* durations = nullptr;
  metrics::Gauge* open_connections = nullptr;
  std::vector<std::unique_ptr<RouteMetrics>> route_metrics;  // by Route::index

  std::atomic<uint64_t> next_request_id{1};
  uint16_t id_salt = 0;

  void do_accept();
  void on_accept(error_code ec, tcp::socket socket);
  void shutdown();

  void record(const Router::Route* route, std::string_view method, std::string_view route_label,
              unsigned status, double seconds);
  metrics::Counter& status_counter(RouteMetrics& rm, unsigned status);
};

}  // namespace corvus::server::http
