#pragma once
// AppliedFeed: the server's subscription to applied cluster commands. The
// Rachis node pushes every applied entry here from its Raft thread (never
// blocking it: push only queues); one feed thread hands them, in log order,
// to the subscribers (DatabasesObserver opens and closes databases, applies
// cluster-wide transactions), then marks the index processed, which is when
// requests waiting for that index are answered: a node answers a cluster
// command once its own server reacted to it.
//
// Owned by ClusterManager; start() after the subscribers are registered,
// stop() before they go away. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "rachis/cluster/cluster_state_machine.h"
#include "server/cluster/index_waiters.h"

namespace corvus::server::cluster {

class AppliedFeed {
 public:
  using Subscriber = std::function<void(const rachis::cluster::AppliedCommand&)>;

  ~AppliedFeed() { stop(); }

  // Before start() only.
  void subscribe(Subscriber s) { subscribers_.push_back(std::move(s)); }
  // `initial`: the index already applied when the server starts (its effects
  // are reconciled by the subscribers' own start-up).
  void start(std::uint64_t initial);
  void stop();

  // Raft thread: queue an applied entry.
  void push(rachis::cluster::AppliedCommand c);

  // Runs `cb` on the feed thread (or at once) when `index` is processed.
  void when_processed(std::uint64_t index, IndexWaiters::Callback cb) { processed_.when_reached(index, std::move(cb)); }
  std::uint64_t processed() const { return processed_.current(); }
  // Blocks until `index` is processed or `timeout` passes; false on timeout.
  bool wait_processed(std::uint64_t index, std::chrono::milliseconds timeout);

 private:
  void run();

  std::vector<Subscriber> subscribers_;
  IndexWaiters processed_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<rachis::cluster::AppliedCommand> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace corvus::server::cluster
