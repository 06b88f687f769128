#include <doctest/doctest.h>

#include "rachis/wire.h"

using namespace corvus::rachis;
using namespace corvus::rachis::core;

TEST_CASE("wire: a message with entries and a snapshot round-trips") {
  Message m;
  m.type = MessageType::InstallSnapshot;
  m.from = 3;
  m.to = 7;
  m.term = 42;
  m.last_index = 5;
  m.last_term = 4;
  m.transfer = true;
  m.prev_index = 10;
  m.prev_term = 9;
  m.entries = {{9, 11, EntryType::Normal, "hello"}, {9, 12, EntryType::Noop, ""}};
  m.commit = 11;
  m.reject = true;
  m.index = 12;
  m.hint_index = 8;
  m.hint_term = 3;
  Snapshot s;
  s.meta.index = 100;
  s.meta.term = 8;
  s.meta.config.voters = {1, 2, 3};
  s.meta.config.learners = {4};
  s.data = std::make_shared<const std::string>("snapshot-bytes");
  m.snapshot = s;
  m.read_seq = 77;
  m.context = "ctx";

  Message out;
  REQUIRE(decode_message(encode_message(m), &out));
  CHECK(out.type == m.type);
  CHECK(out.from == 3);
  CHECK(out.to == 7);
  CHECK(out.term == 42);
  CHECK(out.transfer);
  CHECK(out.entries == m.entries);
  CHECK(out.commit == 11);
  CHECK(out.reject);
  CHECK(out.hint_index == 8);
  REQUIRE(out.snapshot);
  CHECK(out.snapshot->meta == s.meta);
  CHECK(*out.snapshot->data == "snapshot-bytes");
  CHECK(out.read_seq == 77);
  CHECK(out.context == "ctx");
}

TEST_CASE("wire: truncated or corrupt input is refused") {
  Message m;
  m.type = MessageType::Append;
  m.entries = {{1, 1, EntryType::Normal, "abc"}};
  const std::string bytes = encode_message(m);
  Message out;
  for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(decode_message(bytes.substr(0, n), &out));
  std::string bad = bytes;
  bad[1] = 99;  // unknown message type
  CHECK_FALSE(decode_message(bad, &out));
  CHECK_FALSE(decode_message(bytes + "x", &out));
}

TEST_CASE("wire: hard state and snapshot meta round-trip") {
  HardState hs{5, 2, 17};
  HardState hs2;
  REQUIRE(decode_hard_state(encode_hard_state(hs), &hs2));
  CHECK(hs == hs2);
  SnapshotMeta meta;
  meta.index = 9;
  meta.term = 2;
  meta.config.voters = {1};
  SnapshotMeta meta2;
  REQUIRE(decode_snapshot_meta(encode_snapshot_meta(meta), &meta2));
  CHECK(meta == meta2);
}
