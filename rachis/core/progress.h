#pragma once
// Progress: the leader's view of one follower's log (§5.3 nextIndex/matchIndex) and
// how it currently feeds it. Owned by Raft, exists only while it leads. Exposed read
// only through Raft::status() so the application can decide when a learner has
// caught up enough to be promoted. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <deque>

#include "rachis/core/types.h"

namespace corvus::rachis::core {

enum class ProgressState : std::uint8_t {
  Probe,      // position unknown: one Append per response/heartbeat until it matches
  Replicate,  // position known: stream Appends optimistically, bounded by inflight
  Snapshot,   // an InstallSnapshot is on its way; wait for its answer (or a retry)
};

const char* progress_state_name(ProgressState s);

struct Progress {
  Index match = 0;  // highest index known to be replicated on the follower
  Index next = 1;   // next index to send
  ProgressState state = ProgressState::Probe;
  bool probe_sent = false;       // Probe: an Append is outstanding
  Index pending_snapshot = 0;    // Snapshot: index of the snapshot sent
  std::uint64_t snapshot_elapsed = 0;  // Snapshot: ticks since it was sent
  std::deque<Index> inflight;    // Replicate: last index of each unacknowledged Append
  bool recent_active = false;    // heard from it since the last check-quorum round
  std::uint64_t read_ack_seq = 0;  // highest read-index round it confirmed

  void become_probe(Index next_index) {
    state = ProgressState::Probe;
    next = next_index;
    probe_sent = false;
    inflight.clear();
  }
  void become_replicate() {
    state = ProgressState::Replicate;
    next = match + 1;
    probe_sent = false;
    inflight.clear();
  }
  void become_snapshot(Index snapshot_index) {
    state = ProgressState::Snapshot;
    pending_snapshot = snapshot_index;
    snapshot_elapsed = 0;
    probe_sent = false;
    inflight.clear();
  }
  void free_inflight_to(Index i) {
    while (!inflight.empty() && inflight.front() <= i) inflight.pop_front();
  }
};

}  // namespace corvus::rachis::core
