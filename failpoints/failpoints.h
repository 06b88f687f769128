#pragma once
// Failpoints: named places in the code where a test can make the process
// pause, slow down or crash at an exact step (RavenDB's ForTestingPurposes
// hooks), so an interleaving is forced instead of hoped for.
//
// Inert unless enable() was called at start-up (corvusd --enable-failpoints):
// CORVUS_FAILPOINT costs one relaxed atomic load and a predictable branch.
// Once enabled, a point does nothing until armed (corvusd's
// PUT /admin/failpoints, which exists only then). Process-wide; thread-safe.
//
// Points in the code (grep CORVUS_FAILPOINT): see failpoints/README.md.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace corvus::failpoints {

namespace detail {
inline std::atomic<bool> g_enabled{false};
void hit(std::string_view name);
}  // namespace detail

inline bool enabled() { return detail::g_enabled.load(std::memory_order_relaxed); }
void enable();

enum class Action : std::uint8_t {
  Off,
  Pause,  // block the thread that hits it until released or disarmed
  Delay,  // sleep `delay` then go on
  Crash,  // die like kill -9 (SIGKILL to itself: no cleanup, no flush)
};

struct Arming {
  Action action = Action::Off;
  std::chrono::milliseconds delay{0};
  // Fire this many times, then disarm; 0 = every time.
  std::uint64_t times = 0;
};

// InvalidArgument when failpoints are not enabled or `name` is empty.
Status arm(const std::string& name, const Arming& arming);
// Disarms `name` and releases threads paused there.
void disarm(const std::string& name);
// Releases threads paused at `name` (it stays armed).
void release(const std::string& name);

struct PointState {
  std::string name;
  Action action = Action::Off;
  std::uint64_t hits = 0;    // times a thread reached it since it was last armed
  std::uint64_t paused = 0;  // threads waiting there now
};
std::vector<PointState> list();

const char* action_name(Action a);

}  // namespace corvus::failpoints

#define CORVUS_FAILPOINT(name)                                                    \
  do {                                                                            \
    if (__builtin_expect(::corvus::failpoints::enabled(), 0)) ::corvus::failpoints::detail::hit(name); \
  } while (0)
