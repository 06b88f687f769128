// Shared by the HTTP load generators (corvus-http-load,
// corvus-cmpxchg-load): the options they all take, the run's window and request
// tickets, one client's connection life (connect, one request outstanding, request
// timeout, reconnect after a back-off, stop), the io threads that drive the clients
// and the merged result.
//
// A tool derives its client from HttpBenchClient and supplies what differs: the next
// request (next_request) and how its answer is read and judged (read_response, which
// ends in respond() or on_error()). run_load() makes the clients, runs them and
// returns the merged per-thread statistics.
//
// Threads: each client and its Stats live on one io thread; the LoadRun is shared by
// all of them and only its atomics change while the run goes on.
// Benchmarks only: nothing here is used by the server.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "bench/bench_common.h"

namespace corvus::bench {

namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

// The options every load generator takes. A tool's own Options derive from this and
// may change the defaults.
struct LoadOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // required
  int clients = 1;
  double seconds = 10;
  double warmup = 0;
  uint64_t requests = 0;  // > 0: run this many requests in total instead of a duration
  int threads = 1;
  std::string db = "bench";
  std::string tag;
  double timeout = 30;  // per request
  // > 0: open loop at this many requests per second over all clients (client k
  // sends its n-th request at start + (k + n * clients) / rate, or as soon as its
  // previous answer is in if that is later; latency counts from the due time, so
  // a server that falls behind is not given a lower rate). 0: closed loop.
  double rate = 0;
  // HTTPS: every connection starts with a full TLS handshake (no session
  // reuse); the server's certificate is not verified (benchmarks only).
  bool tls = false;
  // With --tls 1: the client certificate (PEM; certificate and key may share
  // the file) every connection presents. A secured corvusd authorizes each
  // request by it: the bench uses the server's own certificate (ClusterAdmin).
  std::string cert;
  std::string key;
};

// Reads --host --port --clients --seconds --warmup --requests --threads --db --tag
// --timeout --rate --tls (0/1) --cert --key into `o`; the values already in `o` are the defaults, but --port has none.
inline void read_load_options(Args& args, LoadOptions& o) {
  o.host = args.str("host", o.host);
  o.port = static_cast<int>(args.num("port", 0));
  o.clients = static_cast<int>(args.num("clients", o.clients));
  o.seconds = args.num("seconds", o.seconds);
  o.warmup = args.num("warmup", o.warmup);
  o.requests = static_cast<uint64_t>(args.num("requests", 0));
  o.threads = static_cast<int>(args.num("threads", o.threads));
  o.db = args.str("db", o.db);
  o.tag = args.str("tag", o.tag);
  o.timeout = args.num("timeout", o.timeout);
  o.rate = args.num("rate", o.rate);
  o.tls = args.num("tls", o.tls ? 1 : 0) != 0;
  o.cert = args.str("cert", o.cert);
  o.key = args.str("key", o.key.empty() ? o.cert : o.key);
}

// The first thing wrong with the shared options, or "".
inline std::string check_load_options(const LoadOptions& o) {
  if (o.port <= 0 || o.port > 65535) return "--port is required";
  if (o.clients < 1 || o.clients > 10000) return "--clients must be 1..10000";
  if (o.threads < 1 || o.threads > 64) return "--threads must be 1..64";
  if (o.seconds <= 0 && o.requests == 0) return "--seconds must be > 0";
  if (o.rate < 0) return "--rate must be >= 0";
  return {};
}

// One run, shared by all its clients. With --requests the run hands out that many
// tickets and has no window (count mode); otherwise it measures [t_measure, t_end].
// `opt` must outlive the run.
struct LoadRun {
  explicit LoadRun(const LoadOptions& o) : opt(o), count_mode(o.requests > 0) {}

  const LoadOptions& opt;
  const bool count_mode;
  tcp::endpoint ep;         // set by run_load
  std::string host_header;  // "host:port", set by run_load
  // Set by run_load when opt.tls; shared by every client (OpenSSL contexts are
  // thread-safe once configured).
  std::shared_ptr<asio::ssl::context> tls_context;
  Clock::time_point t_start, t_measure, t_end;
  std::atomic<uint64_t> next_ticket{0};
  std::atomic<uint64_t> next_client{0};  // pacing slots (opt.rate > 0)
  std::atomic<bool> stop{false};

