#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "failpoints/failpoints.h"

using namespace corvus;
using namespace std::chrono_literals;

namespace {

// Waits (bounded) until `name` has `n` threads paused.
bool paused(const std::string& name, std::uint64_t n) {
  for (int i = 0; i < 500; ++i) {
    for (const auto& p : failpoints::list()) {
      if (p.name == name && p.paused == n) return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

// One test case: enabling is process-wide and cannot be undone.
TEST_CASE("failpoints: inert until enabled and armed; pause, release, times") {
  failpoints::Arming pause{failpoints::Action::Pause, 0ms, 0};
  if (!failpoints::enabled()) {  // the first pass (doctest reruns the case per subcase)
    CHECK(failpoints::arm("p", pause).is_invalid_argument());
    CORVUS_FAILPOINT("p");  // nothing happens
  }

  failpoints::enable();
  CORVUS_FAILPOINT("p");  // enabled but not armed: nothing happens
  REQUIRE(failpoints::arm("p", pause).ok());

  std::atomic<bool> passed{false};
  std::thread t([&] {
    CORVUS_FAILPOINT("p");
    passed = true;
  });
  REQUIRE(paused("p", 1));
  CHECK_FALSE(passed.load());
  failpoints::release("p");
  t.join();
  CHECK(passed.load());

  SUBCASE("times=1 fires once, then the point is off") {
    REQUIRE(failpoints::arm("q", failpoints::Arming{failpoints::Action::Delay, 1ms, 1}).ok());
    CORVUS_FAILPOINT("q");
    CORVUS_FAILPOINT("q");
    for (const auto& p : failpoints::list()) {
      if (p.name == "q") {
        CHECK(p.hits == 1);
        CHECK(p.action == failpoints::Action::Off);
      }
    }
  }
  SUBCASE("disarm releases paused threads") {
    std::thread u([] { CORVUS_FAILPOINT("p"); });
    REQUIRE(paused("p", 1));
    failpoints::disarm("p");
    u.join();
  }
}
