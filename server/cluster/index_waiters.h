#pragma once
// IndexWaiters: callbacks waiting for a monotonic index (a Raft index applied,
// a cluster-wide transaction applied to a database) to reach a value. The
// thread that advances the index runs the callbacks that became due, after
// releasing the lock; a callback for an index already reached runs at once
// on the caller's thread. Callbacks must be quick (they usually only post an
// HTTP response). Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

namespace corvus::server::cluster {

class IndexWaiters {
 public:
  using Callback = std::function<void()>;

  void when_reached(std::uint64_t index, Callback cb) {
    {
      std::lock_guard lock(mu_);
      if (current_ < index) {
        waiting_.emplace(index, std::move(cb));
        return;
      }
    }
    cb();
  }

  // Moves the index forward (never back) and runs what became due.
  void advance(std::uint64_t index) {
    std::vector<Callback> due;
    {
      std::lock_guard lock(mu_);
      if (index <= current_) return;
      current_ = index;
      auto end = waiting_.upper_bound(index);
      for (auto it = waiting_.begin(); it != end; ++it) due.push_back(std::move(it->second));
      waiting_.erase(waiting_.begin(), end);
    }
    for (auto& cb : due) cb();
  }

  std::uint64_t current() const {
    std::lock_guard lock(mu_);
    return current_;
  }

 private:
  mutable std::mutex mu_;
  std::uint64_t current_ = 0;
  std::multimap<std::uint64_t, Callback> waiting_;
};

}  // namespace corvus::server::cluster