  // No request is to be started any more.
  bool over() const {
    if (stop.load(std::memory_order_relaxed)) return true;
    if (count_mode) return next_ticket.load(std::memory_order_relaxed) >= opt.requests;
    return Clock::now() >= t_end;
  }

  // Whether a client may start another request. In count mode this takes a ticket
  // (stored in *ticket when given) unless `setup`: a setup request is not counted and
  // takes none. Outside count mode the window must still be open.
  bool admit(uint64_t* ticket = nullptr, bool setup = false) {
    if (stop.load(std::memory_order_relaxed)) return false;
    if (!count_mode) return Clock::now() < t_end;
    if (setup) return true;
    uint64_t t = next_ticket.fetch_add(1, std::memory_order_relaxed);
    if (ticket != nullptr) *ticket = t;
    return t < opt.requests;
  }

  // An answer received at `now` counts towards the result.
  bool in_window(Clock::time_point now) const {
    return count_mode || (now >= t_measure && now <= t_end);
  }
};

// What the clients of one io thread saw. A tool that counts more derives from it and
// adds to merge().
struct LoadStats {
  std::vector<uint32_t> lat;  // successful requests in the window, microseconds
  uint64_t errors = 0;
  uint64_t io_errors = 0;
  uint64_t reconnects = 0;
  std::map<int, uint64_t> bad_status;
  std::string first_error;
  Clock::time_point last_done{};
  int active = 0;  // clients of this thread not yet finished

  void merge(const LoadStats& o) {
    lat.insert(lat.end(), o.lat.begin(), o.lat.end());
    errors += o.errors;
    io_errors += o.io_errors;
    reconnects += o.reconnects;
    for (auto [code, n] : o.bad_status) bad_status[code] += n;
    if (first_error.empty()) first_error = o.first_error;
    last_done = std::max(last_done, o.last_done);
  }
};

// A client's connection: a plain socket, or a TLS stream made fresh for each
// connection (so each connect is a full handshake). The one interface the
// clients and Beast read and write through. Used on its client's io thread.
class BenchStream {
 public:
  using executor_type = tcp::socket::executor_type;
  BenchStream(asio::io_context& io, asio::ssl::context* tls_context) : io_(io), ctx_(tls_context), plain_(io) {}

  executor_type get_executor() { return plain_.get_executor(); }
  bool is_tls() const { return ctx_ != nullptr; }
  // The TCP socket to connect; for TLS, of a new TLS stream.
  tcp::socket& fresh_socket() {
    if (!ctx_) return plain_;
    tls_.emplace(io_, *ctx_);
    return tls_->next_layer();
  }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
  asio::ssl::stream<tcp::socket>& tls() { return *tls_; }

  void close(error_code& ec) { socket().close(ec); }
  void shutdown(tcp::socket::shutdown_type how, error_code& ec) { socket().shutdown(how, ec); }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& b, Handler&& h) {
    if (tls_) return tls_->async_read_some(b, std::forward<Handler>(h));
    plain_.async_read_some(b, std::forward<Handler>(h));
  }
  template <class Buffers, class Handler>
  void async_write_some(const Buffers& b, Handler&& h) {
    if (tls_) return tls_->async_write_some(b, std::forward<Handler>(h));
    plain_.async_write_some(b, std::forward<Handler>(h));
  }

 private:
  asio::io_context& io_;
  asio::ssl::context* ctx_;
  tcp::socket plain_;
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
};

// One closed-loop client: a keep-alive connection with exactly one request
// outstanding. Owned through shared_ptr by its worker and by its pending handlers;
// used only on its io thread.
class HttpBenchClient : public std::enable_shared_from_this<HttpBenchClient> {
 public:
  HttpBenchClient(asio::io_context& io, LoadRun& run, LoadStats& st)
      : sock_(io, run.tls_context.get()), run_(run), st_(st), retry_(io), pace_(io), slot_(run.next_client.fetch_add(1)) {
    ++st_.active;
  }
  virtual ~HttpBenchClient() = default;

  void start() { connect(); }

  // Called by the per-thread sweeper: enforces a forced stop and the request timeout.
  void check(Clock::time_point now) {
    if (finished_) return;
    if (run_.stop.load(std::memory_order_relaxed)) {
      close();
      finish();
      return;
    }
    auto limit = std::chrono::duration<double>(run_.opt.timeout);
    if (in_flight_ && now - t0_ > limit) {
      timed_out_ = true;
      close();  // the pending operation completes with operation_aborted
    }
  }

