#include <doctest/doctest.h>

#include "rachis/log_storage.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::rachis;
using namespace corvus::rachis::core;

namespace {

Entry entry(Term t, Index i, std::string data = "") { return Entry{t, i, EntryType::Normal, std::move(data)}; }

Ready ready_with(std::vector<Entry> entries, std::optional<HardState> hs, bool sync = true) {
  Ready rd;
  rd.entries = std::move(entries);
  rd.hard_state = hs;
  rd.must_sync = sync;
  return rd;
}

}  // namespace

TEST_CASE("LogStorage: persists identity, hard state and entries across reopen") {
  testing::TempDir dir;
  {
    auto ls = LogStorage::open(dir.sub("log"));
    REQUIRE(ls.ok());
    CHECK_FALSE(ls.value()->identity());
    REQUIRE(ls.value()->reset({"cluster-1", 3}).ok());
    REQUIRE(ls.value()->save(ready_with({entry(1, 1, "a"), entry(1, 2, "b"), entry(2, 3, "c")}, HardState{2, 3, 2}))
                .ok());
    CHECK(ls.value()->last_index() == 3);
  }
  auto ls = LogStorage::open(dir.sub("log"));
  REQUIRE(ls.ok());
  REQUIRE(ls.value()->identity());
  CHECK(ls.value()->identity()->cluster_id == "cluster-1");
  CHECK(ls.value()->identity()->node_id == 3);
  auto ps = ls.value()->load();
  REQUIRE(ps.ok());
  CHECK(ps->hard_state == HardState{2, 3, 2});
  REQUIRE(ps->entries.size() == 3);
  CHECK(ps->entries[2] == entry(2, 3, "c"));
  CHECK(ls.value()->last_index() == 3);
}

TEST_CASE("LogStorage: entries from a new leader overwrite the conflicting suffix") {
  testing::TempDir dir;
  auto ls = LogStorage::open(dir.sub("log"));
  REQUIRE(ls.ok());
  REQUIRE(ls.value()->reset({"c", 1}).ok());
  REQUIRE(ls.value()->save(ready_with({entry(1, 1), entry(1, 2), entry(1, 3), entry(1, 4)}, std::nullopt)).ok());
  REQUIRE(ls.value()->save(ready_with({entry(2, 3, "new")}, HardState{2, 0, 2})).ok());
  auto ps = ls.value()->load();
  REQUIRE(ps.ok());
  REQUIRE(ps->entries.size() == 3);
  CHECK(ps->entries[2] == entry(2, 3, "new"));
  CHECK(ls.value()->last_index() == 3);
}

TEST_CASE("LogStorage: compaction keeps the snapshot and the entries after it") {
  testing::TempDir dir;
  {
    auto ls = LogStorage::open(dir.sub("log"));
    REQUIRE(ls.ok());
    REQUIRE(ls.value()->reset({"c", 1}).ok());
    std::vector<Entry> es;
    for (Index i = 1; i <= 10; ++i) es.push_back(entry(1, i, std::to_string(i)));
    REQUIRE(ls.value()->save(ready_with(es, HardState{1, 1, 10})).ok());
    SnapshotMeta meta;
    meta.index = 6;
    meta.term = 1;
    meta.config.voters = {1, 2};
    REQUIRE(ls.value()->save_snapshot_and_compact(meta, "state@6").ok());
  }
  auto ls = LogStorage::open(dir.sub("log"));
  REQUIRE(ls.ok());
  auto ps = ls.value()->load();
  REQUIRE(ps.ok());
  CHECK(ps->snapshot_meta.index == 6);
  CHECK(ps->snapshot_meta.config.voters == std::set<NodeId>{1, 2});
  REQUIRE(ps->snapshot_data);
  CHECK(*ps->snapshot_data == "state@6");
  CHECK(ps->applied == 6);
  REQUIRE(ps->entries.size() == 4);
  CHECK(ps->entries.front().index == 7);
  CHECK(ls.value()->last_index() == 10);
}

TEST_CASE("LogStorage: a snapshot from the leader replaces the whole log") {
  testing::TempDir dir;
  auto ls = LogStorage::open(dir.sub("log"));
  REQUIRE(ls.ok());
  REQUIRE(ls.value()->reset({"c", 2}).ok());
  REQUIRE(ls.value()->save(ready_with({entry(1, 1), entry(1, 2)}, std::nullopt)).ok());
  Ready rd;
  Snapshot s;
  s.meta.index = 50;
  s.meta.term = 4;
  s.meta.config.voters = {1, 2, 3};
  s.data = std::make_shared<const std::string>("big");
  rd.snapshot = s;
  rd.hard_state = HardState{4, 0, 50};
  REQUIRE(ls.value()->save(rd).ok());
  REQUIRE(ls.value()->save(ready_with({entry(4, 51)}, std::nullopt)).ok());
  auto ps = ls.value()->load();
  REQUIRE(ps.ok());
  CHECK(ps->snapshot_meta.index == 50);
  REQUIRE(ps->entries.size() == 1);
  CHECK(ps->entries[0].index == 51);
}

TEST_CASE("LogStorage: reset wipes the log for a node joining another cluster") {
  testing::TempDir dir;
  auto ls = LogStorage::open(dir.sub("log"));
  REQUIRE(ls.ok());
  REQUIRE(ls.value()->reset({"old", 1}).ok());
  REQUIRE(ls.value()->save(ready_with({entry(1, 1), entry(1, 2)}, HardState{1, 1, 2})).ok());
  REQUIRE(ls.value()->reset({"new", 4}).ok());
  auto ps = ls.value()->load();
  REQUIRE(ps.ok());
  CHECK(ps->entries.empty());
  CHECK(ps->hard_state == HardState{});
  CHECK(ps->snapshot_meta.config.voters.empty());
  CHECK(ls.value()->identity()->cluster_id == "new");
}
