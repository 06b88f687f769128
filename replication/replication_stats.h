#pragma once
// What replication reports about its connections: shown by
// GET /databases/{db}/replication/performance and the lag metrics. Plain
// values, copied out under the owner's mutex.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

namespace corvus::replication {

// Microseconds since the epoch: the times the stats show.
inline int64_t wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One batch, as the side that reports it saw it.
struct BatchRecord {
  int64_t started_us = 0;  // wall clock
  double duration_ms = 0;  // send to acknowledgement (outgoing), receive to durable (incoming)
  uint64_t items = 0;
  uint64_t bytes = 0;             // item bytes
  uint64_t attachment_bytes = 0;  // attachment bytes sent / received
  uint64_t last_etag = 0;         // the source's etag the batch reached
};

// Keeps the newest kKept batches.
struct RecentBatches {
  static constexpr size_t kKept = 32;
  std::deque<BatchRecord> batches;
  uint64_t total_batches = 0;
  uint64_t total_items = 0;
  void add(const BatchRecord& b) {
    batches.push_back(b);
    if (batches.size() > kKept) batches.pop_front();
    ++total_batches;
    total_items += b.items;
  }
};

struct OutgoingStatus {
  std::string destination;  // node tag
  std::string address;      // its cluster port
  bool connected = false;
  std::string last_error;
  uint64_t last_sent_etag = 0;
  uint64_t last_acknowledged_etag = 0;  // what the destination confirmed having
  int64_t last_heard_us = 0;            // last frame from the destination (heartbeats too)
  std::string destination_change_vector;
  RecentBatches recent;
};

struct IncomingStatus {
  std::string source;  // node tag
  std::string source_database_id;
  int64_t connected_at_us = 0;
  int64_t last_heard_us = 0;
  uint64_t last_accepted_etag = 0;
  uint64_t conflicts = 0;  // items that met a concurrent version (resolved or kept)
  RecentBatches recent;
};

}  // namespace corvus::replication
