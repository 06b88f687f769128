#include "failpoints/failpoints.h"

#include <condition_variable>
#include <csignal>
#include <map>
#include <mutex>
#include <thread>

namespace corvus::failpoints {

namespace {

// A paused thread gives up after this long, so a test that forgets to release
// does not hang the process forever.
constexpr auto kMaxPause = std::chrono::seconds(60);

struct Point {
  Arming arming;
  std::uint64_t hits = 0;
  std::uint64_t paused = 0;
  std::uint64_t release_generation = 0;
};

struct Registry {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Point, std::less<>> points;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

const char* action_name(Action a) {
  switch (a) {
    case Action::Off: return "off";
    case Action::Pause: return "pause";
    case Action::Delay: return "delay";
    case Action::Crash: return "crash";
  }
  return "off";
}

void enable() { detail::g_enabled.store(true); }

Status arm(const std::string& name, const Arming& arming) {
  if (!enabled()) return Status::InvalidArgument("failpoints are disabled (start corvusd with --enable-failpoints)");
  if (name.empty()) return Status::InvalidArgument("a failpoint needs a name");
  if (arming.action == Action::Off) {
    disarm(name);
    return Status::Ok();
  }
  auto& r = registry();
  std::lock_guard lock(r.mu);
  Point& p = r.points[name];
  p.arming = arming;
  p.hits = 0;  // `times` counts from the arming
  return Status::Ok();
}

void disarm(const std::string& name) {
  auto& r = registry();
  {
    std::lock_guard lock(r.mu);
    auto it = r.points.find(name);
    if (it == r.points.end()) return;
    it->second.arming = Arming{};
    ++it->second.release_generation;
  }
  r.cv.notify_all();
}

void release(const std::string& name) {
  auto& r = registry();
  {
    std::lock_guard lock(r.mu);
    auto it = r.points.find(name);
    if (it == r.points.end()) return;
    ++it->second.release_generation;
  }
  r.cv.notify_all();
}

std::vector<PointState> list() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::vector<PointState> out;
  for (const auto& [name, p] : r.points) out.push_back(PointState{name, p.arming.action, p.hits, p.paused});
  return out;
}

void detail::hit(std::string_view name) {
  auto& r = registry();
  std::unique_lock lock(r.mu);
  auto it = r.points.find(name);
  if (it == r.points.end() || it->second.arming.action == Action::Off) return;
  Point& p = it->second;
  ++p.hits;
  const Arming arming = p.arming;
  if (arming.times != 0 && p.hits >= arming.times) p.arming.action = Action::Off;  // this was the last time
  switch (arming.action) {
    case Action::Off: return;
    case Action::Crash:
      lock.unlock();
      std::raise(SIGKILL);
      return;
    case Action::Delay:
      lock.unlock();
      std::this_thread::sleep_for(arming.delay);
      return;
    case Action::Pause: {
      const std::uint64_t generation = p.release_generation;
      ++p.paused;
      r.cv.wait_for(lock, kMaxPause, [&] { return p.release_generation != generation; });
      --p.paused;
      return;
    }
  }
}

}  // namespace corvus::failpoints
