#include "server/cluster/applied_feed.h"

namespace corvus::server::cluster {

void AppliedFeed::start(std::uint64_t initial) {
  processed_.advance(initial);
  thread_ = std::thread([this] { run(); });
}

void AppliedFeed::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool AppliedFeed::wait_processed(std::uint64_t index, std::chrono::milliseconds timeout) {
  if (processed_.current() >= index) return true;
  auto reached = std::make_shared<std::promise<void>>();
  auto future = reached->get_future();
  processed_.when_reached(index, [reached] { reached->set_value(); });
  return future.wait_for(timeout) == std::future_status::ready;
}

void AppliedFeed::push(rachis::cluster::AppliedCommand c) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.push_back(std::move(c));
  }
  cv_.notify_one();
}

void AppliedFeed::run() {
  for (;;) {
    std::deque<rachis::cluster::AppliedCommand> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      batch.swap(queue_);
    }
    for (const auto& c : batch) {
      for (const auto& s : subscribers_) s(c);
      processed_.advance(c.index);
    }
  }
}

}  // namespace corvus::server::cluster
