#pragma once
// Streams one ClusterState's snapshot into another, chunk by chunk, the way a
// follower installs what the leader sends: what the state tests use to check
// that a family travels in snapshots (stream_snapshot: the chunk loop alone,
// for a whole state machine's snapshot too).

#include <string>
#include <utility>

#include <doctest/doctest.h>

#include "rachis/cluster/cluster_state.h"

namespace corvus::rachis::cluster::test {

// Feeds every chunk of `reader` (a snapshot reader) into `staged` (a staged
// snapshot) and finishes it with the reader's trailer, as a follower does.
template <typename Reader, typename Staged>
void stream_snapshot(Reader& reader, Staged& staged) {
  std::string chunk;
  for (;;) {
    REQUIRE(reader.next(&chunk).ok());
    if (chunk.empty()) break;
    REQUIRE(staged.add(chunk).ok());
  }
  REQUIRE(staged.finish(reader.trailer()).ok());
}

inline void copy_snapshot(const ClusterState& from, ClusterState& to) {
  auto reader = from.read_snapshot();
  REQUIRE(reader.ok());
  auto staged = to.stage_snapshot();
  REQUIRE(staged.ok());
  stream_snapshot(**reader, **staged);
  reader.value().reset();  // the reader holds a view of `from` that must not outlive the install
  REQUIRE(to.install(std::move(staged).value()).ok());
}

}  // namespace corvus::rachis::cluster::test
