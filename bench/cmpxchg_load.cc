// corvus-cmpxchg-load: a closed-loop compare-and-swap load generator for
// bench/cmpxchg_bench.sh, speaking either corvusd's compare-exchange REST API or
// etcd's v3 HTTP/JSON gateway, so that both sides pay the same client cost.
//
// N keep-alive connections, each with exactly one request outstanding (N clients),
// on 1 or 2 Asio io threads. Requests are written by hand; responses are read with
// Beast's parser (Content-Length or chunked) and searched for the two fields that
// matter, so the client costs little CPU on a machine it shares with the servers.
//
// Modes (K = bench/<tag><conn>-<seq> for create, bench/<tag>u<conn> for update):
//   create  corvus: PUT /databases/<db>/cmpxchg?key=K&index=0&raft-request-id=<uuid>
//                   body {"Object":{"v":"<value>"}}; success = "Successful":true
//           etcd:   POST /v3/kv/txn  compare create_revision(K) == 0, then put K;
//                   success = "succeeded":true
//           every request creates a fresh key.
//   update  each client owns one key: it creates it first (unmeasured), then keeps
//           replacing it with the version it was last told
//           corvus: ...cmpxchg?key=K&index=<last Index>   (the answer's "Index")
//           etcd:   compare mod_revision(K) == <last>, then put (the answer's
//                   header.revision is the key's new mod_revision)
// A refused swap (Successful:false, or a txn that did not succeed) is an error; the
// client then adopts the current version from the answer (corvus: "Index"; etcd:
// the failure branch reads the key, "mod_revision") and goes on.
//
// One result line on stdout (see bench_common.h); on errors, their count by kind and
// the first one (status and body) on stderr.

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "bench/bench_common.h"

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;
namespace cb = corvus::bench;

namespace {

enum class Target { Corvus, Etcd };
enum class Mode { Create, Update };

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  Target target = Target::Corvus;
  Mode mode = Mode::Create;
  int clients = 1;
  double seconds = 5;
  double warmup = 0;
  uint64_t requests = 0;  // > 0: run this many requests in total instead of a duration
  int threads = 1;
  std::string db = "bench";
  std::string tag;
  size_t value_size = 16;
  double timeout = 30;  // per request
};

struct Shared {
  Options opt;
  tcp::endpoint ep;
  std::string host_header;
  bool count_mode = false;
  uint64_t run_id = 0;  // makes raft-request-ids unique across runs
  cb::Clock::time_point t_start, t_measure, t_end;
  std::atomic<uint64_t> next_ticket{0};
  std::atomic<bool> stop{false};
};

struct ThreadStats {
  std::vector<uint32_t> lat;
  uint64_t errors = 0;
  uint64_t io_errors = 0;
  uint64_t cas_refused = 0;  // 2xx, but the swap did not happen
  uint64_t bad_body = 0;     // 2xx without the fields we need
  uint64_t reconnects = 0;
  std::map<int, uint64_t> bad_status;
  std::string first_error;
  cb::Clock::time_point last_done{};
  int active = 0;  // connections of this thread not yet finished
};

