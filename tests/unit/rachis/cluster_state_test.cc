// ClusterState snapshots: a consistent view read in bounded chunks, staged on the
// receiving side and swapped in; interrupted transfers and crashes leave the old
// state. The same reader and staging code the Node uses, without the network.

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <doctest/doctest.h>

#include "rachis/cluster/cluster_state.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::rachis;
using namespace corvus::rachis::cluster;

namespace {

std::unique_ptr<ClusterState> open_state(const std::string& path) {
  auto st = ClusterState::open(path);
  REQUIRE_MESSAGE(st.ok(), st.status().to_string());
  return std::move(st).value();
}

std::string key_of(std::uint64_t i) { return "users/" + std::to_string(i); }

// `count` compare-exchange values in "orders" (index = their number + 1), in
// batches of 10,000; then a topology, a database record and a value. Returns
// the applied index.
core::Index fill(ClusterState& st, std::uint64_t count, core::Index index = 0) {
  constexpr std::uint64_t kBatch = 10000;
  for (std::uint64_t from = 0; from < count; from += kBatch) {
    ClusterState::Batch batch(st);
    for (std::uint64_t i = from; i < std::min(count, from + kBatch); ++i) {
      batch.put_compare_exchange("orders", CompareExchangeValue{key_of(i), i + 1, "{\"Object\":" + std::to_string(i) + "}"});
    }
    REQUIRE(st.commit(batch, ++index).ok());
  }
  ClusterState::Batch batch(st);
  Topology t;
  t.cluster_id = "topo";
  t.nodes["A"] = NodeInfo{"A", 1, "http://a", "127.0.0.1:1", NodeRole::Member};
  batch.put_topology(t);
  DatabaseRecord r;
  r.name = "Orders";
  batch.put_record(r);
  batch.put_value("answer", "42");
  REQUIRE(st.commit(batch, ++index).ok());
  return index;
}

// Pumps every chunk of `reader` into `sink` (what TcpTransport does over TCP).
struct Pumped {
  std::size_t chunks = 0;
  std::size_t max_chunk = 0;
};
Pumped pump(ClusterState::SnapshotReader& reader, SnapshotSink& sink) {
  Pumped p;
  std::string chunk;
  for (;;) {
    REQUIRE(reader.next(&chunk).ok());
    if (chunk.empty()) break;
    ++p.chunks;
    p.max_chunk = std::max(p.max_chunk, chunk.size());
    REQUIRE(sink.add(chunk).ok());
  }
  REQUIRE(sink.finish(reader.trailer()).ok());
  return p;
}

void check_value(const ClusterState& st, std::uint64_t i) {
  auto v = st.compare_exchange("orders", key_of(i));
  REQUIRE(v.ok());
  REQUIRE(v->has_value());
  CHECK((*v)->key == key_of(i));
  CHECK((*v)->index == i + 1);
  CHECK((*v)->value_json == "{\"Object\":" + std::to_string(i) + "}");
}

bool exists(const std::string& path) { return std::filesystem::exists(path); }

}  // namespace

