#include "server/subscriptions/subscription_cursor.h"

#include <algorithm>

namespace corvus::server::subscriptions {

Result<SubscriptionCursor::Scan> SubscriptionCursor::next(const Reader& read, std::uint64_t* lease) {
  std::lock_guard lock(mu_);
  *lease = 0;
  for (;;) {
    const bool from_returned = !returned_.empty();
    const Range range = from_returned ? returned_.front() : Range{head_, kNoLimit};
    auto scan = read(range.after, range.upto);
    if (!scan.ok()) return scan;
    const std::uint64_t to = scan.value().scanned_to;
    if (from_returned) {
      returned_.pop_front();
      // What the scan did not reach (the batch filled up) stays given back.
      if (scan.value().documents > 0 && to < range.upto) returned_.push_front(Range{to, range.upto});
    } else {
      head_ = std::max(head_, to);
    }
    if (scan.value().documents > 0) {
      *lease = next_lease_++;
      leased_[*lease] = Range{range.after, to};
      return scan;
    }
    // A range given back that holds nothing now (its documents changed or
    // went): on to the next one, or the head.
    if (!from_returned) return scan;
  }
}

std::uint64_t SubscriptionCursor::floor_locked(std::uint64_t except_lease) const {
  std::uint64_t floor = head_;
  for (const auto& [id, r] : leased_) {
    if (id != except_lease) floor = std::min(floor, r.after);
  }
  for (const auto& r : returned_) floor = std::min(floor, r.after);
  return floor;
}

std::uint64_t SubscriptionCursor::floor_without(std::uint64_t lease) {
  std::lock_guard lock(mu_);
  return floor_locked(lease);
}

void SubscriptionCursor::acknowledged(std::uint64_t lease) {
  std::lock_guard lock(mu_);
  leased_.erase(lease);
}

void SubscriptionCursor::abandoned(std::uint64_t lease) {
  std::lock_guard lock(mu_);
  auto it = leased_.find(lease);
  if (it == leased_.end()) return;
  const Range r = it->second;
  leased_.erase(it);
  auto pos = std::find_if(returned_.begin(), returned_.end(), [&](const Range& x) { return x.after > r.after; });
  returned_.insert(pos, r);
}

}  // namespace corvus::server::subscriptions
