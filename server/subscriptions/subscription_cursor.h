#pragma once
// SubscriptionCursor: how far the connected workers of one subscription got,
// shared by them, so that several workers (the Concurrent strategy) never get
// the same entries at once and a batch a worker did not acknowledge goes to
// the next one. Positions are etags of the database's etag order. Each batch
// is a lease on a range (after, upto] of it: a worker scans either a range
// given back by a worker that left without acknowledging (first), or the
// range after the head. The position that may be recorded in the cluster is
// the floor: every entry up to it was delivered and acknowledged (or does not
// match), i.e. the lowest start of a range still out or given back, else the
// head.
//
// Created by SubscriptionConnections when the first worker of a subscription
// is admitted (from the recorded position) and dropped with the last one.
// Thread-safe: one mutex; next() reads the storage under it (scans of one
// subscription are serialized; they are short).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <mutex>

#include "storage/status.h"

namespace corvus::server::subscriptions {

class SubscriptionCursor {
 public:
  // `skip_up_to`: a change vector; documents whose version it already covers
  // are not delivered (a start point given on another member, whose etags
  // mean nothing here). Empty: none. `skip_delivered`: the position is
  // another member's (a takeover); documents whose version here is covered by
  // the version recorded as delivered for their id are not delivered again
  // (delivered_versions.h).
  explicit SubscriptionCursor(std::uint64_t position, std::string skip_up_to = {}, bool skip_delivered = false)
      : skip_up_to_(std::move(skip_up_to)), skip_delivered_(skip_delivered), head_(position) {}
  const std::string& skip_up_to() const { return skip_up_to_; }
  bool skip_delivered() const { return skip_delivered_; }

  // What a scan of (after, upto] found: `scanned_to` is the last etag it
  // examined (== after when it found nothing), `documents` how many it took.
  struct Scan {
    std::uint64_t scanned_to = 0;
    std::size_t documents = 0;
  };
  using Reader = std::function<Result<Scan>(std::uint64_t after, std::uint64_t upto)>;
  static constexpr std::uint64_t kNoLimit = ~std::uint64_t{0};

  // Runs `read` on the next range; when it took documents, the scanned part
  // is leased to the caller (`*lease`, 0 when nothing was taken). Errors of
  // `read` are returned and lease nothing.
  Result<Scan> next(const Reader& read, std::uint64_t* lease);
  // The floor once `lease` is acknowledged (to record before it is).
  std::uint64_t floor_without(std::uint64_t lease);
  // The lease's worker acknowledged it and the position was recorded.
  void acknowledged(std::uint64_t lease);
  // The lease's worker left without acknowledging: its range goes to the next worker.
  void abandoned(std::uint64_t lease);

 private:
  struct Range {
    std::uint64_t after;
    std::uint64_t upto;
  };
  std::uint64_t floor_locked(std::uint64_t except_lease) const;

  const std::string skip_up_to_;
  const bool skip_delivered_;
  std::mutex mu_;
  std::uint64_t head_;                       // everything up to here was leased or skipped
  std::deque<Range> returned_;               // given back, in etag order of their start
  std::map<std::uint64_t, Range> leased_;    // by lease id
  std::uint64_t next_lease_ = 1;
};

}  // namespace corvus::server::subscriptions
