// corvus-replication-lag: replication lag of a database group, measured from
// the client's side while something else loads the group (the benchmark runs
// corvus-http-load --rate beside it): probes, each a small document written on
// the writer node (timed from its acknowledgement) and polled on every reader
// node until it is readable there. One result line:
//   lag probes=N p50_ms=.. p99_ms=.. max_ms=.. errors=..
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
  o.seconds = args.num("seconds", o.seconds);
  o.probes_per_second = args.num("probes-per-second", o.probes_per_second);
  o.tag = args.str("tag", o.tag);
  if (o.writer_port <= 0 || o.reader_ports.empty() || o.seconds <= 0 || o.probes_per_second <= 0) {
    std::fprintf(stderr,
                 "usage: corvus-replication-lag --writer-port P --reader-ports P2,P3 [--db D]\n"
                 "         [--seconds S] [--probes-per-second K] [--tag T]\n");
    return 2;
  }

  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::atomic<uint64_t> errors{0};

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
          // Polled once a millisecond: the lag is known to within that, and
          // the polls do not add a load of their own to the readers.
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        ++errors;
      });
    }
    for (auto& t : pollers) t.join();
  }
  std::printf("lag probes=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%llu\n", lags.size(),
              percentile(lags, 0.50), percentile(lags, 0.99), percentile(lags, 1.0),
              static_cast<unsigned long long>(errors.load()));
  return 0;
}