 protected:
  // Writes the next request into req_ and returns true, or returns false when this
  // client is done (usually because run_.admit() said so).
  virtual bool next_request() = 0;
  // Reads the answer to req_ from sock_, then calls respond() or on_error().
  virtual void read_response() = 0;
  // A new connection is up: forget whatever the previous one left behind.
  virtual void on_connected() {}
  virtual void close() {
    error_code ignored;
    sock_.close(ignored);
  }

  // The answer has been read and judged at `now`: start the next request, on a new
  // connection unless `keep_alive`.
  void respond(Clock::time_point now, bool keep_alive) {
    in_flight_ = false;
    if (now > st_.last_done) st_.last_done = now;
    if (!keep_alive) {
      close();
      return connect();
    }
    send_next();
  }

  // An I/O error (or a response that cannot be parsed): counted while the run goes on,
  // then a reconnect after a short back-off.
  void on_error(error_code ec, const char* what) {
    bool was_busy = in_flight_ || connecting_ || !connected_once_;
    in_flight_ = false;
    close();
    if (finished_) return;
    if (run_.stop.load(std::memory_order_relaxed)) return finish();
    auto now = Clock::now();
    if (was_busy && (run_.count_mode || now <= run_.t_end)) {
      ++st_.errors;
      ++st_.io_errors;
      if (st_.first_error.empty())
        st_.first_error = std::string(what) + ": " + (timed_out_ ? "request timed out" : ec.message());
    }
    if (run_.over()) return finish();
    // Back off a little so a refused connection does not spin.
    retry_.expires_after(std::chrono::milliseconds(20));
    retry_.async_wait([self = shared_from_this()](error_code) { self->connect(); });
  }

  // shared_from_this() as the derived type, for the derived class's handlers.
  template <class T>
  std::shared_ptr<T> shared_as() {
    return std::static_pointer_cast<T>(shared_from_this());
  }

  BenchStream sock_;
  LoadRun& run_;
  LoadStats& st_;
  std::string req_;
  Clock::time_point t0_{};  // when the request in flight was sent

 private:
  void connect() {
    if (finished_) return;
    if (run_.over()) return finish();
    connecting_ = true;
    sock_.fresh_socket().async_connect(run_.ep, [self = shared_from_this()](error_code ec) {
      if (ec) {
        self->connecting_ = false;
        return self->on_error(ec, "connect");
      }
      self->sock_.socket().set_option(tcp::no_delay(true), ec);
      if (!self->sock_.is_tls()) return self->connected();
      self->sock_.tls().async_handshake(asio::ssl::stream_base::client, [self](error_code hec) {
        if (hec) {
          self->connecting_ = false;
          return self->on_error(hec, "tls handshake");
        }
        self->connected();
      });
    });
  }

  void connected() {
    connecting_ = false;
    if (connected_once_) ++st_.reconnects;
    connected_once_ = true;
    on_connected();
    send_next();
  }

  void send_next() {
    if (run_.opt.rate > 0) {
      const double n = static_cast<double>(slot_ + sent_ * static_cast<uint64_t>(run_.opt.clients));
      const auto due = run_.t_start + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(n / run_.opt.rate));
      if (Clock::now() < due && !run_.over()) {
        pace_.expires_at(due);
        pace_.async_wait([self = shared_from_this(), due](error_code) { self->send_at(due); });
        return;
      }
      return send_at(due);
    }
    send_at(Clock::now());
  }

  // Sends the next request, counting its latency from `due`.
  void send_at(Clock::time_point due) {
    if (finished_) return;
    if (!next_request()) return finish();
    ++sent_;
    in_flight_ = true;
    timed_out_ = false;
    t0_ = run_.opt.rate > 0 ? due : Clock::now();
    asio::async_write(sock_, asio::buffer(req_), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->on_error(ec, "write");
      self->read_response();
    });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    close();
    retry_.cancel();
    pace_.cancel();
    --st_.active;
  }

  asio::steady_timer retry_;
  asio::steady_timer pace_;  // waits for the next due time (opt.rate > 0)
  const uint64_t slot_;
  uint64_t sent_ = 0;
  bool in_flight_ = false, connecting_ = false, connected_once_ = false;
  bool timed_out_ = false, finished_ = false;
};

template <class Stats>
struct LoadResult {
  Stats totals;     // every thread's Stats merged
  Summary summary;  // over totals.lat and totals.errors
};

