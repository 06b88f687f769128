#pragma once
// FaultInjector: the seeded fault schedule of the multi-process fault tests
// (cmpxchg_faults_test, replication_faults_test). One fault at a time on a
// random node of a three-node Cluster (kill -9, SIGSTOP, or a cut of its
// proxy), held for a random while, then undone (Cluster::heal), so a majority
// is usually up and clients make progress. The same seed gives the same
// schedule (not the same timing). Also the seed helpers the fault tests share.
//
// Owned by one test; run() on one thread (it drives the Cluster, which is not
// thread-safe: nothing else may use the Cluster's processes meanwhile); the
// accessors after run() returned. Uses doctest through test_cluster.h.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_cluster.h"

namespace corvus::testing {

// A non-negative integer from the environment, or `fallback`.
inline std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::strtoull(v, nullptr, 10);
}

inline std::uint64_t mix(std::uint64_t x) {  // splitmix64: one seed -> independent streams
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class FaultInjector {
 public:
  using Clock = std::chrono::steady_clock;

  FaultInjector(Cluster& nodes, std::uint64_t seed, Clock::time_point start, Clock::time_point end)
      : nodes_(nodes), rng_(seed), start_(start), end_(end) {}

  void run(const std::atomic<bool>& stop) {
    using std::chrono::milliseconds;
    while (!stop && Clock::now() < end_) {
      if (!wait(milliseconds(300 + rng_() % 1200), stop)) break;
      const int node = static_cast<int>(rng_() % 3);
      const auto kind = rng_() % 3;
      const auto hold = milliseconds(300 + rng_() % 1700);
      Node& n = nodes_[node];
      if (kind == 0) {
        note("kill -9 node " + std::to_string(node));
        n.process->kill9();
      } else if (kind == 1) {
        note("SIGSTOP node " + std::to_string(node));
        n.process->stop();
      } else {
        note("cut the proxy of node " + std::to_string(node));
        n.proxy->cut();
      }
      wait(hold, stop);
      note("heal node " + std::to_string(node));
      if (!nodes_.heal(node)) errors_.push_back("node " + std::to_string(node) + " did not restart");
    }
  }

  const std::vector<std::string>& log() const { return log_; }
  const std::vector<std::string>& errors() const { return errors_; }
  std::size_t injected() const { return injected_; }
  // The schedule as it ran, one line per step, for failure messages.
  std::string log_text() const {
    std::string out;
    for (const auto& l : log_) out += "  " + l + "\n";
    return out;
  }

 private:
  // Sleeps `d` or until stop or the end; false if it was cut short.
  bool wait(std::chrono::milliseconds d, const std::atomic<bool>& stop) {
    const auto until = std::min(Clock::now() + d, end_);
    while (!stop && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return !stop && Clock::now() < end_;
  }

  void note(const std::string& what) {
    if (what.rfind("heal", 0) != 0) ++injected_;
    char at[32];
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    std::snprintf(at, sizeof at, "%7.3fs ", seconds);
    log_.push_back(at + what);
    std::cout << "  " << log_.back() << std::endl;
  }

  Cluster& nodes_;
  std::mt19937_64 rng_;
  Clock::time_point start_, end_;
  std::vector<std::string> log_, errors_;
  std::size_t injected_ = 0;
};

// The fault tests' client threads: stopped and joined when it goes, on
// success or failure, before the nodes they use are destroyed.
struct Workers {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  void join() {
    stop = true;
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
  ~Workers() { join(); }
};

}  // namespace corvus::testing
