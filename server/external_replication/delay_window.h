#pragma once
// DelayWindow: external replication's DelayReplicationFor. It answers "the
// highest etag of this database that is at least `delay` old", which
// OutgoingOptions::send_limit asks, with the storage's last published etag,
// before every batch (and at least every heartbeat while idle). Each call notes the database's last published etag
// with the time it was seen; an etag is known old enough once a note that
// covers it is `delay` old. A write is therefore never sent early: it waits
// `delay` after the first note that saw it (at most one heartbeat, 500 ms,
// more). After a restart the notes start again, so what was not yet sent
// waits a full delay once more (late, never early).
//
// Owned by an outgoing connection (a shared_ptr in its send_limit): external
// replication's, and a pull replication hub's to a sink (the hub's
// DelayReplicationFor, server/pull_replication/hub_tcp_handler.cc). Thread-safety: limit() from any thread (one mutex).

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>

namespace corvus::server::external_replication {

class DelayWindow {
 public:
  using Clock = std::chrono::steady_clock;
  explicit DelayWindow(std::chrono::milliseconds delay) : delay_(delay) {}

  // `now` and the database's last published etag now: the highest etag that
  // may be sent.
  std::uint64_t limit(Clock::time_point now, std::uint64_t last_etag) { return limit(now, last_etag, delay_); }
  // The same with the delay as it is now (a pull replication hub's
  // DelayReplicationFor can change while a sink is connected). What was
  // allowed stays allowed when the delay grows.
  std::uint64_t limit(Clock::time_point now, std::uint64_t last_etag, std::chrono::milliseconds delay) {
    std::lock_guard lock(mu_);
    if (notes_.empty() || notes_.back().second < last_etag) notes_.emplace_back(now, last_etag);
    // Keep only the newest note that is old enough, and the younger ones.
    while (notes_.size() >= 2 && notes_[1].first + delay <= now) notes_.pop_front();
    if (!notes_.empty() && notes_.front().first + delay <= now) allowed_ = std::max(allowed_, notes_.front().second);
    return allowed_;
  }

 private:
  const std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::deque<std::pair<Clock::time_point, std::uint64_t>> notes_;  // (seen at, last etag then), ascending
  std::uint64_t allowed_ = 0;
};

}  // namespace corvus::server::external_replication
