#pragma once
// A Wing & Gong style linearizability checker (with Lowe's memoization) for the
// simulator's key/value + compare-exchange history, run per key (linearizability is
// compositional across objects). Single-threaded; used only by tests.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace corvus::rachis::sim {

inline constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

enum class OpKind : std::uint8_t { Put, Cas, Get };

// One client operation on one key. Values are integers; 0 means "absent".
struct Op {
  OpKind kind = OpKind::Get;
  std::int64_t value = 0;     // Put: value; Cas: new value; Get: value read
  std::int64_t expected = 0;  // Cas: expected value
  bool cas_ok = false;        // Cas: result
  std::uint64_t invoke = 0;
  std::uint64_t complete = kNever;  // kNever: indeterminate (may or may not have happened)
};

enum class CheckResult { Linearizable, NotLinearizable, TooExpensive };

// Checks the history of one key; at most 64 operations. `budget` bounds the search
// steps; beyond it the answer is TooExpensive (treated as inconclusive, not failure).
CheckResult check_key_history(const std::vector<Op>& ops, std::size_t budget = 2'000'000);

std::string describe(const std::vector<Op>& ops);

}  // namespace corvus::rachis::sim