// Resolves the server, makes opt.clients clients with
// make_client(io, stats, i) -> std::shared_ptr<HttpBenchClient> spread over opt.threads
// io threads (each with its own Stats), runs them to the end of the window (or of the
// tickets) and returns what they saw. Clients still busy a request timeout plus 2 s
// after the window are stopped. Returns nullopt, after saying why on stderr prefixed
// with `prog`, if the host does not resolve.
template <class Stats, class MakeClient>
std::optional<LoadResult<Stats>> run_load(const char* prog, LoadRun& run, MakeClient make_client) {
  const LoadOptions& o = run.opt;
  try {
    asio::io_context resolver_io;
    tcp::resolver resolver(resolver_io);
    auto results = resolver.resolve(o.host, std::to_string(o.port));
    run.ep = *results.begin();
  } catch (const std::exception& e) {
    std::cerr << prog << ": cannot resolve " << o.host << ": " << e.what() << "\n";
    return std::nullopt;
  }
  run.host_header = o.host + ":" + std::to_string(o.port);
  if (o.tls) {
    run.tls_context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    run.tls_context->set_verify_mode(asio::ssl::verify_none);
    if (!o.cert.empty()) {
      boost::system::error_code ec;
      run.tls_context->use_certificate_chain_file(o.cert, ec);
      if (!ec) run.tls_context->use_private_key_file(o.key, asio::ssl::context::pem, ec);
      if (ec) {
        std::cerr << prog << ": cannot use the client certificate " << o.cert << ": " << ec.message() << "\n";
        return std::nullopt;
      }
    }
  }

  // Per io thread: its clients and a sweeper that enforces request timeouts and a
  // forced stop.
  struct Worker {
    asio::io_context io{1};
    Stats stats;
    std::vector<std::shared_ptr<HttpBenchClient>> clients;
    std::unique_ptr<asio::steady_timer> sweeper;

    void sweep() {
      sweeper->expires_after(std::chrono::milliseconds(100));
      sweeper->async_wait([this](error_code) {
        auto now = Clock::now();
        for (auto& c : clients) c->check(now);
        if (stats.active > 0) sweep();
      });
    }
  };
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) workers.push_back(std::make_unique<Worker>());
  for (int c = 0; c < o.clients; ++c) {
    Worker& w = *workers[static_cast<size_t>(c % o.threads)];
    w.clients.push_back(make_client(w.io, w.stats, c));
  }
  for (auto& w : workers) {
    size_t expect = 1024;
    if (!run.count_mode) expect = static_cast<size_t>(o.seconds * 20000.0 / o.threads) + 1024;
    w->stats.lat.reserve(std::min<size_t>(expect, 4u << 20));
    w->sweeper = std::make_unique<asio::steady_timer>(w->io);
  }

  run.t_start = Clock::now();
  auto dur = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  run.t_measure = run.t_start + dur(run.count_mode ? 0 : o.warmup);
  run.t_end = run.count_mode ? Clock::time_point::max() : run.t_measure + dur(o.seconds);

  std::atomic<int> running{0};
  std::vector<std::thread> threads;
  for (auto& wp : workers) {
    Worker* w = wp.get();
    for (auto& c : w->clients) asio::post(w->io, [c] { c->start(); });
    asio::post(w->io, [w] { w->sweep(); });
    running.fetch_add(1);
    threads.emplace_back([w, &running] {
      w->io.run();
      running.fetch_sub(1);
    });
  }

  // Wait for the clients to finish on their own; after the end of the window plus the
  // request timeout (and a grace period), stop them.
  auto hard_end = run.count_mode ? Clock::time_point::max() : run.t_end + dur(o.timeout + 2);
  bool forced = false;
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto now = Clock::now();
    if (!forced && now > hard_end) {
      forced = true;
      run.stop = true;
      std::cerr << prog << ": clients did not finish in time, stopping them\n";
    }
    if (forced && now > hard_end + dur(3))
      for (auto& w : workers) w->io.stop();
  }
  for (auto& t : threads) t.join();

  LoadResult<Stats> r;
  r.totals.last_done = run.t_start;
  for (auto& w : workers) r.totals.merge(w->stats);
  double seconds = run.count_mode
                       ? std::chrono::duration<double>(r.totals.last_done - run.t_start).count()
                       : o.seconds;
  r.summary = summarize(r.totals.lat, r.totals.errors, seconds);
  return r;
}

}  // namespace corvus::bench
