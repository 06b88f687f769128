// corvus-http-load: a small HTTP/1.1 load generator for the benchmarks.
//
// N keep-alive connections, each with exactly one request outstanding (N clients),
// closed loop, or open loop at --rate requests per second,
// on 1 or 2 Asio io threads. Requests are written by hand and responses parsed just
// enough to find their end (Content-Length, chunked, or read-until-close), so the
// client costs little CPU on a machine it shares with the server.
//
// Modes:
//   put      PUT /databases/<db>/docs?id=bench/<tag><conn>-<seq>  (1 KB JSON body)
//   preload  PUT the ids bench/<tag>g-0 .. bench/<tag>g-<ids-1>  (request-count run)
//   get      GET /databases/<db>/docs?id=bench/<tag>g-<random i < ids>
//   overwrite PUT over bench/<tag>g-<random i < ids> (documents written by preload)
//   static   GET <path>
//   counter  POST /databases/<db>/counters: increment counter "likes" of
//            bench/<tag>g-<random i < ids> by 1 (documents written by preload)
//   patch    PATCH /databases/<db>/docs?id=bench/<tag>g-<random i < ids> with a
//            trivial script (this.Patched = (this.Patched || 0) + 1), on the
//            documents written by preload
//   query-eq     POST /databases/<db>/queries: from Users where City = $p0 limit 100
//   query-range  POST /databases/<db>/queries: from Users where Score between $p0
//                and $p1 limit 100, with $p1 = $p0 + --range-width
//   query-sorted POST /databases/<db>/queries: from Users order by Score as double
//                desc limit $p0, 100, a random offset $p0 below 1000
//            (the Users data set of bench/users_dataset.h, random parameters; a
//            2xx counts; the mean TotalResults and the stale answers are reported)
// One result line on stdout (see bench_common.h); diagnostics on stderr.

#include <array>
#include <boost/asio.hpp>
#include <iostream>
#include <memory>
#include <random>

#include "bench/bench_common.h"
#include "bench/http_bench_client.h"
#include "bench/users_dataset.h"

namespace asio = boost::asio;
using boost::system::error_code;
namespace cb = corvus::bench;

namespace {

struct Options : cb::LoadOptions {
  std::string mode = "put";
  std::string path = "/";
  uint64_t ids = 10000;
  size_t doc_size = 1024;
  bool connection_close = false;  // static mode: a new connection per request
  uint64_t cities = 10000;        // query modes: the data set's city count
  double range_width = 100;       // query-range: Score interval width
  uint64_t limit = 100;           // query modes
};

// LoadStats plus what the query modes check in each answer.
struct HttpLoadStats : cb::LoadStats {
  uint64_t answers = 0;        // 2xx query answers in the window
  uint64_t total_results = 0;  // their TotalResults, summed
  uint64_t stale = 0;          // of them with "IsStale":true
  void merge(const HttpLoadStats& o) {
    cb::LoadStats::merge(o);
    answers += o.answers;
    total_results += o.total_results;
    stale += o.stale;
  }
};

// The JSON body of a query request for the Users data set.
std::string query_body(const Options& o, std::mt19937_64& rng) {
  namespace users = cb::users;
  const auto width = static_cast<uint64_t>(o.range_width * 1000 + 0.5);
  users::QueryParams p = users::random_params(rng, o.cities, width);
  const std::string limit = std::to_string(o.limit);
  if (o.mode == "query-eq")
    return R"({"Query":"from Users where City = $p0 limit )" + limit + R"(","QueryParameters":{"p0":")" + p.city +
           R"("}})";
  if (o.mode == "query-sorted")
    return R"({"Query":"from Users order by Score as double desc limit $p0, )" + limit +
           R"(","QueryParameters":{"p0":)" + p.offset + "}}";
  return R"({"Query":"from Users where Score between $p0 and $p1 limit )" + limit +
         R"(","QueryParameters":{"p0":)" + p.low + R"(,"p1":)" + p.high + "}}";
}

// The unsigned number after `"key":` in a JSON text, or -1.
long long json_number_after(std::string_view body, std::string_view key) {
  size_t at = body.find(key);
  if (at == std::string_view::npos) return -1;
  long long v = -1;
  for (size_t i = at + key.size(); i < body.size() && body[i] >= '0' && body[i] <= '9'; ++i)
    v = (v < 0 ? 0 : v * 10) + (body[i] - '0');
  return v;
}

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

class Conn : public cb::HttpBenchClient {
 public:
  Conn(asio::io_context& io, cb::LoadRun& run, HttpLoadStats& st, const Options& opt, int id)
      : HttpBenchClient(io, run, st), qst_(st), opt_(opt), id_(id),
        rng_(0x5eed0000ull + static_cast<uint64_t>(id)) {}