TEST_CASE("ClusterState: a chunked snapshot restore of 1,000,000 compare-exchange values") {
  testing::TempDir dir;
  auto source = open_state(dir.sub("source"));
  constexpr std::uint64_t kValues = 1'000'000;
  const core::Index applied = fill(*source, kValues);

  // The receiver has a state of its own, which the snapshot replaces.
  auto receiver = open_state(dir.sub("receiver"));
  {
    ClusterState::Batch batch(*receiver);
    batch.put_value("stale", "x");
    batch.put_compare_exchange("orders", CompareExchangeValue{"gone", 3, "{\"Object\":0}"});
    REQUIRE(receiver->commit(batch, 3).ok());
  }

  auto reader = source->read_snapshot();
  REQUIRE(reader.ok());
  CHECK((*reader)->applied() == applied);
  // Writes after the view was pinned are not in the stream.
  {
    ClusterState::Batch batch(*source);
    batch.put_value("later", "y");
    batch.delete_compare_exchange("orders", key_of(7));
    REQUIRE(source->commit(batch, applied + 1).ok());
  }

  auto staged = receiver->stage_snapshot();
  REQUIRE(staged.ok());
  CHECK(exists(dir.sub("receiver") + ".incoming"));
  const Pumped p = pump(**reader, **staged);
  CHECK((*staged)->applied() == applied);
  // Bounded chunks: about 1 MB each, never the whole state.
  CHECK(p.chunks > 50);
  CHECK(p.max_chunk <= ClusterState::kSnapshotChunkBytes + 1024);
  reader.value().reset();  // releases the source's pinned view

  // Nothing changes until install().
  CHECK(receiver->applied() == 3);
  CHECK(receiver->value("stale")->has_value());
  REQUIRE(receiver->install(std::move(staged).value()).ok());
  CHECK_FALSE(exists(dir.sub("receiver") + ".incoming"));
  CHECK_FALSE(exists(dir.sub("receiver") + ".old"));

  CHECK(receiver->applied() == applied);
  CHECK(*receiver->count(StateFamily::CompareExchange, "orders") == kValues);
  for (std::uint64_t i : {std::uint64_t{0}, std::uint64_t{7}, std::uint64_t{1}, kValues / 2, kValues - 1}) check_value(*receiver, i);
  CHECK_FALSE(receiver->compare_exchange("orders", "gone")->has_value());
  CHECK_FALSE(receiver->value("stale")->has_value());
  CHECK_FALSE(receiver->value("later")->has_value());
  CHECK(*receiver->value("answer") == std::optional<std::string>("42"));
  CHECK(receiver->topology().cluster_id == "topo");
  CHECK(receiver->topology().nodes.count("A"));
  CHECK(receiver->record("orders") != nullptr);

  // The installed state is the state: it takes new commits and survives a reopen.
  {
    ClusterState::Batch batch(*receiver);
    batch.put_value("after", "z");
    REQUIRE(receiver->commit(batch, applied + 1).ok());
  }
  receiver.reset();
  receiver = open_state(dir.sub("receiver"));
  CHECK(receiver->applied() == applied + 1);
  CHECK(*receiver->value("after") == std::optional<std::string>("z"));
  check_value(*receiver, kValues - 1);
}

