#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "failpoints/failpoints.h"

using namespace corvus;
using namespace std::chrono_literals;

namespace {

std::uint64_t paused_at(const std::string& name) {
  for (const auto& p : failpoints::list()) {
    if (p.name == name) return p.paused;
  }
  return 0;
}

// Waits (bounded) until `name` has `n` threads paused.
bool wait_paused(const std::string& name, std::uint64_t n) {
  for (int i = 0; i < 500 && paused_at(name) != n; ++i) std::this_thread::sleep_for(10ms);
  return paused_at(name) == n;
}

}  // namespace

// One linear case: enabling is process-wide and cannot be undone.
TEST_CASE("failpoints: inert until enabled and armed; pause and release, disarm, times") {
  const failpoints::Arming pause{failpoints::Action::Pause, 0ms, 0};
  CHECK(failpoints::arm("p", pause).is_invalid_argument());
  CORVUS_FAILPOINT("p");  // not enabled: nothing happens

  failpoints::enable();
  CORVUS_FAILPOINT("p");  // enabled, not armed: nothing happens
  REQUIRE(failpoints::arm("p", pause).ok());

  std::atomic<bool> passed{false};
  std::thread t([&] {
    CORVUS_FAILPOINT("p");
    passed = true;
  });
  const bool was_paused = wait_paused("p", 1);
  const bool held = !passed.load();
  failpoints::release("p");
  t.join();
  CHECK(was_paused);
  CHECK(held);
  CHECK(passed.load());

  // Disarming also lets paused threads go, and the point is off afterwards.
  std::thread u([] { CORVUS_FAILPOINT("p"); });
  CHECK(wait_paused("p", 1));
  failpoints::disarm("p");
  u.join();
  CORVUS_FAILPOINT("p");  // off: does not block

  // times=1: fires once, then the point is off.
  REQUIRE(failpoints::arm("q", failpoints::Arming{failpoints::Action::Delay, 1ms, 1}).ok());
  CORVUS_FAILPOINT("q");
  CORVUS_FAILPOINT("q");
  bool found = false;
  for (const auto& p : failpoints::list()) {
    if (p.name != "q") continue;
    found = true;
    CHECK(p.hits == 1);
    CHECK(p.action == failpoints::Action::Off);
  }
  CHECK(found);
}