 private:
  enum class Phase { Head, Body, Chunk, Trailer, Eof };
  enum class Parse { NeedMore, Done, Bad };

  // req_ = POST /databases/<db><path> with a JSON body.
  void post_json(std::string_view path, const std::string& body) {
    req_ += "POST /databases/";
    req_ += opt_.db;
    req_ += path;
    req_ += " HTTP/1.1\r\nHost: ";
    req_ += run_.host_header;
    req_ += "\r\nContent-Type: application/json\r\nContent-Length: ";
    req_ += std::to_string(body.size());
    req_ += "\r\n\r\n";
    req_ += body;
    ++seq_;
  }

  // Builds the next request into req_; false when the run is over for this client.
  bool next_request() override {
    uint64_t ticket = 0;
    if (!run_.admit(&ticket)) return false;
    const Options& o = opt_;
    req_.clear();
    if (o.mode == "static") {
      req_ += "GET ";
      req_ += o.path;
      req_ += " HTTP/1.1\r\nHost: ";
      req_ += run_.host_header;
      if (o.connection_close) req_ += "\r\nConnection: close";
      req_ += "\r\n\r\n";
      return true;
    }
    if (o.mode == "query-eq" || o.mode == "query-range" || o.mode == "query-sorted") {
      post_json("/queries", query_body(o, rng_));
      return true;
    }
    std::string id;
    if (o.mode == "counter") {
      id = cb::get_id(o.tag, std::uniform_int_distribution<uint64_t>(0, o.ids - 1)(rng_));
      std::string body = R"({"Documents":[{"DocumentId":")" + id +
                         R"(","Operations":[{"Type":"Increment","CounterName":"likes","Delta":1}]}]})";
      post_json("/counters", body);
      return true;
    }
    if (o.mode == "patch") {
      id = cb::get_id(o.tag, std::uniform_int_distribution<uint64_t>(0, o.ids - 1)(rng_));
      static const std::string kBody = R"({"Patch":{"Script":"this.Patched = (this.Patched || 0) + 1;","Values":{}}})";
      req_ += "PATCH /databases/";
      req_ += o.db;
      req_ += "/docs?id=";
      req_ += cb::url_encode(id);
      req_ += " HTTP/1.1\r\nHost: ";
      req_ += run_.host_header;
      req_ += "\r\nContent-Type: application/json\r\nContent-Length: ";
      req_ += std::to_string(kBody.size());
      req_ += "\r\n\r\n";
      req_ += kBody;
      ++seq_;
      return true;
    }
    if (o.mode == "get" || o.mode == "overwrite") {
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
    req_ += run_.host_header;
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

  void read_response() override { on_data(); }

  // Whatever the previous connection left unread is of no use.
  void on_connected() override {
    buf_.clear();
    pos_ = 0;
    phase_ = Phase::Head;
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
    sock_.async_read_some(asio::buffer(rbuf_), [self = shared_as<Conn>()](error_code ec, size_t n) {
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
    if (run_.in_window(now)) {
      if (status_ >= 200 && status_ < 300) {
        st_.lat.push_back(cb::micros_since(t0_, now));
        if (opt_.mode.rfind("query-", 0) == 0) note_query_answer();
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
    buf_.clear();  // one request outstanding: nothing valid can follow the response
    pos_ = 0;
    phase_ = Phase::Head;
    respond(now, !close_);
  }

  // A query answer's statistics: they come first in the body, before the results.
  void note_query_answer() {
    std::string_view body(buf_.data() + body_start_, pos_ - body_start_);
    std::string_view head = body.substr(0, 512);
    ++qst_.answers;
    long long total = json_number_after(head, "\"TotalResults\":");
    if (total > 0) qst_.total_results += static_cast<uint64_t>(total);
    if (head.find("\"IsStale\":true") != std::string_view::npos) ++qst_.stale;
  }

  HttpLoadStats& qst_;
  const Options& opt_;
  int id_;
  std::mt19937_64 rng_;
  uint64_t seq_ = 0;
  std::string buf_;
  std::array<char, 16384> rbuf_{};
  Phase phase_ = Phase::Head;
  size_t pos_ = 0, body_start_ = 0, body_end_ = 0;
  int status_ = 0;
  bool close_ = false;
};

void usage() {
  std::cerr <<
      R"(usage: corvus-http-load --port P [options]
  --host H          server address (default 127.0.0.1)
  --port P          server port (required)
  --mode M          put | overwrite | get | preload | static | counter | patch | query-eq | query-range | query-sorted
                    (default put)
  --clients N       concurrent keep-alive connections, one request each (default 1)
  --seconds S       measured duration (default 10)
  --warmup S        unmeasured time before the window (default 0)
  --requests N      run N requests in total instead of a duration (preload: = --ids)
  --threads T       io threads, 1 or 2 (default 1)
  --db NAME         database (default bench)
  --path P          path for --mode static (default /)
  --ids N           get/overwrite/preload/counter/patch key space bench/<tag>g-0..N-1 (default 10000)
  --tag T           id prefix after "bench/" (default empty)
  --doc-size B      JSON body size for put/preload (default 1024)
  --timeout S       per-request timeout, counted as an error (default 30)
  --rate R          open loop: R requests per second over all clients, latency from
                    each request's due time (default 0: closed loop)
  --tls 0|1         HTTPS (server certificate not verified); each connection is a
                    full TLS handshake (default 0)
  --cert PEM        with --tls 1: the client certificate to present (a secured
                    corvusd authorizes by it); --key PEM its key (default: --cert)
  --cities N        query modes: cities in the Users data set (default 10000)
  --range-width W   query-range: Score interval width (default 100)
  --limit N         query modes: the query's limit (default 100)
  --connection-close 0|1
                    static mode: every request asks to close, so each request is a
                    new connection (with --tls 1: handshakes per second) (default 0)
Prints: mode=.. clients=.. requests=.. seconds=.. rps=.. p50_us=.. p99_us=.. errors=.. ...
Only 2xx responses count as requests; anything else (and I/O errors) counts as an error.
)";
}

}  // namespace

int main(int argc, char** argv) {
  cb::Args args(argc, argv);
  Options o;
  cb::read_load_options(args, o);
  o.mode = args.str("mode", o.mode);
  o.path = args.str("path", o.path);
  o.ids = static_cast<uint64_t>(args.num("ids", static_cast<double>(o.ids)));
  o.doc_size = static_cast<size_t>(args.num("doc-size", static_cast<double>(o.doc_size)));
  o.connection_close = args.num("connection-close", 0) != 0;
  o.cities = static_cast<uint64_t>(args.num("cities", static_cast<double>(o.cities)));
  o.range_width = args.num("range-width", o.range_width);
  o.limit = static_cast<uint64_t>(args.num("limit", static_cast<double>(o.limit)));
  std::string err = args.bad().empty() ? args.unknown() : args.bad();
  if (args.help()) {
    usage();
    return 0;
  }
  if (err.empty()) err = cb::check_load_options(o);
  if (err.empty() && o.mode != "put" && o.mode != "overwrite" && o.mode != "get" && o.mode != "preload" &&
      o.mode != "static" &&
      o.mode != "counter" && o.mode != "patch" && o.mode != "query-eq" && o.mode != "query-range" &&
      o.mode != "query-sorted")
    err = "--mode must be put, overwrite, get, preload, static, counter, patch, query-eq, query-range or query-sorted";
  if (err.empty() && o.ids < 1) err = "--ids must be >= 1";
  if (err.empty() && o.cities < 1) err = "--cities must be >= 1";
  if (err.empty() && !(o.range_width >= 0 && o.range_width < 1e6)) err = "--range-width must be in [0, 1e6)";
  if (!err.empty()) {
    std::cerr << "corvus-http-load: " << err << "\n";
    usage();
    return 2;
  }
  if (o.mode == "preload" && o.requests == 0) o.requests = o.ids;

  cb::LoadRun run(o);
  auto result = cb::run_load<HttpLoadStats>(
      "corvus-http-load", run, [&](asio::io_context& io, HttpLoadStats& st, int id) {
        return std::make_shared<Conn>(io, run, st, o, id);
      });
  if (!result) return 2;
  const HttpLoadStats& t = result->totals;
  if (t.errors > 0) {
    std::cerr << "corvus-http-load: " << t.errors << " errors (" << t.io_errors << " I/O";
    for (auto [code, n] : t.bad_status) std::cerr << ", " << n << " x HTTP " << code;
    std::cerr << "); first: " << t.first_error << "\n";
  }
  cb::print_result(o.mode, o.clients, result->summary,
                   std::string(o.tls ? "target=https" : "target=http") + " threads=" + std::to_string(o.threads) +
                       " reconnects=" + std::to_string(t.reconnects) +
                       (t.answers > 0 ? " mean_total_results=" +
                                            std::to_string(t.total_results / t.answers) +
                                            " stale_answers=" + std::to_string(t.stale)
                                      : std::string()));
  return 0;
}
