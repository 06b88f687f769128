#pragma once
// Random: the injected source of randomness of the Raft core (election timeouts).
//
// The core never touches a global RNG or the clock, so a seeded Random makes a whole
// cluster run reproducible in the simulator. The owner of a Raft keeps its Random
// alive at least as long as the Raft. Not thread-safe; single-threaded by contract.

#include <cstdint>

namespace corvus::rachis::core {

class Random {
 public:
  virtual ~Random() = default;
  virtual std::uint64_t next() = 0;

  // Uniform in [0, n); returns 0 when n == 0. The slight modulo bias is irrelevant
  // for election timeouts.
  std::uint64_t uniform(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
};

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough statistically and
// fully determined by its seed. The shell seeds it from std::random_device.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() override {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

}  // namespace corvus::rachis::core
