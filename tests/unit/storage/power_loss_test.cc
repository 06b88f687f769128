// Durability where kill -9 cannot prove it: the database runs on a file system
// that keeps unsynced bytes apart and drops them at a simulated power loss
// (tests/support/power_loss_file_system.h), while writers are in flight. After
// the power comes back every acknowledged write must be there, across several
// losses of the same database. The same run with the WAL sync turned off must
// lose acknowledged writes, which shows the check can fail.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>

#include "storage/documents_storage.h"
#include "tests/support/power_loss_file_system.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::storage;
using corvus::testing::PowerLossFileSystem;
using corvus::testing::TempDir;

namespace {

constexpr int kWriters = 4;

struct Acknowledged {
  std::mutex mu;
  std::map<std::string, std::string> docs;  // id -> the value it was acknowledged with
};

// Writes from kWriters threads (ids "round<r>/<writer>-<n>", some overwriting
// earlier ids of the round) until the power goes, which happens after a
// random delay; returns what was acknowledged and how much the loss cut.
PowerLossFileSystem::Lost write_until_power_loss(DocumentsStorage& storage, PowerLossFileSystem& fs, int round,
                                                 std::mt19937& rng, Acknowledged& acked) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int n = 0; !stop; ++n) {
        // Every third write overwrites an earlier document of this writer.
        const int target = n % 3 == 2 ? n / 2 : n;
        const std::string id = "round" + std::to_string(round) + "/" + std::to_string(w) + "-" + std::to_string(target);
        const std::string value = "v" + std::to_string(n);
        Status s = storage.write([&](WriteTransaction& txn) -> Status {
          auto body = boost::json::parse(R"({"value":")" + value + R"(","@metadata":{"@collection":"Things"}})");
          return txn.put(id, std::move(body.as_object()), std::nullopt).status();
        });
        if (!s.ok()) return;  // the power is gone: nothing more gets acknowledged
        std::lock_guard lock(acked.mu);
        acked.docs[id] = value;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 400)(rng)));
  const auto lost = fs.power_loss();
  stop = true;
  for (auto& t : writers) t.join();
  return lost;
}

// How many acknowledged documents are missing or older than acknowledged.
size_t missing(const DocumentsStorage& storage, const Acknowledged& acked) {
  size_t count = 0;
  for (const auto& [id, value] : acked.docs) {
    auto d = storage.get(id);
    if (!d.ok()) {
      REQUIRE_MESSAGE(d.status().is_not_found(), d.status().to_string());
      ++count;
      continue;
    }
    if (d->json.find(R"("value":")" + value + "\"") == std::string::npos) ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("PowerLoss: every acknowledged write survives losing the power mid-write, several times") {
  TempDir dir;
  auto fs = std::make_shared<PowerLossFileSystem>();
  StorageOptions options;
  options.file_system = fs;
  std::random_device rd;
  const unsigned seed = rd();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  Acknowledged acked;
  uint64_t lost_bytes = 0;
  for (int round = 0; round < 3; ++round) {
    auto opened = DocumentsStorage::open(dir.path(), options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
    CHECK(missing(*opened.value(), acked) == 0);  // the previous loss
    lost_bytes += write_until_power_loss(*opened.value(), *fs, round, rng, acked).bytes;
    opened.value().reset();  // the dying process: nothing it writes any more is kept
    fs->power_on();
  }
  auto reopened = DocumentsStorage::open(dir.path(), options);
  REQUIRE_MESSAGE(reopened.ok(), reopened.status().to_string());
  INFO(acked.docs.size() << " documents acknowledged, " << lost_bytes << " unsynced bytes dropped");
  CHECK(acked.docs.size() > 0);
  CHECK(missing(*reopened.value(), acked) == 0);
  // The database still takes writes after its losses.
  Status s = reopened.value()->write([](WriteTransaction& txn) -> Status {
    return txn.put("after/1", boost::json::parse(R"({"value":"after"})").as_object(), std::nullopt).status();
  });
  CHECK_MESSAGE(s.ok(), s.to_string());
}

TEST_CASE("PowerLoss: without the WAL sync, acknowledged writes are lost (the check above can fail)") {
  TempDir dir;
  auto fs = std::make_shared<PowerLossFileSystem>();
  StorageOptions options;
  options.file_system = fs;
  options.sync_writes = false;
  std::mt19937 rng(7);
  Acknowledged acked;
  {
    auto opened = DocumentsStorage::open(dir.path(), options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
    const auto lost = write_until_power_loss(*opened.value(), *fs, 0, rng, acked);
    CHECK(lost.bytes > 0);
  }
  fs->power_on();
  auto reopened = DocumentsStorage::open(dir.path(), options);
  REQUIRE_MESSAGE(reopened.ok(), reopened.status().to_string());
  REQUIRE(acked.docs.size() > 0);
  CHECK(missing(*reopened.value(), acked) > 0);
}