std::string base64(std::string_view in) {
  static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
                 static_cast<uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += rest == 2 ? tbl[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// The position just after `"name"` followed by optional spaces and a colon and
// optional spaces, or npos. Good enough for the flat answers of both servers: the
// values we write never contain these names.
size_t find_field(std::string_view body, std::string_view quoted_name) {
  size_t p = body.find(quoted_name);
  while (p != std::string_view::npos) {
    size_t q = p + quoted_name.size();
    while (q < body.size() && (body[q] == ' ' || body[q] == '\t' || body[q] == '\n' || body[q] == '\r')) ++q;
    if (q < body.size() && body[q] == ':') {
      ++q;
      while (q < body.size() && (body[q] == ' ' || body[q] == '\t' || body[q] == '\n' || body[q] == '\r')) ++q;
      return q;
    }
    p = body.find(quoted_name, p + 1);
  }
  return std::string_view::npos;
}

// A field holding true/false; nullopt when absent or not a boolean.
std::optional<bool> bool_field(std::string_view body, std::string_view quoted_name) {
  size_t p = find_field(body, quoted_name);
  if (p == std::string_view::npos) return std::nullopt;
  if (body.substr(p, 4) == "true") return true;
  if (body.substr(p, 5) == "false") return false;
  return std::nullopt;
}

// A field holding a non-negative integer, as a JSON number or (etcd's int64) a
// string; nullopt when absent or not a number.
std::optional<uint64_t> uint_field(std::string_view body, std::string_view quoted_name) {
  size_t p = find_field(body, quoted_name);
  if (p == std::string_view::npos) return std::nullopt;
  if (p < body.size() && body[p] == '"') ++p;
  uint64_t v = 0;
  size_t digits = 0;
  for (; p < body.size() && body[p] >= '0' && body[p] <= '9' && digits < 19; ++p, ++digits)
    v = v * 10 + static_cast<uint64_t>(body[p] - '0');
  if (digits == 0) return std::nullopt;
  return v;
}

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(Shared& sh, ThreadStats& st, asio::io_context& io, int id)
      : sock_(io), retry_(io), sh_(sh), st_(st), id_(id),
        rng_(sh.run_id ^ (0x5eed0000ull + static_cast<uint64_t>(id))) {
    ++st_.active;
    const Options& o = sh_.opt;
    if (o.mode == Mode::Update) key_ = "bench/" + o.tag + "u" + std::to_string(id_);
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
      self->buf_.clear();
      self->send_next();
    });
  }

  bool done() const {
    if (sh_.stop.load(std::memory_order_relaxed)) return true;
    if (sh_.count_mode) return sh_.next_ticket.load(std::memory_order_relaxed) >= sh_.opt.requests;
    return cb::Clock::now() >= sh_.t_end;
  }

  std::string value() const {
    // {"v":"<value_size chars>"}: the sequence number, padded.
    std::string v = std::to_string(seq_);
    if (v.size() < sh_.opt.value_size) v.insert(0, sh_.opt.value_size - v.size(), 'x');
    return "{\"v\":\"" + v + "\"}";
  }

  std::string request_id() {
    // A version-4-shaped UUID, as the official client sends.
    static constexpr char hex[] = "0123456789abcdef";
    uint64_t a = rng_(), b = rng_();
    std::string s;
    s.reserve(36);
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) s += '-';
      uint64_t& w = i < 16 ? a : b;
      s += hex[w & 15];
      w >>= 4;
    }
    s[14] = '4';
    return s;
  }

  // Builds the next request into req_; false when the run is over for this client.
  bool next_request() {
    if (sh_.stop.load(std::memory_order_relaxed)) return false;
    const Options& o = sh_.opt;
    // The update mode's initial create is setup, not a measured request.
    setup_ = o.mode == Mode::Update && !have_key_;
    if (sh_.count_mode && !setup_) {
      if (sh_.next_ticket.fetch_add(1, std::memory_order_relaxed) >= o.requests) return false;
    } else if (!sh_.count_mode && cb::Clock::now() >= sh_.t_end) {
      return false;
    }
    if (o.mode == Mode::Create) key_ = "bench/" + o.tag + std::to_string(id_) + "-" + std::to_string(seq_);
    const uint64_t expected = o.mode == Mode::Create || !have_key_ ? 0 : last_index_;
    std::string body;
    req_.clear();
    if (o.target == Target::Corvus) {
      body = "{\"Object\":" + value() + "}";
      req_ += "PUT /databases/";
      req_ += o.db;
      req_ += "/cmpxchg?key=";
      req_ += cb::url_encode(key_);
      req_ += "&index=";
      req_ += std::to_string(expected);
      req_ += "&raft-request-id=";
      req_ += request_id();
    } else {
      const std::string k = base64(key_);
      body = "{\"compare\":[{\"target\":";
      body += expected == 0 ? "\"CREATE\",\"key\":\"" : "\"MOD\",\"key\":\"";
      body += k;
      body += expected == 0 ? "\",\"create_revision\":\"0\"}]" : "\",\"mod_revision\":\"";
      if (expected != 0) body += std::to_string(expected) + "\"}]";
      body += ",\"success\":[{\"request_put\":{\"key\":\"" + k + "\",\"value\":\"" + base64(value()) + "\"}}]";
      // Like corvusd's answer to a refused swap, which carries the current value.
      body += ",\"failure\":[{\"request_range\":{\"key\":\"" + k + "\"}}]}";
      req_ += "POST /v3/kv/txn";
    }
    req_ += " HTTP/1.1\r\nHost: ";
    req_ += sh_.host_header;
    req_ += "\r\nContent-Type: application/json\r\nContent-Length: ";
    req_ += std::to_string(body.size());
    req_ += "\r\n\r\n";
    req_ += body;
    ++seq_;
    return true;
  }

  void send_next() {
    if (!next_request()) return finish();
    in_flight_ = true;
    timed_out_ = false;
    t0_ = cb::Clock::now();
    asio::async_write(sock_, asio::buffer(req_), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->on_error(ec, "write");
      self->read_response();
    });
  }

  void read_response() {
    parser_.emplace();
    parser_->body_limit(1u << 20);
    http::async_read(sock_, buf_, *parser_, [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->on_error(ec, "read");
      self->complete();
    });
  }

  void record_error(std::string what) {
    ++st_.errors;
    if (st_.first_error.empty()) st_.first_error = std::move(what);
  }

  // Checks the answer; on success, remembers the key's new version.
  void complete() {
    auto now = cb::Clock::now();
    in_flight_ = false;
    const auto& res = parser_->get();
    const int status = static_cast<int>(res.result_int());
    const std::string_view body = res.body();
    const bool counted = sh_.count_mode || (now >= sh_.t_measure && now <= sh_.t_end);
    const bool keep_alive = res.keep_alive();
    auto describe = [&](const char* what) {
      return std::string(what) + ": HTTP " + std::to_string(status) + ": " +
             std::string(body.substr(0, std::min<size_t>(body.size(), 400)));
    };

    bool ok = false;
    std::optional<uint64_t> version;
    if (status < 200 || status >= 300) {
      if (counted || setup_) {
        ++st_.bad_status[status];
        record_error(describe(setup_ ? "setup create" : "request"));
      }
    } else if (sh_.opt.target == Target::Corvus) {
      auto successful = bool_field(body, "\"Successful\"");
      version = uint_field(body, "\"Index\"");
      if (!successful || !version || *version == 0) {
        if (counted || setup_) {
          ++st_.bad_body;
          record_error(describe("answer without Successful and a non-zero Index"));
        }
        version.reset();
      } else if (!*successful) {
        if (counted || setup_) {
          ++st_.cas_refused;
          record_error(describe("swap refused"));
        }
      } else {
        ok = true;
      }
    } else {
      // etcd omits "succeeded" when false. header.revision comes first in the answer.
      ok = bool_field(body, "\"succeeded\"").value_or(false);
      version = ok ? uint_field(body, "\"revision\"") : uint_field(body, "\"mod_revision\"");
      if (ok && !version) {
        ok = false;
        if (counted || setup_) {
          ++st_.bad_body;
          record_error(describe("answer without header.revision"));
        }
      } else if (!ok && (counted || setup_)) {
        if (body.find("\"header\"") == std::string_view::npos) {
          ++st_.bad_body;
          record_error(describe("not a txn answer"));
        } else {
          ++st_.cas_refused;
          record_error(describe("txn did not succeed"));
        }
      }
    }
    if (version) {
      last_index_ = *version;
      if (sh_.opt.mode == Mode::Update) have_key_ = true;
    }
    if (ok && counted && !setup_) st_.lat.push_back(cb::micros_since(t0_, now));
    if (now > st_.last_done) st_.last_done = now;
    if (!keep_alive) {
      close();
      return connect();
    }
    send_next();
  }

  void on_error(error_code ec, const char* what) {
    bool was_busy = in_flight_ || connecting_ || !connected_once_;
    in_flight_ = false;
    close();
    if (finished_) return;
    if (sh_.stop.load(std::memory_order_relaxed)) return finish();
    auto now = cb::Clock::now();
    if (was_busy && (sh_.count_mode || now <= sh_.t_end)) {
      ++st_.io_errors;
      record_error(std::string(what) + ": " + (timed_out_ ? "request timed out" : ec.message()));
    }
    if (done()) return finish();
    // Back off a little so a refused connection does not spin.
    retry_.expires_after(std::chrono::milliseconds(20));
    retry_.async_wait([self = shared_from_this()](error_code) { self->connect(); });
  }

  void close() {
    error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    close();
    retry_.cancel();
    --st_.active;
  }

  tcp::socket sock_;
  asio::steady_timer retry_;
  Shared& sh_;
  ThreadStats& st_;
  int id_;
  std::mt19937_64 rng_;
  uint64_t seq_ = 0;
  std::string key_;
  bool have_key_ = false;   // update mode: the key exists and last_index_ is its version
  uint64_t last_index_ = 0;
  bool setup_ = false;      // the request in flight is the update mode's initial create
  std::string req_;
  boost::beast::flat_buffer buf_;
  std::optional<http::response_parser<http::string_body>> parser_;
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
      R"(usage: corvus-cmpxchg-load --target corvus|etcd --port P [options]
  --target T        corvus (compare-exchange REST) or etcd (v3 gateway txn)
  --host H          server address (default 127.0.0.1)
  --port P          server port (required)
  --mode M          create | update (default create)
  --clients N       concurrent keep-alive connections, one request each (default 1)
  --seconds S       measured duration (default 5)
  --warmup S        unmeasured time before the window (default 0); update mode
                    creates its keys in it
  --requests N      run N requests in total instead of a duration
  --threads T       io threads (default 1)
  --db NAME         corvus database (default bench)
  --tag T           key prefix after "bench/": use a fresh one per run
  --value-size B    characters in the value {"v":"..."} (default 16)
  --timeout S       per-request timeout, counted as an error (default 30)
