// DelayWindow (external replication's DelayReplicationFor) with a made-up
// clock: an etag becomes sendable only once a note that saw it is `delay`
// old, never earlier, and the limit never goes back.
#include "server/external_replication/delay_window.h"

#include <doctest/doctest.h>

using corvus::server::external_replication::DelayWindow;
using namespace std::chrono_literals;

TEST_CASE("DelayWindow: nothing is sendable before it is delay old; later notes follow") {
  DelayWindow w(10s);
  const auto t0 = DelayWindow::Clock::time_point{} + 1000s;
  // Etags 1..5 exist when first seen: they wait a whole delay.
  CHECK(w.limit(t0, 5) == 0);
  CHECK(w.limit(t0 + 9s, 5) == 0);
  CHECK(w.limit(t0 + 10s, 5) == 5);
  // 6..8 written and seen at t0+12s; 9 seen at t0+15s.
  CHECK(w.limit(t0 + 12s, 8) == 5);
  CHECK(w.limit(t0 + 15s, 9) == 5);
  CHECK(w.limit(t0 + 21999ms, 9) == 5);
  CHECK(w.limit(t0 + 22s, 9) == 8);
  CHECK(w.limit(t0 + 25s, 9) == 9);
  // Nothing new: the limit stays.
  CHECK(w.limit(t0 + 100s, 9) == 9);
}

TEST_CASE("DelayWindow: a zero delay lets everything through at once") {
  DelayWindow w(0ms);
  const auto t0 = DelayWindow::Clock::time_point{} + 5s;
  CHECK(w.limit(t0, 3) == 3);
  CHECK(w.limit(t0 + 1ms, 7) == 7);
}

TEST_CASE("DelayWindow: a delay given per call (a hub's, changed while connected)") {
  DelayWindow w(0ms);
  const auto t0 = DelayWindow::Clock::time_point{} + 5s;
  CHECK(w.limit(t0, 3, 0ms) == 3);
  // A day's delay from now on: new writes wait, what was allowed stays allowed.
  CHECK(w.limit(t0 + 1s, 4, 24h) == 3);
  CHECK(w.limit(t0 + 2s, 4, 24h) == 3);
  // The delay removed: everything goes.
  CHECK(w.limit(t0 + 3s, 4, 0ms) == 4);
}
