#pragma once
// Streams one ClusterState's snapshot into another, chunk by chunk, the way a
// follower installs what the leader sends: what the state tests use to check
// that a family travels in snapshots.

#include <string>
#include <utility>

#include <doctest/doctest.h>

#include "rachis/cluster/cluster_state.h"

namespace corvus::rachis::cluster::test {

inline void copy_snapshot(const ClusterState& from, ClusterState& to) {
  auto reader = from.read_snapshot();
  REQUIRE(reader.ok());
  auto staged = to.stage_snapshot();
  REQUIRE(staged.ok());
  std::string chunk;
  for (;;) {
    REQUIRE((*reader)->next(&chunk).ok());
    if (chunk.empty()) break;
    REQUIRE((*staged)->add(chunk).ok());
  }
  REQUIRE((*staged)->finish((*reader)->trailer()).ok());
  reader.value().reset();  // the reader holds a view of `from` that must not outlive the install
  REQUIRE(to.install(std::move(staged).value()).ok());
}

}  // namespace corvus::rachis::cluster::test