Prints: mode=.. clients=.. requests=.. seconds=.. rps=.. p50_us=.. p99_us=.. errors=.. ...
Only swaps that happened count as requests; non-2xx answers, refused swaps, answers
without the expected fields and I/O errors count as errors (the first one on stderr).
)";
}

}  // namespace

int main(int argc, char** argv) {
  cb::Args args(argc, argv);
  Shared sh;
  Options& o = sh.opt;
  const std::string target = args.str("target", "");
  const std::string mode = args.str("mode", "create");
  o.host = args.str("host", o.host);
  o.port = static_cast<int>(args.num("port", 0));
  o.clients = static_cast<int>(args.num("clients", o.clients));
  o.seconds = args.num("seconds", o.seconds);
  o.warmup = args.num("warmup", o.warmup);
  o.requests = static_cast<uint64_t>(args.num("requests", 0));
  o.threads = static_cast<int>(args.num("threads", o.threads));
  o.db = args.str("db", o.db);
  o.tag = args.str("tag", o.tag);
  o.value_size = static_cast<size_t>(args.num("value-size", static_cast<double>(o.value_size)));
  o.timeout = args.num("timeout", o.timeout);
  std::string err = args.bad().empty() ? args.unknown() : args.bad();
  if (args.help()) {
    usage();
    return 0;
  }
  if (err.empty() && target != "corvus" && target != "etcd") err = "--target must be corvus or etcd";
  if (err.empty() && mode != "create" && mode != "update") err = "--mode must be create or update";
  if (err.empty() && (o.port <= 0 || o.port > 65535)) err = "--port is required";
  if (err.empty() && (o.clients < 1 || o.clients > 10000)) err = "--clients must be 1..10000";
  if (err.empty() && (o.threads < 1 || o.threads > 64)) err = "--threads must be 1..64";
  if (err.empty() && o.seconds <= 0 && o.requests == 0) err = "--seconds must be > 0";
  if (err.empty() && o.value_size > 65536) err = "--value-size must be <= 65536";
  if (!err.empty()) {
    std::cerr << "corvus-cmpxchg-load: " << err << "\n";
    usage();
    return 2;
  }
  o.target = target == "etcd" ? Target::Etcd : Target::Corvus;
  o.mode = mode == "update" ? Mode::Update : Mode::Create;
  sh.count_mode = o.requests > 0;
  if (sh.count_mode) o.warmup = 0;
  sh.run_id = std::random_device{}() * 0x9E3779B97F4A7C15ull;

  try {
    asio::io_context resolver_io;
    tcp::resolver resolver(resolver_io);
    auto results = resolver.resolve(o.host, std::to_string(o.port));
    sh.ep = *results.begin();
  } catch (const std::exception& e) {
    std::cerr << "corvus-cmpxchg-load: cannot resolve " << o.host << ": " << e.what() << "\n";
    return 2;
  }
  sh.host_header = o.host + ":" + std::to_string(o.port);

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) workers.push_back(std::make_unique<Worker>());
  for (int c = 0; c < o.clients; ++c) {
    Worker& w = *workers[static_cast<size_t>(c % o.threads)];
    w.conns.push_back(std::make_shared<Conn>(sh, w.stats, w.io, c));
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
      std::cerr << "corvus-cmpxchg-load: clients did not finish in time, stopping them\n";
    }
    if (forced && now > hard_end + dur(3))
      for (auto& w : workers) w->io.stop();
  }
  for (auto& t : threads) t.join();

  std::vector<uint32_t> lat;
  uint64_t errors = 0, io_errors = 0, cas_refused = 0, bad_body = 0, reconnects = 0;
  std::map<int, uint64_t> bad_status;
  std::string first_error;
  cb::Clock::time_point last_done = sh.t_start;
  for (auto& w : workers) {
    lat.insert(lat.end(), w->stats.lat.begin(), w->stats.lat.end());
    errors += w->stats.errors;
    io_errors += w->stats.io_errors;
    cas_refused += w->stats.cas_refused;
    bad_body += w->stats.bad_body;
    reconnects += w->stats.reconnects;
    for (auto [code, n] : w->stats.bad_status) bad_status[code] += n;
    if (first_error.empty()) first_error = w->stats.first_error;
    last_done = std::max(last_done, w->stats.last_done);
  }
  double seconds = sh.count_mode ? std::chrono::duration<double>(last_done - sh.t_start).count()
                                 : o.seconds;
  cb::Summary s = cb::summarize(lat, errors, seconds);
  if (errors > 0) {
    std::cerr << "corvus-cmpxchg-load: " << target << " " << mode << ": " << errors << " errors ("
              << io_errors << " I/O, " << cas_refused << " refused swaps, " << bad_body
              << " unexpected answers";
    for (auto [code, n] : bad_status) std::cerr << ", " << n << " x HTTP " << code;
    std::cerr << "); first: " << first_error << "\n";
  }
  cb::print_result(mode, o.clients, s,
                   "target=" + target + " threads=" + std::to_string(o.threads) +
                       " refused=" + std::to_string(cas_refused) + " reconnects=" + std::to_string(reconnects));
  return 0;
}
