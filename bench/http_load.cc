// corvus-http-load: a small closed-loop HTTP/1.1 load generator for the benchmarks.
//
// N keep-alive connections, each with exactly one request outstanding (N clients),
// on 1 or 2 Asio io threads. Requests are written by hand and responses parsed just
// enough to find their end (Content-Length, chunked, or read-until-close), so the
// client costs little CPU on a machine it shares with the server.
//
// Modes:
//   put      PUT /databases/<db>/docs?id=bench/<tag><conn>-<seq>  (1 KB JSON body)
//   preload  PUT the ids bench/<tag>g-0 .. bench/<tag>g-<ids-1>  (request-count run)
//   get      GET /databases/<db>/docs?id=bench/<tag>g-<random i < ids>
//   static   GET <path>
// One result line on stdout (see bench_common.h); diagnostics on stderr.

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <iostream>
#include <memory>
#include <random>
#include <thread>

#include "bench/bench_common.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
namespace cb = corvus::bench;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string mode = "put";
  int clients = 1;
  double seconds = 10;
  double warmup = 0;
  uint64_t requests = 0;  // > 0: run this many requests instead of a duration
  int threads = 1;
  std::string db = "bench";
  std::string path = "/";
  uint64_t ids = 10000;
  std::string tag;
  size_t doc_size = 1024;
  double timeout = 30;  // per request
};

struct Shared {
  Options opt;
  tcp::endpoint ep;
  std::string host_header;
  bool count_mode = false;
  cb::Clock::time_point t_start, t_measure, t_end;
  std::atomic<uint64_t> next_ticket{0};
  std::atomic<bool> stop{false};
};

struct ThreadStats {
  std::vector<uint32_t> lat;
  uint64_t errors = 0;
  uint64_t io_errors = 0;
  uint64_t reconnects = 0;
  std::map<int, uint64_t> bad_status;
  std::string first_error;
  cb::Clock::time_point last_done{};
  int active = 0;  // connections of this thread not yet finished
};

bool iequals_prefix(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower_prefix[i]) return false;
  }
  return true;
}

