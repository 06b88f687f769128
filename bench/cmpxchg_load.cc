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

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <memory>
#include <optional>
#include <random>

#include "bench/bench_common.h"
#include "bench/http_bench_client.h"

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;
namespace cb = corvus::bench;

namespace {

enum class Target { Corvus, Etcd };
enum class Mode { Create, Update };

struct Options : cb::LoadOptions {
  Options() { seconds = 5; }
  Target target = Target::Corvus;
  Mode mode = Mode::Create;
  size_t value_size = 16;
};

struct Stats : cb::LoadStats {
  uint64_t cas_refused = 0;  // 2xx, but the swap did not happen
  uint64_t bad_body = 0;     // 2xx without the fields we need

  void merge(const Stats& o) {
    LoadStats::merge(o);
    cas_refused += o.cas_refused;
    bad_body += o.bad_body;
  }
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

class Conn : public cb::HttpBenchClient {
 public:
  // run_id makes the raft-request-ids unique across runs.
  Conn(asio::io_context& io, cb::LoadRun& run, Stats& st, const Options& opt, uint64_t run_id, int id)
      : HttpBenchClient(io, run, st), opt_(opt), stats_(st), id_(id),
        rng_(run_id ^ (0x5eed0000ull + static_cast<uint64_t>(id))) {
    if (opt_.mode == Mode::Update) key_ = "bench/" + opt_.tag + "u" + std::to_string(id_);
  }

 private:
  void on_connected() override { buf_.clear(); }

  std::string value() const {
    // {"v":"<value_size chars>"}: the sequence number, padded.
    std::string v = std::to_string(seq_);
    if (v.size() < opt_.value_size) v.insert(0, opt_.value_size - v.size(), 'x');
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
  bool next_request() override {
    const Options& o = opt_;
    // The update mode's initial create is setup, not a measured request.
    setup_ = o.mode == Mode::Update && !have_key_;
    if (!run_.admit(nullptr, setup_)) return false;
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
    req_ += run_.host_header;
    req_ += "\r\nContent-Type: application/json\r\nContent-Length: ";
    req_ += std::to_string(body.size());
    req_ += "\r\n\r\n";
    req_ += body;
    ++seq_;
    return true;
  }

  void read_response() override {
    parser_.emplace();
    parser_->body_limit(1u << 20);
    http::async_read(sock_, buf_, *parser_, [self = shared_as<Conn>()](error_code ec, size_t) {
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
    const auto& res = parser_->get();
    const int status = static_cast<int>(res.result_int());
    const std::string_view body = res.body();
    const bool counted = run_.in_window(now);
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
    } else if (opt_.target == Target::Corvus) {
      auto successful = bool_field(body, "\"Successful\"");
      version = uint_field(body, "\"Index\"");
      if (!successful || !version || *version == 0) {
        if (counted || setup_) {
          ++stats_.bad_body;
          record_error(describe("answer without Successful and a non-zero Index"));
        }
        version.reset();
      } else if (!*successful) {
        if (counted || setup_) {
          ++stats_.cas_refused;
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
          ++stats_.bad_body;
          record_error(describe("answer without header.revision"));
        }
      } else if (!ok && (counted || setup_)) {
        if (body.find("\"header\"") == std::string_view::npos) {
          ++stats_.bad_body;
          record_error(describe("not a txn answer"));
        } else {
          ++stats_.cas_refused;
          record_error(describe("txn did not succeed"));
        }
      }
    }
    if (version) {
      last_index_ = *version;
      if (opt_.mode == Mode::Update) have_key_ = true;
    }
    if (ok && counted && !setup_) st_.lat.push_back(cb::micros_since(t0_, now));
    respond(now, keep_alive);
  }

  void close() override {
    error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    HttpBenchClient::close();
  }

  const Options& opt_;
  Stats& stats_;  // st_, with this tool's counters
  int id_;
  std::mt19937_64 rng_;
  uint64_t seq_ = 0;
  std::string key_;
  bool have_key_ = false;   // update mode: the key exists and last_index_ is its version
  uint64_t last_index_ = 0;
  bool setup_ = false;      // the request in flight is the update mode's initial create
  boost::beast::flat_buffer buf_;
  std::optional<http::response_parser<http::string_body>> parser_;
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
  Options o;
  const std::string target = args.str("target", "");
  const std::string mode = args.str("mode", "create");
  cb::read_load_options(args, o);
  o.value_size = static_cast<size_t>(args.num("value-size", static_cast<double>(o.value_size)));
  std::string err = args.bad().empty() ? args.unknown() : args.bad();
  if (args.help()) {
    usage();
    return 0;
  }
  if (err.empty() && target != "corvus" && target != "etcd") err = "--target must be corvus or etcd";
  if (err.empty() && mode != "create" && mode != "update") err = "--mode must be create or update";
  if (err.empty()) err = cb::check_load_options(o);
  if (err.empty() && o.value_size > 65536) err = "--value-size must be <= 65536";
  if (!err.empty()) {
    std::cerr << "corvus-cmpxchg-load: " << err << "\n";
    usage();
    return 2;
  }
  o.target = target == "etcd" ? Target::Etcd : Target::Corvus;
  o.mode = mode == "update" ? Mode::Update : Mode::Create;
  const uint64_t run_id = std::random_device{}() * 0x9E3779B97F4A7C15ull;

  cb::LoadRun run(o);
  auto result = cb::run_load<Stats>(
      "corvus-cmpxchg-load", run, [&](asio::io_context& io, Stats& st, int id) {
        return std::make_shared<Conn>(io, run, st, o, run_id, id);
      });
  if (!result) return 2;
  const Stats& t = result->totals;
  if (t.errors > 0) {
    std::cerr << "corvus-cmpxchg-load: " << target << " " << mode << ": " << t.errors << " errors ("
              << t.io_errors << " I/O, " << t.cas_refused << " refused swaps, " << t.bad_body
              << " unexpected answers";
    for (auto [code, n] : t.bad_status) std::cerr << ", " << n << " x HTTP " << code;
    std::cerr << "); first: " << t.first_error << "\n";
  }
  cb::print_result(mode, o.clients, result->summary,
                   "target=" + target + " threads=" + std::to_string(o.threads) +
                       " refused=" + std::to_string(t.cas_refused) +
                       " reconnects=" + std::to_string(t.reconnects));
  return 0;
}
