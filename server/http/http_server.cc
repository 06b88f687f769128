// HttpServer and its Core: the listener, the accept loop, shutdown, metrics
// recording and the connection registry. Each accepted socket is served by a
// Connection (http_connection.h); Core is declared in server_core.h.

#include "server/http/http_server.h"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <exception>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "server/http/http_connection.h"
#include "server/http/server_core.h"
#include "server/http/tls_context.h"
#include "server/logging/logger.h"

namespace corvus::server::http {


// ---- Core -------------------------------------------------------------------

metrics::Counter& HttpServer::Core::status_counter(RouteMetrics& rm, unsigned status) {
  for (size_t i = 0; i < RouteMetrics::kSlots; ++i) {
    unsigned key = rm.status_keys[i].load(std::memory_order_acquire);
    if (key == status) {
      if (metrics::Counter* c = rm.status_counters[i].load(std::memory_order_acquire)) return *c;
      break;  // another thread is filling this slot right now
    }
    if (key == 0) {
      unsigned expected = 0;
      if (rm.status_keys[i].compare_exchange_strong(expected, status, std::memory_order_acq_rel)) {
        metrics::Counter& c = requests->add(
            {{"route", rm.route}, {"method", rm.method}, {"status", std::to_string(status)}});
        rm.status_counters[i].store(&c, std::memory_order_release);
        return c;
      }
      if (expected == status) break;  // lost the race to a thread adding the same status
    }
  }
  return requests->add({{"route", rm.route}, {"method", rm.method}, {"status", std::to_string(status)}});
}

void HttpServer::Core::record(const Router::Route* route, std::string_view method, std::string_view route_label,
                              unsigned status, double seconds) {
  if (route != nullptr) {
    RouteMetrics& rm = *route_metrics[route->index];
    status_counter(rm, status).inc();
    rm.duration->observe(seconds);
    return;
  }
  // Requests that matched no route: rare, the family mutex is fine.
  std::string m(method), r(route_label);
  requests->add({{"route", r}, {"method", m}, {"status", std::to_string(status)}}).inc();
  durations->add({{"route", r}, {"method", m}}).observe(seconds);
}

void HttpServer::Core::do_accept() {
  acceptor->async_accept(asio::make_strand(*ioc), [self = shared_from_this()](error_code ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void HttpServer::Core::on_accept(error_code ec, tcp::socket socket) {
  if (stopping.load(std::memory_order_acquire) || ec == asio::error::operation_aborted) {
    error_code ignored;
    socket.close(ignored);
    return;
  }
  if (ec) {
    // E.g. out of file descriptors: back off briefly instead of spinning.
    log::warn("http accept failed").kv("error", ec.message());
    accept_retry_timer.emplace(acceptor->get_executor());
    accept_retry_timer->expires_after(std::chrono::milliseconds(50));
    accept_retry_timer->async_wait([self = shared_from_this()](error_code tec) {
      if (!tec && !self->stopping.load(std::memory_order_acquire)) self->do_accept();
    });
    return;
  }
  error_code opt_ec;
  socket.set_option(tcp::no_delay(true), opt_ec);
  std::make_shared<Connection>(shared_from_this(), std::move(socket))->start();
  do_accept();
}

void HttpServer::Core::shutdown() {
  std::lock_guard shutdown_lock(shutdown_mu);
  if (shut_down) return;
  shut_down = true;
  stopping.store(true, std::memory_order_release);

  // 1. Stop accepting (the acceptor lives on its strand).
  {
    std::promise<void> closed;
    asio::post(acceptor->get_executor(), [this, &closed] {
      error_code ignored;
      acceptor->close(ignored);
      if (accept_retry_timer) accept_retry_timer->cancel();
      closed.set_value();
    });
    closed.get_future().wait();
  }

  // 2. Close idle connections; busy ones close after their response.
  //    The references are taken under `mu` but posted and dropped outside it:
  //    dropping the last one runs ~Connection, which locks `mu` itself.
  {
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(mu);
      for (Connection* c : conns) {
        // lock() fails for a connection whose destructor is waiting for `mu`.
        if (auto sp = c->weak_from_this().lock()) live.push_back(std::move(sp));
      }
    }
    for (auto& sp : live) {
      auto ex = sp->executor();
      asio::post(ex, [sp = std::move(sp)] { sp->close_if_idle(); });
    }
  }

  // 3. Wait for in-flight requests, bounded.
  {
    std::unique_lock lock(mu);
    conns_cv.wait_for(lock, opts.shutdown_timeout, [this] { return conns.empty(); });
    if (!conns.empty()) {
      log::warn("http shutdown: abandoning connections still waiting for a handler").kv("count", conns.size());
    }
  }

  // 4. Stop the I/O threads.
  guard.reset();
  ioc->stop();
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  threads.clear();
  metrics_live.store(false, std::memory_order_release);

  // 5. Release what still refers to the io_context, then destroy it (which destroys
  //    queued operations and the connections they own).
  accept_retry_timer.reset();
  acceptor.reset();
  {
    std::lock_guard lock(mu);
    for (Connection* c : conns) c->abandon();
  }
  // A Respond that saw its connection still Pending may be inside dispatch(),
  // using the strand: let it finish before the io_context goes away.
  while (responders.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  ioc.reset();
  log::info("http server stopped").kv("port", bound_port);
}

// ---- HttpServer -------------------------------------------------------------

HttpServer::HttpServer(std::shared_ptr<Core> core) : core_(std::move(core)) {}

HttpServer::~HttpServer() { shutdown(); }

uint16_t HttpServer::port() const { return core_->bound_port; }

void HttpServer::shutdown() { core_->shutdown(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options, const Router& router,
                                                      metrics::Registry& registry) {
  int nthreads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (nthreads <= 0) nthreads = 1;

  auto core = std::make_shared<Core>(std::move(options), router, registry);
  const HttpServerOptions& opts = core->opts;
  if (!opts.certificate_path.empty()) {
    auto tls = make_server_tls_context(opts.certificate_path, opts.certificate_password);
    if (!tls.ok()) return tls.status();
    core->tls = std::move(tls).value();
  }
  core->ioc.emplace(nthreads);

  error_code ec;
  tcp::endpoint endpoint;
  auto address = asio::ip::make_address(opts.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, opts.port);
  } else {
    tcp::resolver resolver(*core->ioc);
    auto results = resolver.resolve(opts.host, std::to_string(opts.port), ec);
    if (ec || results.empty()) {
      return Status::InvalidArgument("cannot resolve listen host '" + opts.host +
                                     "': " + (ec ? ec.message() : std::string("no addresses")));
    }
    endpoint = results.begin()->endpoint();
  }
  const std::string where = opts.host + ":" + std::to_string(opts.port);

  core->acceptor.emplace(asio::make_strand(*core->ioc));
  tcp::acceptor& acc = *core->acceptor;
  if (acc.open(endpoint.protocol(), ec); ec) return Status::IOError("cannot listen on " + where + ": " + ec.message());
  // SO_REUSEADDR lets a restarted server bind while old connections sit in
  // TIME_WAIT; on Linux it does not allow two listeners on one port.
  if (acc.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return Status::IOError("cannot listen on " + where + ": " + ec.message());
  }
  if (acc.bind(endpoint, ec); ec) return Status::IOError("cannot listen on " + where + ": " + ec.message());
  if (acc.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Status::IOError("cannot listen on " + where + ": " + ec.message());
  }
  core->bound_port = acc.local_endpoint(ec).port();

  // Metrics: resolve everything the hot path needs now.
  core->requests = &registry.counter("corvus_http_requests_total", "HTTP requests by route, method and status.");
  core->durations = &registry.histogram("corvus_http_request_duration_seconds",
                                        "Time from a complete request to its response being ready, in seconds.",
                                        metrics::Histogram::default_latency_buckets());
  core->open_connections = &registry.gauge("corvus_http_open_connections", "Open HTTP connections.").add({});
  for (const auto& route : router.routes()) {
    auto rm = std::make_unique<RouteMetrics>();
    rm->route = route->name;
    rm->method = to_label(route->method);
    rm->duration = &core->durations->add({{"route", rm->route}, {"method", rm->method}});
    core->route_metrics.push_back(std::move(rm));
  }

  std::random_device rd;
  core->id_salt = static_cast<uint16_t>(rd() & 0xffff) | 0x1000;  // always 4 hex digits

  core->guard.emplace(core->ioc->get_executor());
  core->do_accept();
  for (int i = 0; i < nthreads; ++i) {
    core->threads.emplace_back([c = core.get()] {
      while (true) {
        try {
          c->ioc->run();
          return;
        } catch (const std::exception& e) {
          log::error("http io thread caught an exception").kv("what", e.what());
        }
      }
    });
  }
  log::info("http listening")
      .kv("host", core->opts.host)
      .kv("port", core->bound_port)
      .kv("threads", nthreads)
      .kv("tls", core->tls ? "on" : "off")
      .kv("max_body_bytes", core->opts.max_body_bytes);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(core)));
}

}  // namespace corvus::server::http
