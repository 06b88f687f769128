// Shared by the benchmark load generators (corvus-http-load, corvus-cmpxchg-load,
// corvus-pg-load): document ids and bodies, command-line parsing, latency summary, the
// result line. What only the HTTP ones share is in bench/http_bench_client.h.
// Benchmarks only: nothing here is used by the server.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace corvus::bench {

using Clock = std::chrono::steady_clock;

// Id scheme, identical for every target so that runs are comparable:
//   put:      bench/<tag><conn>-<seq>  (each connection writes fresh ids)
//   preload:  bench/<tag>g-<i>, i in [0, ids)
//   get:      bench/<tag>g-<i>, i uniformly random in [0, ids)
inline std::string put_id(std::string_view tag, int conn, uint64_t seq) {
  std::string id = "bench/";
  id += tag;
  id += std::to_string(conn);
  id += '-';
  id += std::to_string(seq);
  return id;
}

inline std::string get_id(std::string_view tag, uint64_t i) {
  std::string id = "bench/";
  id += tag;
  id += "g-";
  id += std::to_string(i);
  return id;
}

// A JSON document of exactly `size` bytes (if size is large enough for the fixed
// fields), with the RavenDB collection in @metadata. The padding varies with the id
// so that documents are not all identical.
inline std::string make_doc(std::string_view id, uint64_t n, size_t size) {
  std::string head = "{\"Name\":\"";
  head += id;
  head += "\",\"Seq\":";
  head += std::to_string(n);
  head += ",\"Kind\":\"benchmark\",\"Payload\":\"";
  static constexpr std::string_view tail = "\",\"@metadata\":{\"@collection\":\"Benches\"}}";
  std::string doc = std::move(head);
  size_t fixed = doc.size() + tail.size();
  size_t pad = size > fixed ? size - fixed : 0;
  uint64_t x = n * 0x9E3779B97F4A7C15ull + 0x1234567ull;
  for (size_t i = 0; i < pad; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    doc += static_cast<char>('a' + (x % 26));
  }
  doc += tail;
  return doc;
}

// Query-string encoding for an id (RavenDB clients encode '/' as %2F too).
inline std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Minimal "--name value" / "--name=value" parser.
class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        help_ = true;
        continue;
      }
      if (a.rfind("--", 0) != 0) {
        bad_ = "unexpected argument: " + a;
        continue;
      }
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        kv_[a.substr(2, eq - 2)] = a.substr(eq + 1);
      } else if (i + 1 < argc) {
        kv_[a.substr(2)] = argv[++i];
      } else {
        bad_ = "missing value for " + a;
      }
    }
  }
  bool help() const { return help_; }
  const std::string& bad() const { return bad_; }
  std::string str(const std::string& k, std::string def) {
    used_.push_back(k);
    auto it = kv_.find(k);
    return it == kv_.end() ? def : it->second;
  }
  double num(const std::string& k, double def) {
    used_.push_back(k);
    auto it = kv_.find(k);
    if (it == kv_.end()) return def;
    char* end = nullptr;
    double v = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end != '\0') bad_ = "not a number: --" + k + " " + it->second;
    return v;
  }
  // Call after all lookups: reports options nobody asked for.
  std::string unknown() const {
    for (const auto& [k, v] : kv_)
      if (std::find(used_.begin(), used_.end(), k) == used_.end()) return "unknown option --" + k;
    return {};
  }

 private:
  std::map<std::string, std::string> kv_;
  std::vector<std::string> used_;
  std::string bad_;
  bool help_ = false;
};

struct Summary {
  uint64_t requests = 0;  // successful (2xx / statement ok) within the window
  uint64_t errors = 0;
  double seconds = 0;
  uint64_t p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

// Nearest-rank percentile over an already sorted sample.
inline uint64_t percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

inline Summary summarize(std::vector<uint32_t>& lat_us, uint64_t errors, double seconds) {
  std::sort(lat_us.begin(), lat_us.end());
  Summary s;
  s.requests = lat_us.size();
  s.errors = errors;
  s.seconds = seconds;
  s.p50_us = percentile(lat_us, 0.50);
  s.p99_us = percentile(lat_us, 0.99);
  s.p999_us = percentile(lat_us, 0.999);
  s.max_us = lat_us.empty() ? 0 : lat_us.back();
  return s;
}

// One line, key=value pairs; the first eight keys are the contract run.sh parses.
inline void print_result(const std::string& mode, int clients, const Summary& s,
                         const std::string& extra) {
  double rps = s.seconds > 0 ? static_cast<double>(s.requests) / s.seconds : 0;
  std::printf(
      "mode=%s clients=%d requests=%llu seconds=%.3f rps=%.1f p50_us=%llu p99_us=%llu "
      "errors=%llu p999_us=%llu max_us=%llu%s%s\n",
      mode.c_str(), clients, static_cast<unsigned long long>(s.requests), s.seconds, rps,
      static_cast<unsigned long long>(s.p50_us), static_cast<unsigned long long>(s.p99_us),
      static_cast<unsigned long long>(s.errors), static_cast<unsigned long long>(s.p999_us),
      static_cast<unsigned long long>(s.max_us), extra.empty() ? "" : " ", extra.c_str());
  std::fflush(stdout);
}

inline uint32_t micros_since(Clock::time_point t0, Clock::time_point t1) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count();
  if (us < 0) us = 0;
  if (us > 0xFFFFFFFFll) us = 0xFFFFFFFFll;
  return static_cast<uint32_t>(us);
}

}  // namespace corvus::bench