bool icontains(std::string_view s, std::string_view lower_needle) {
  for (size_t i = 0; i + lower_needle.size() <= s.size(); ++i)
    if (iequals_prefix(s.substr(i), lower_needle)) return true;
  return false;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(asio::io_context& io, Shared& sh, ThreadStats& st, int id)
      : io_(io), sock_(io), retry_(io), sh_(sh), st_(st), id_(id),
        rng_(0x5eed0000ull + static_cast<uint64_t>(id)) {
    ++st_.active;
  }

  void start() { connect(); }

  // Called by the per-thread sweeper.
  void check(cb::Clock::time_point now) {
    if (finished_) return;
    if (sh_.stop.load(std::memory_order_relaxed)) {
      close();
      finish();
      return;
    }
    auto limit = std::chrono::duration<double>(sh_.opt.timeout);
    if (in_flight_ && now - t0_ > limit) {
      timed_out_ = true;
      close();  // the pending operation completes with operation_aborted
    }
  }

 private:
  enum class Phase { Head, Body, Chunk, Trailer, Eof };
  enum class Parse { NeedMore, Done, Bad };

  void connect() {
    if (finished_) return;
    if (done()) return finish();
    connecting_ = true;
    sock_.async_connect(sh_.ep, [self = shared_from_this()](error_code ec) {
      self->connecting_ = false;
      if (ec) return self->on_error(ec, "connect");
      self->sock_.set_option(tcp::no_delay(true), ec);
      if (self->connected_once_) ++self->st_.reconnects;
      self->connected_once_ = true;
      self->send_next();
    });
  }

  bool done() const {
    if (sh_.stop.load(std::memory_order_relaxed)) return true;
    if (sh_.count_mode) return sh_.next_ticket.load(std::memory_order_relaxed) >= sh_.opt.requests;
    return cb::Clock::now() >= sh_.t_end;
  }

  // Builds the next request into req_; false when the run is over for this client.
  bool next_request() {
    if (sh_.stop.load(std::memory_order_relaxed)) return false;
    uint64_t ticket = 0;
    if (sh_.count_mode) {
      ticket = sh_.next_ticket.fetch_add(1, std::memory_order_relaxed);
      if (ticket >= sh_.opt.requests) return false;
    } else if (cb::Clock::now() >= sh_.t_end) {
      return false;
    }
    const Options& o = sh_.opt;
    req_.clear();
    if (o.mode == "static") {
      req_ += "GET ";
      req_ += o.path;
      req_ += " HTTP/1.1\r\nHost: ";
      req_ += sh_.host_header;
      req_ += "\r\n\r\n";
      return true;
    }
    std::string id;
    if (o.mode == "get") {
      id = cb::get_id(o.tag, std::uniform_int_distribution<uint64_t>(0, o.ids - 1)(rng_));
    } else if (o.mode == "preload") {
      id = cb::get_id(o.tag, ticket);
    } else {
      id = cb::put_id(o.tag, id_, seq_);
    }
    const bool put = o.mode != "get";
    req_ += put ? "PUT" : "GET";
    req_ += " /databases/";
    req_ += o.db;
    req_ += "/docs?id=";
    req_ += cb::url_encode(id);
    req_ += " HTTP/1.1\r\nHost: ";
    req_ += sh_.host_header;
    if (put) {
      std::string body = cb::make_doc(id, seq_, o.doc_size);
      req_ += "\r\nContent-Type: application/json\r\nContent-Length: ";
      req_ += std::to_string(body.size());
      req_ += "\r\n\r\n";
      req_ += body;
    } else {
      req_ += "\r\n\r\n";
    }
    ++seq_;
    return true;
  }

  void send_next() {
    if (!next_request()) return finish();
    in_flight_ = true;
    timed_out_ = false;
    t0_ = cb::Clock::now();
    asio::async_write(sock_, asio::buffer(req_),
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) return self->on_error(ec, "write");
                        self->on_data();
                      });
  }

  void on_data() {
    switch (parse()) {
      case Parse::Done:
        return complete();
      case Parse::Bad:
        return on_error(asio::error::invalid_argument, "malformed HTTP response");
      case Parse::NeedMore:
        break;
    }
    sock_.async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](error_code ec, size_t n) {
      if (ec == asio::error::eof && self->phase_ == Phase::Eof) {
        self->close_ = true;
        return self->complete();
      }
      if (ec) return self->on_error(ec, "read");
      self->buf_.append(self->rbuf_.data(), n);
      self->on_data();
    });
  }

  Parse parse() {
    for (;;) {
      switch (phase_) {
        case Phase::Head: {
          size_t e = buf_.find("\r\n\r\n");
          if (e == std::string::npos) return buf_.size() > 65536 ? Parse::Bad : Parse::NeedMore;
          std::string_view head(buf_.data(), e);
          if (head.size() < 12 || head.substr(0, 7) != "HTTP/1.") return Parse::Bad;
          int code = 0;
          for (size_t i = 9; i < 12; ++i) {
            if (head[i] < '0' || head[i] > '9') return Parse::Bad;
            code = code * 10 + (head[i] - '0');
          }
          status_ = code;
          close_ = head[7] == '0';  // HTTP/1.0 closes unless it says keep-alive
          bool chunked = false;
          long long cl = -1;
          size_t p = head.find("\r\n");
          while (p != std::string_view::npos && p < head.size()) {
            size_t start = p + 2;
            size_t q = head.find("\r\n", start);
            std::string_view line = head.substr(start, q == std::string_view::npos ? head.npos : q - start);
            p = q;
            size_t colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            std::string_view name = trim(line.substr(0, colon));
            std::string_view value = trim(line.substr(colon + 1));
            if (name.size() == 14 && iequals_prefix(name, "content-length")) {
              cl = 0;
              for (char c : value) {
                if (c < '0' || c > '9') return Parse::Bad;
                cl = cl * 10 + (c - '0');
              }
            } else if (name.size() == 17 && iequals_prefix(name, "transfer-encoding")) {
              chunked = icontains(value, "chunked");
            } else if (name.size() == 10 && iequals_prefix(name, "connection")) {
              if (icontains(value, "close")) close_ = true;
              else if (icontains(value, "keep-alive")) close_ = false;
            }
          }
          pos_ = e + 4;
          body_start_ = pos_;
          if (status_ >= 100 && status_ < 200 && status_ != 101) {  // interim response
            buf_.erase(0, pos_);
            pos_ = 0;
            continue;
          }
          if (status_ == 204 || status_ == 304) return Parse::Done;
          if (chunked) {
            phase_ = Phase::Chunk;
          } else if (cl >= 0) {
            phase_ = Phase::Body;
            body_end_ = pos_ + static_cast<size_t>(cl);
          } else {
            phase_ = Phase::Eof;
          }
          continue;
        }
        case Phase::Body:
          if (buf_.size() < body_end_) return Parse::NeedMore;
          pos_ = body_end_;
          return Parse::Done;
        case Phase::Chunk: {
          size_t e = buf_.find("\r\n", pos_);
          if (e == std::string::npos) return buf_.size() - pos_ > 1024 ? Parse::Bad : Parse::NeedMore;
          size_t size = 0;
          size_t i = pos_;
          int digits = 0;
          for (; i < e; ++i, ++digits) {
            char c = buf_[i];
            int v = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
            if (v < 0) break;  // chunk extension or whitespace follows
            if (digits >= 15) return Parse::Bad;
            size = size * 16 + static_cast<size_t>(v);
          }
          if (digits == 0) return Parse::Bad;
          if (size == 0) {
            pos_ = e + 2;
            phase_ = Phase::Trailer;
            continue;
          }
          size_t data = e + 2;
          if (buf_.size() < data + size + 2) return Parse::NeedMore;
          if (buf_[data + size] != '\r' || buf_[data + size + 1] != '\n') return Parse::Bad;
          pos_ = data + size + 2;
          continue;
        }
        case Phase::Trailer: {
          size_t e = buf_.find("\r\n", pos_);
          if (e == std::string::npos) return Parse::NeedMore;
          bool empty = e == pos_;
          pos_ = e + 2;
          if (empty) return Parse::Done;
          continue;
        }
        case Phase::Eof:
          return Parse::NeedMore;  // ends when the server closes
      }
    }
  }

  void complete() {
    auto now = cb::Clock::now();
    in_flight_ = false;
    bool counted = sh_.count_mode || (now >= sh_.t_measure && now <= sh_.t_end);
    if (counted) {
      if (status_ >= 200 && status_ < 300) {
        st_.lat.push_back(cb::micros_since(t0_, now));
      } else {
        ++st_.errors;
        ++st_.bad_status[status_];
        if (st_.first_error.empty()) {
          size_t end = phase_ == Phase::Eof ? buf_.size() : pos_;
          std::string body = buf_.substr(body_start_, std::min<size_t>(end - body_start_, 300));
          st_.first_error = "HTTP " + std::to_string(status_) + ": " + body;
        }
      }
    }
    if (now > st_.last_done) st_.last_done = now;
    buf_.clear();  // one request outstanding: nothing valid can follow the response
    pos_ = 0;
    phase_ = Phase::Head;
    if (close_) {
      close();
      return connect();
    }
    send_next();
  }

  void on_error(error_code ec, const char* what) {
    bool was_busy = in_flight_ || connecting_ || !connected_once_;
    in_flight_ = false;
    close();
    buf_.clear();
    pos_ = 0;
    phase_ = Phase::Head;
    if (finished_) return;
    if (sh_.stop.load(std::memory_order_relaxed)) return finish();
    auto now = cb::Clock::now();
    if (was_busy && (sh_.count_mode || now <= sh_.t_end)) {
      ++st_.errors;
      ++st_.io_errors;
      if (st_.first_error.empty())
        st_.first_error = std::string(what) + ": " + (timed_out_ ? "request timed out" : ec.message());
    }
    if (done()) return finish();
    // Back off a little so a refused connection does not spin.
    retry_.expires_after(std::chrono::milliseconds(20));
    retry_.async_wait([self = shared_from_this()](error_code) { self->connect(); });
  }

  void close() {
    error_code ignored;
    sock_.close(ignored);
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    close();
    retry_.cancel();
    --st_.active;
  }

  asio::io_context& io_;
  tcp::socket sock_;
  asio::steady_timer retry_;
  Shared& sh_;
  ThreadStats& st_;
  int id_;
  std::mt19937_64 rng_;
  uint64_t seq_ = 0;
  std::string req_;
  std::string buf_;
  std::array<char, 16384> rbuf_{};
  Phase phase_ = Phase::Head;
  size_t pos_ = 0, body_start_ = 0, body_end_ = 0;
  int status_ = 0;
  bool close_ = false;
  bool in_flight_ = false, connecting_ = false, connected_once_ = false;
  bool timed_out_ = false, finished_ = false;
  cb::Clock::time_point t0_{};
};

