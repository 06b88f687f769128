// Checks the checker: the simulation is only as good as its linearizability test.

#include "tests/sim/linearizability.h"

#include <doctest/doctest.h>

namespace corvus::rachis::sim {
namespace {

Op put(std::int64_t v, std::uint64_t a, std::uint64_t b) { return Op{OpKind::Put, v, 0, false, a, b}; }
Op get(std::int64_t v, std::uint64_t a, std::uint64_t b) { return Op{OpKind::Get, v, 0, false, a, b}; }
Op cas(std::int64_t e, std::int64_t v, bool ok, std::uint64_t a, std::uint64_t b) {
  return Op{OpKind::Cas, v, e, ok, a, b};
}

TEST_CASE("linearizability: sequential histories") {
  CHECK(check_key_history({put(1, 1, 2), get(1, 3, 4)}) == CheckResult::Linearizable);
  CHECK(check_key_history({put(1, 1, 2), get(0, 3, 4)}) == CheckResult::NotLinearizable);  // stale read
  CHECK(check_key_history({put(1, 1, 2), cas(1, 2, true, 3, 4), get(2, 5, 6)}) == CheckResult::Linearizable);
  CHECK(check_key_history({put(1, 1, 2), cas(0, 2, true, 3, 4)}) == CheckResult::NotLinearizable);
  CHECK(check_key_history({put(1, 1, 2), cas(1, 2, false, 3, 4)}) == CheckResult::NotLinearizable);
}

TEST_CASE("linearizability: concurrency and indeterminate operations") {
  // A read concurrent with a write may see either value.
  CHECK(check_key_history({put(1, 1, 4), get(0, 2, 3)}) == CheckResult::Linearizable);
  CHECK(check_key_history({put(1, 1, 4), get(1, 2, 3)}) == CheckResult::Linearizable);
  // An indeterminate write may take effect late...
  CHECK(check_key_history({put(1, 1, kNever), get(0, 2, 3), get(1, 4, 5)}) == CheckResult::Linearizable);
  // ...or never.
  CHECK(check_key_history({put(1, 1, kNever), get(0, 8, 9)}) == CheckResult::Linearizable);
  // But values cannot flip back.
  CHECK(check_key_history({put(1, 1, kNever), get(1, 2, 3), get(0, 4, 5)}) == CheckResult::NotLinearizable);
  // Two reads that disagree on order of two sequential writes.
  CHECK(check_key_history({put(1, 1, 2), put(2, 3, 4), get(1, 5, 6)}) == CheckResult::NotLinearizable);
}

}  // namespace
}  // namespace corvus::rachis::sim
