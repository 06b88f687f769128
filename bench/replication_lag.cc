// corvus-replication-lag: replication lag of a database group under a steady
// write load, measured from the client's side: a background of paced 1 KB
// PUTs on the writer node (--rate, open loop: each write has its start time,
// so a slow server cannot lower the offered rate), and probes: a small
// document written on the writer (timed from its acknowledgement) and polled
// on every reader node until it is readable there. One result line:
//   lag probes=N p50_ms=.. p99_ms=.. max_ms=.. rate=<achieved writes/s> errors=..
// Benchmarks only (bench/replication_bench.sh).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_common.h"
#include "tests/support/http_client.h"

namespace cb = corvus::bench;
using corvus::testing::HttpClient;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int writer_port = 0;
  std::vector<int> reader_ports;
  std::string db = "bench";
  double rate = 1000;     // background writes per second
  int writers = 8;        // background connections
  double seconds = 10;
  double probes_per_second = 20;
  std::string tag = "lag";
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  cb::Args args(argc, argv);
  Options o;
  o.writer_port = static_cast<int>(args.num("writer-port", 0));
  std::stringstream readers(args.str("reader-ports", ""));
  for (std::string p; std::getline(readers, p, ',');) {
    if (!p.empty()) o.reader_ports.push_back(std::stoi(p));
  }
  o.db = args.str("db", o.db);
  o.rate = args.num("rate", o.rate);
  o.writers = static_cast<int>(args.num("writers", o.writers));
  o.seconds = args.num("seconds", o.seconds);
  o.probes_per_second = args.num("probes-per-second", o.probes_per_second);
  o.tag = args.str("tag", o.tag);
  if (o.writer_port <= 0 || o.reader_ports.empty() || o.rate < 0 || o.writers < 1 || o.seconds <= 0) {
    std::fprintf(stderr,
                 "usage: corvus-replication-lag --writer-port P --reader-ports P2,P3 [--db D] [--rate R]\n"
                 "         [--writers N] [--seconds S] [--probes-per-second K] [--tag T]\n");
    return 2;
  }

  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::atomic<uint64_t> written{0}, errors{0};

  // Background: writer i sends write number n (n = i, i + writers, ...) at start + n / rate.
  std::vector<std::thread> background;
  for (int i = 0; o.rate > 0 && i < o.writers; ++i) {
    background.emplace_back([&, i] {
      HttpClient c("127.0.0.1", static_cast<uint16_t>(o.writer_port), std::chrono::seconds(10));
      for (uint64_t n = static_cast<uint64_t>(i);; n += static_cast<uint64_t>(o.writers)) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(n) / o.rate));
        if (due >= end) return;
        std::this_thread::sleep_until(due);
        const std::string id = cb::put_id(o.tag, i, n);
        auto r = c.request("PUT", "/databases/" + o.db + "/docs?id=" + cb::url_encode(id), cb::make_doc(id, n, 1024));
        if (r.status == 201) {
          ++written;
        } else {
          ++errors;
        }
      }
    });
  }

  // Probes: one at a time; each reader polls on its own thread.
  std::vector<double> lags;
  HttpClient writer("127.0.0.1", static_cast<uint16_t>(o.writer_port), std::chrono::seconds(10));
  std::vector<std::unique_ptr<HttpClient>> reader_clients;
  for (int p : o.reader_ports) {
    reader_clients.push_back(std::make_unique<HttpClient>("127.0.0.1", static_cast<uint16_t>(p), std::chrono::seconds(10)));
  }
  const auto every = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o.probes_per_second));
  uint64_t probe = 0;
  for (auto next = start + every; next < end; next += every, ++probe) {
    std::this_thread::sleep_until(next);
    const std::string id = "probe/" + o.tag + "-" + std::to_string(probe);
    auto put = writer.request("PUT", "/databases/" + o.db + "/docs?id=" + cb::url_encode(id), R"({"Probe":true})");
    const auto acked = Clock::now();
    if (put.status != 201) {
      ++errors;
      continue;
    }
    std::vector<std::thread> pollers;
    std::mutex mu;
    for (auto& rc : reader_clients) {
      pollers.emplace_back([&, client = rc.get()] {
        const auto give_up = acked + std::chrono::seconds(10);
        while (Clock::now() < give_up) {
          auto r = client->request("GET", "/databases/" + o.db + "/docs?id=" + cb::url_encode(id));
          if (r.status == 200) {
            const double ms = std::chrono::duration<double, std::milli>(Clock::now() - acked).count();
            std::lock_guard lock(mu);
            lags.push_back(ms);
            return;
          }
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        ++errors;
      });
    }
    for (auto& t : pollers) t.join();
  }
  for (auto& t : background) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("lag probes=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f rate=%.0f errors=%llu\n", lags.size(),
              percentile(lags, 0.50), percentile(lags, 0.99), percentile(lags, 1.0),
              static_cast<double>(written.load()) / elapsed, static_cast<unsigned long long>(errors.load()));
  return 0;
}