// Per io thread: its connections and a sweeper that enforces request timeouts and a
// forced stop.
struct Worker {
  asio::io_context io{1};
  ThreadStats stats;
  std::vector<std::shared_ptr<Conn>> conns;
  std::unique_ptr<asio::steady_timer> sweeper;

  void sweep() {
    sweeper->expires_after(std::chrono::milliseconds(100));
    sweeper->async_wait([this](error_code) {
      auto now = cb::Clock::now();
      for (auto& c : conns) c->check(now);
      if (stats.active > 0) sweep();
    });
  }
};

void usage() {
  std::cerr <<
      R"(usage: corvus-http-load --port P [options]
  --host H          server address (default 127.0.0.1)
  --port P          server port (required)
  --mode M          put | get | preload | static (default put)
  --clients N       concurrent keep-alive connections, one request each (default 1)
  --seconds S       measured duration (default 10)
  --warmup S        unmeasured time before the window (default 0)
  --requests N      run N requests in total instead of a duration (preload: = --ids)
  --threads T       io threads, 1 or 2 (default 1)
  --db NAME         database (default bench)
  --path P          path for --mode static (default /)
  --ids N           get/preload key space bench/<tag>g-0..N-1 (default 10000)
  --tag T           id prefix after "bench/" (default empty)
  --doc-size B      JSON body size for put/preload (default 1024)
  --timeout S       per-request timeout, counted as an error (default 30)
Prints: mode=.. clients=.. requests=.. seconds=.. rps=.. p50_us=.. p99_us=.. errors=.. ...
Only 2xx responses count as requests; anything else (and I/O errors) counts as an error.
)";
}

}  // namespace