TEST_CASE("ClusterState: an interrupted or damaged transfer leaves the receiver's old state") {
  testing::TempDir dir;
  auto source = open_state(dir.sub("source"));
  fill(*source, 50'000);  // a few chunks
  auto receiver = open_state(dir.sub("receiver"));
  const core::Index old_applied = fill(*receiver, 10, 100);
  const std::string staging = dir.sub("receiver") + ".incoming";

  const auto old_state_intact = [&] {
    CHECK(receiver->applied() == old_applied);
    CHECK(*receiver->count(StateFamily::CompareExchange, "orders") == 10);
    check_value(*receiver, 9);
    CHECK_FALSE(receiver->compare_exchange("orders", key_of(10))->has_value());
  };

  SUBCASE("cut midway: the staged part is thrown away") {
    auto reader = source->read_snapshot();
    REQUIRE(reader.ok());
    auto staged = receiver->stage_snapshot();
    REQUIRE(staged.ok());
    std::string chunk;
    for (int i = 0; i < 2; ++i) {
      REQUIRE((*reader)->next(&chunk).ok());
      REQUIRE_FALSE(chunk.empty());
      REQUIRE((*staged)->add(chunk).ok());
    }
    CHECK(exists(staging));
    staged.value().reset();
    CHECK_FALSE(exists(staging));
    old_state_intact();
  }
  SUBCASE("a missing chunk is caught by the trailer") {
    auto reader = source->read_snapshot();
    REQUIRE(reader.ok());
    auto staged = receiver->stage_snapshot();
    REQUIRE(staged.ok());
    std::string chunk;
    bool skipped = false;
    for (;;) {
      REQUIRE((*reader)->next(&chunk).ok());
      if (chunk.empty()) break;
      if (!skipped) {
        skipped = true;
        continue;
      }
      REQUIRE((*staged)->add(chunk).ok());
    }
    Status s = (*staged)->finish((*reader)->trailer());
    CHECK(s.code() == StatusCode::Corruption);
    CHECK(receiver->install(std::move(staged).value()).is_invalid_argument());
    CHECK_FALSE(exists(staging));
    old_state_intact();
  }
  SUBCASE("a malformed chunk is corruption") {
    auto staged = receiver->stage_snapshot();
    REQUIRE(staged.ok());
    CHECK((*staged)->add("\x01\x09").code() == StatusCode::Corruption);    // unknown family
    CHECK((*staged)->add("\x07").code() == StatusCode::Corruption);        // unknown version
    CHECK((*staged)->add(std::string("\x01\x02\xff\x00\x00\x00", 6)).code() == StatusCode::Corruption);  // truncated
    CHECK((*staged)->finish("short").code() == StatusCode::Corruption);
    staged.value().reset();
    old_state_intact();
  }
}

TEST_CASE("ClusterState: readers on other threads stay safe while a snapshot is swapped in") {
  testing::TempDir dir;
  auto source = open_state(dir.sub("source"));
  const core::Index applied = fill(*source, 20'000);
  auto receiver = open_state(dir.sub("receiver"));
  fill(*receiver, 10);

  auto reader = source->read_snapshot();
  REQUIRE(reader.ok());
  auto staged = receiver->stage_snapshot();
  REQUIRE(staged.ok());
  pump(**reader, **staged);

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> reads{0}, failures{0};
  std::thread hammer([&] {
    while (!stop) {
      // Before the swap: the old state (value 5 exists); after: the new one.
      auto v = receiver->compare_exchange("orders", key_of(5));
      auto n = receiver->compare_exchange_prefix("orders", "users/1", 0, 10);
      if (!v.ok() || !v->has_value() || !n.ok() || n->empty()) ++failures;
      ++reads;
    }
  });
  while (reads < 100) std::this_thread::yield();
  REQUIRE(receiver->install(std::move(staged).value()).ok());
  const std::uint64_t at_install = reads;
  while (reads < at_install + 100) std::this_thread::yield();
  stop = true;
  hammer.join();
  CHECK(failures == 0);
  CHECK(receiver->applied() == applied);
  CHECK(*receiver->count(StateFamily::CompareExchange, "orders") == 20'000);
}

TEST_CASE("ClusterState: open finishes what a crash interrupted") {
  testing::TempDir dir;
  const std::string path = dir.sub("state");
  const core::Index applied = fill(*open_state(path), 10);
  const auto junk = [](const std::string& where) {
    std::filesystem::create_directories(where);
    std::ofstream(where + "/CURRENT") << "half-written";
  };

  SUBCASE("a leftover staging directory is deleted") {
    junk(path + ".incoming");
    auto st = open_state(path);
    CHECK_FALSE(exists(path + ".incoming"));
    CHECK(st->applied() == applied);
  }
  SUBCASE("a crash between the two renames rolls back to the old state") {
    std::filesystem::rename(path, path + ".old");
    junk(path + ".incoming");
    auto st = open_state(path);
    CHECK_FALSE(exists(path + ".incoming"));
    CHECK_FALSE(exists(path + ".old"));
    CHECK(st->applied() == applied);
    check_value(*st, 9);
  }
  SUBCASE("a crash after the swap only leaves the old directory to delete") {
    junk(path + ".old");
    auto st = open_state(path);
    CHECK_FALSE(exists(path + ".old"));
    CHECK(st->applied() == applied);
  }
}