int main(int argc, char** argv) {
  cb::Args args(argc, argv);
  Shared sh;
  Options& o = sh.opt;
  o.host = args.str("host", o.host);
  o.port = static_cast<int>(args.num("port", 0));
  o.mode = args.str("mode", o.mode);
  o.clients = static_cast<int>(args.num("clients", o.clients));
  o.seconds = args.num("seconds", o.seconds);
  o.warmup = args.num("warmup", o.warmup);
  o.requests = static_cast<uint64_t>(args.num("requests", 0));
  o.threads = static_cast<int>(args.num("threads", o.threads));
  o.db = args.str("db", o.db);
  o.path = args.str("path", o.path);
  o.ids = static_cast<uint64_t>(args.num("ids", static_cast<double>(o.ids)));
  o.tag = args.str("tag", o.tag);
  o.doc_size = static_cast<size_t>(args.num("doc-size", static_cast<double>(o.doc_size)));
  o.timeout = args.num("timeout", o.timeout);
  std::string err = args.bad().empty() ? args.unknown() : args.bad();
  if (args.help()) {
    usage();
    return 0;
  }
  if (err.empty() && (o.port <= 0 || o.port > 65535)) err = "--port is required";
  if (err.empty() && o.mode != "put" && o.mode != "get" && o.mode != "preload" && o.mode != "static")
    err = "--mode must be put, get, preload or static";
  if (err.empty() && (o.clients < 1 || o.clients > 10000)) err = "--clients must be 1..10000";
  if (err.empty() && (o.threads < 1 || o.threads > 64)) err = "--threads must be 1..64";
  if (err.empty() && o.ids < 1) err = "--ids must be >= 1";
  if (err.empty() && o.seconds <= 0 && o.requests == 0) err = "--seconds must be > 0";
  if (!err.empty()) {
    std::cerr << "corvus-http-load: " << err << "\n";
    usage();
    return 2;
  }
  if (o.mode == "preload" && o.requests == 0) o.requests = o.ids;
  sh.count_mode = o.requests > 0;
  if (sh.count_mode) o.warmup = 0;

  try {
    asio::io_context resolver_io;
    tcp::resolver resolver(resolver_io);
    auto results = resolver.resolve(o.host, std::to_string(o.port));
    sh.ep = *results.begin();
  } catch (const std::exception& e) {
    std::cerr << "corvus-http-load: cannot resolve " << o.host << ": " << e.what() << "\n";
    return 2;
  }
  sh.host_header = o.host + ":" + std::to_string(o.port);

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) workers.push_back(std::make_unique<Worker>());
  for (int c = 0; c < o.clients; ++c) {
    Worker& w = *workers[static_cast<size_t>(c % o.threads)];
    w.conns.push_back(std::make_shared<Conn>(w.io, sh, w.stats, c));
  }
  for (auto& w : workers) {
    size_t expect = 1024;
    if (!sh.count_mode) expect = static_cast<size_t>(o.seconds * 20000.0 / o.threads) + 1024;
    w->stats.lat.reserve(std::min<size_t>(expect, 4u << 20));
    w->sweeper = std::make_unique<asio::steady_timer>(w->io);
  }

  sh.t_start = cb::Clock::now();
  auto dur = [](double s) {
    return std::chrono::duration_cast<cb::Clock::duration>(std::chrono::duration<double>(s));
  };
  sh.t_measure = sh.t_start + dur(o.warmup);
  sh.t_end = sh.count_mode ? cb::Clock::time_point::max() : sh.t_measure + dur(o.seconds);

  std::atomic<int> running{0};
  std::vector<std::thread> threads;
  for (auto& wp : workers) {
    Worker* w = wp.get();
    for (auto& c : w->conns) asio::post(w->io, [c] { c->start(); });
    asio::post(w->io, [w] { w->sweep(); });
    running.fetch_add(1);
    threads.emplace_back([w, &running] {
      w->io.run();
      running.fetch_sub(1);
    });
  }

  // Wait for the clients to finish on their own; after the end of the window plus the
  // request timeout (and a grace period), stop them.
  auto hard_end = sh.count_mode ? cb::Clock::time_point::max() : sh.t_end + dur(o.timeout + 2);
  bool forced = false;
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto now = cb::Clock::now();
    if (!forced && now > hard_end) {
      forced = true;
      sh.stop = true;
      std::cerr << "corvus-http-load: clients did not finish in time, stopping them\n";
    }
    if (forced && now > hard_end + dur(3))
      for (auto& w : workers) w->io.stop();
  }
  for (auto& t : threads) t.join();

  std::vector<uint32_t> lat;
  uint64_t errors = 0, io_errors = 0, reconnects = 0;
  std::map<int, uint64_t> bad_status;
  std::string first_error;
  cb::Clock::time_point last_done = sh.t_start;
  for (auto& w : workers) {
    lat.insert(lat.end(), w->stats.lat.begin(), w->stats.lat.end());
    errors += w->stats.errors;
    io_errors += w->stats.io_errors;
    reconnects += w->stats.reconnects;
    for (auto [code, n] : w->stats.bad_status) bad_status[code] += n;
    if (first_error.empty()) first_error = w->stats.first_error;
    last_done = std::max(last_done, w->stats.last_done);
  }
  double seconds = sh.count_mode ? std::chrono::duration<double>(last_done - sh.t_start).count()
                                 : o.seconds;
  cb::Summary s = cb::summarize(lat, errors, seconds);
  if (errors > 0) {
    std::cerr << "corvus-http-load: " << errors << " errors (" << io_errors << " I/O";
    for (auto [code, n] : bad_status) std::cerr << ", " << n << " x HTTP " << code;
    std::cerr << "); first: " << first_error << "\n";
  }
  cb::print_result(o.mode, o.clients, s,
                   "target=http threads=" + std::to_string(o.threads) +
                       " reconnects=" + std::to_string(reconnects));
  return 0;
}
