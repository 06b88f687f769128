// Replicated writes: every (local document | local tombstone) x (incoming put |
// incoming delete) x (newer | older | concurrent) under both conflict
// policies, identical content, conflicts kept and resolved, the database
// change vector, the commit hook, and reopening.
#include "storage/replicated_writes.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "storage/conflicts_storage.h"
#include "storage/documents_storage.h"
#include "storage/revisions_storage.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::storage;

namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;
const std::string kRemote = "remoteDatabaseId000001";  // node B's database

class ManualClock final : public Clock {
 public:
  int64_t now_micros() const override { return now.load(); }
  std::atomic<int64_t> now{kT0};
};

struct Db {
  testing::TempDir dir;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::unique_ptr<DocumentsStorage> s;

  Db() { open(); }
  void open() {
    StorageOptions opts;
    opts.clock = clock;
    auto opened = DocumentsStorage::open(dir.path(), opts);
    REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
    s = std::move(opened).value();
  }
  void reopen() {
    s.reset();
    open();
  }

  PutResult put(const std::string& id, const std::string& name) {
    PutResult result;
    auto body = boost::json::parse("{\"name\":\"" + name + "\",\"@metadata\":{\"@collection\":\"Users\"}}").as_object();
    Status st = s->write([&](WriteTransaction& txn) -> Status {
      auto r = txn.put(id, body, std::nullopt);
      if (!r.ok()) return r.status();
      result = std::move(r).value();
      return Status::Ok();
    });
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    return result;
  }
  std::string remove(const std::string& id) {
    std::string cv;
    Status st = s->write([&](WriteTransaction& txn) -> Status {
      auto r = txn.remove(id, std::nullopt);
      if (!r.ok()) return r.status();
      cv = r->change_vector;
      return Status::Ok();
    });
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    return cv;
  }
  Result<ReplicatedOutcome> apply(IncomingVersion v, ConflictPolicy policy) {
    ReplicatedOutcome outcome{};
    Status st = s->write([&](WriteTransaction& txn) -> Status {
      auto r = ReplicatedWrites::apply(txn, v, policy);
      if (!r.ok()) return r.status();
      outcome = r.value();
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return outcome;
  }
  std::optional<Tombstone> tombstone(const std::string& id) {
    auto changes = s->changes_since(0, 100000);
    REQUIRE(changes.ok());
    for (auto& c : changes.value())
      if (auto* t = std::get_if<Tombstone>(&c); t && t->id == id) return *t;
    return std::nullopt;
  }
  std::string name_of(const std::string& id) {
    auto d = s->get(id);
    REQUIRE_MESSAGE(d.ok(), d.status().to_string());
    return std::string(boost::json::parse(d->json).as_object().at("name").as_string());
  }
  std::vector<Document> revisions(const std::string& id) {
    auto page = RevisionsStorage::get_for(*s, id, 0, 100);
    REQUIRE(page.ok());
    return page->revisions;
  }
  uint64_t last_etag() { return s->stats().last_etag; }
};

IncomingVersion incoming_put(const std::string& id, const std::string& name, const std::string& cv,
                             int64_t last_modified = kT0) {
  IncomingVersion v;
  v.id = id;
  v.collection = "Users";
  v.change_vector = cv;
  v.last_modified_us = last_modified;
  v.json = "{\"name\":\"" + name + "\",\"@metadata\":{\"@collection\":\"Users\"}}";
  return v;
}

IncomingVersion incoming_delete(const std::string& id, const std::string& cv, int64_t last_modified = kT0) {
  IncomingVersion v;
  v.id = id;
  v.collection = "Users";
  v.change_vector = cv;
  v.last_modified_us = last_modified;
  return v;
}

std::string merged(const std::string& a, const std::string& b) {
  auto x = ChangeVector::parse(a).value();
  x.merge(ChangeVector::parse(b).value());
  return x.to_string();
}

ChangeVectorOrder order(const std::string& a, const std::string& b) {
  return ChangeVector::parse(a).value().compare(ChangeVector::parse(b).value());
}

enum class LocalState { Document, Tombstone };

// Sets up users/1 as a document ("local") or a tombstone; returns its change vector.
std::string make_local(Db& db, LocalState state) {
  const std::string cv = db.put("users/1", "local").change_vector;
  if (state == LocalState::Document) return cv;
  return db.remove("users/1");
}

bool has_flag(uint32_t flags, uint32_t f) { return (flags & f) == f; }

}  // namespace

TEST_CASE("Replicated: newer incoming versions are stored as they are, under both policies") {
  for (auto policy : {ConflictPolicy::ResolveToLatest, ConflictPolicy::KeepConflict}) {
    for (auto state : {LocalState::Document, LocalState::Tombstone}) {
      for (bool incoming_is_delete : {false, true}) {
        CAPTURE(static_cast<int>(policy));
        CAPTURE(static_cast<int>(state));
        CAPTURE(incoming_is_delete);
        Db db;
        const std::string local_cv = make_local(db, state);
        const std::string theirs = merged(local_cv, "B:5-" + kRemote);
        const uint64_t before = db.last_etag();
        auto in = incoming_is_delete ? incoming_delete("users/1", "B:5-" + kRemote + ", " + local_cv)
                                     : incoming_put("users/1", "remote", "B:5-" + kRemote + ", " + local_cv);
        auto r = db.apply(in, policy);
        REQUIRE_MESSAGE(r.ok(), r.status().to_string());
        CHECK(r.value() == ReplicatedOutcome::Stored);
        CHECK(db.last_etag() == before + 1);
        if (incoming_is_delete) {
          CHECK(db.s->get("users/1").status().is_not_found());
          auto t = db.tombstone("users/1");
          REQUIRE(t);
          CHECK(t->change_vector == theirs);  // canonical, not as sent
        } else {
          auto d = db.s->get("users/1");
          REQUIRE(d.ok());
          CHECK(d->change_vector == theirs);
          CHECK(d->last_modified_us == kT0);
          CHECK(db.name_of("users/1") == "remote");
          CHECK_FALSE(db.tombstone("users/1"));
        }
        CHECK(db.s->stats().database_change_vector == merged(theirs, "A:" + std::to_string(before + 1) + "-" +
                                                                          db.s->database_id()));
      }
    }
  }
}

TEST_CASE("Replicated: older or equal incoming versions are ignored, under both policies") {
  for (auto policy : {ConflictPolicy::ResolveToLatest, ConflictPolicy::KeepConflict}) {
    for (auto state : {LocalState::Document, LocalState::Tombstone}) {
      for (bool incoming_is_delete : {false, true}) {
        CAPTURE(static_cast<int>(policy));
        CAPTURE(static_cast<int>(state));
        CAPTURE(incoming_is_delete);
        Db db;
        const std::string first_cv = db.put("users/1", "first").change_vector;
        const std::string local_cv = make_local(db, state);
        const uint64_t before = db.last_etag();
        for (const std::string& old_cv : {first_cv, local_cv}) {
          auto in = incoming_is_delete ? incoming_delete("users/1", old_cv) : incoming_put("users/1", "old", old_cv);
          auto r = db.apply(in, policy);
          REQUIRE(r.ok());
          CHECK(r.value() == ReplicatedOutcome::Ignored);
        }
        CHECK(db.last_etag() == before);
        if (state == LocalState::Document) CHECK(db.name_of("users/1") == "local");
        else CHECK(db.tombstone("users/1")->change_vector == local_cv);
      }
    }
  }
}

TEST_CASE("Replicated: concurrent versions resolve to the latest; the loser is a Conflicted revision") {
  for (auto state : {LocalState::Document, LocalState::Tombstone}) {
    for (bool incoming_is_delete : {false, true}) {
      if (state == LocalState::Tombstone && incoming_is_delete) continue;  // same content: merged (below)
      for (bool incoming_later : {true, false}) {
        CAPTURE(static_cast<int>(state));
        CAPTURE(incoming_is_delete);
        CAPTURE(incoming_later);
        Db db;  // no revisions configuration: the loser is kept anyway
        const std::string local_cv = make_local(db, state);
        const std::string theirs = "B:5-" + kRemote;
        const int64_t when = incoming_later ? kT0 + 1 : kT0 - 1;
        auto in = incoming_is_delete ? incoming_delete("users/1", theirs, when)
                                     : incoming_put("users/1", "remote", theirs, when);
        auto r = db.apply(in, ConflictPolicy::ResolveToLatest);
        REQUIRE_MESSAGE(r.ok(), r.status().to_string());
        CHECK(r.value() == (incoming_later ? ReplicatedOutcome::IncomingWon : ReplicatedOutcome::LocalWon));
        const bool winner_deleted = incoming_later ? incoming_is_delete : state == LocalState::Tombstone;
        const std::string both = merged(local_cv, theirs);
        if (winner_deleted) {
          CHECK(db.s->get("users/1").status().is_not_found());
          REQUIRE(db.tombstone("users/1"));
          CHECK(db.tombstone("users/1")->change_vector == both);
        } else {
          auto d = db.s->get("users/1");
          REQUIRE(d.ok());
          CHECK(d->change_vector == both);
          CHECK(has_flag(d->flags, kResolved));
          CHECK(db.name_of("users/1") == (incoming_later ? "remote" : "local"));
        }
        // The resolved version supersedes both, so it wins everywhere it goes.
        CHECK(order(both, local_cv) == ChangeVectorOrder::Newer);
        CHECK(order(both, theirs) == ChangeVectorOrder::Newer);
        auto revisions = db.revisions("users/1");
        REQUIRE(revisions.size() == 1);
        CHECK(has_flag(revisions[0].flags, kConflicted | kRevision));
        CHECK(revisions[0].change_vector == (incoming_later ? local_cv : theirs));
        const bool loser_deleted = incoming_later ? state == LocalState::Tombstone : incoming_is_delete;
        CHECK(has_flag(revisions[0].flags, kDeleteRevision) == loser_deleted);
        CHECK(ConflictsStorage::get_for(*db.s, "users/1")->empty());
      }
    }
  }
}

TEST_CASE("Replicated: a last-modified tie is broken by the larger change vector text on every node") {
  // Node A has its version, node B has its; each receives the other's.
  Db a;
  Db b;
  const std::string a_cv = a.put("users/1", "from-a").change_vector;
  const std::string b_cv = "B:1-" + kRemote;
  b.apply(incoming_put("users/1", "from-b", b_cv), ConflictPolicy::ResolveToLatest).value();
  auto on_a = a.apply(incoming_put("users/1", "from-b", b_cv, kT0), ConflictPolicy::ResolveToLatest);
  auto on_b = b.apply(incoming_put("users/1", "from-a", a_cv, kT0), ConflictPolicy::ResolveToLatest);
  REQUIRE(on_a.ok());
  REQUIRE(on_b.ok());
  const std::string expected = a_cv > b_cv ? "from-a" : "from-b";
  CHECK(a.name_of("users/1") == expected);
  CHECK(b.name_of("users/1") == expected);
  CHECK(a.s->get("users/1")->change_vector == b.s->get("users/1")->change_vector);
}

TEST_CASE("Replicated: concurrent versions with the same content merge their change vectors, no conflict") {
  for (auto policy : {ConflictPolicy::ResolveToLatest, ConflictPolicy::KeepConflict}) {
    SUBCASE("documents") {
      Db db;
      const std::string local_cv = db.put("users/1", "same").change_vector;
      const uint64_t before = db.last_etag();
      auto r = db.apply(incoming_put("users/1", "same", "B:3-" + kRemote, kT0 + 99), policy);
      REQUIRE(r.ok());
      CHECK(r.value() == ReplicatedOutcome::Merged);
      auto d = db.s->get("users/1");
      REQUIRE(d.ok());
      CHECK(d->change_vector == merged(local_cv, "B:3-" + kRemote));
      CHECK(d->etag == before + 1);
      // The later of the two metadata, as the other member picks too.
      CHECK(d->last_modified_us == kT0 + 99);
      CHECK(db.revisions("users/1").empty());
      CHECK(ConflictsStorage::get_for(*db.s, "users/1")->empty());
    }
    SUBCASE("deletions") {
      Db db;
      const std::string local_cv = make_local(db, LocalState::Tombstone);
      auto r = db.apply(incoming_delete("users/1", "B:3-" + kRemote), policy);
      REQUIRE(r.ok());
      CHECK(r.value() == ReplicatedOutcome::Merged);
      CHECK(db.tombstone("users/1")->change_vector == merged(local_cv, "B:3-" + kRemote));
      CHECK(db.s->stats().tombstone_count == 1);
    }
  }
}

TEST_CASE("Replicated: KeepConflict keeps every version until a local write resolves it") {
  for (auto state : {LocalState::Document, LocalState::Tombstone}) {
    for (bool incoming_is_delete : {false, true}) {
      if (state == LocalState::Tombstone && incoming_is_delete) continue;  // same content: merged
      for (bool resolve_by_delete : {false, true}) {
        CAPTURE(static_cast<int>(state));
        CAPTURE(incoming_is_delete);
        CAPTURE(resolve_by_delete);
        Db db;
        const std::string local_cv = make_local(db, state);
        const std::string theirs = "B:5-" + kRemote;
        auto in = incoming_is_delete ? incoming_delete("users/1", theirs) : incoming_put("users/1", "remote", theirs);
        auto r = db.apply(in, ConflictPolicy::KeepConflict);
        REQUIRE_MESSAGE(r.ok(), r.status().to_string());
        CHECK(r.value() == ReplicatedOutcome::Conflicted);
        CHECK(db.s->get("users/1").status().is_not_found());
        CHECK_FALSE(db.tombstone("users/1"));
        CHECK(db.s->stats().document_count == 0);
        CHECK(db.s->stats().tombstone_count == 0);
        auto conflicts = ConflictsStorage::get_for(*db.s, "users/1");
        REQUIRE(conflicts.ok());
        REQUIRE(conflicts->size() == 2);
        for (const auto& c : conflicts.value()) {
          CHECK(has_flag(c.flags, kConflicted));
          CHECK((c.change_vector == local_cv || c.change_vector == theirs));
          CHECK(has_flag(c.flags, kDeleteRevision) == c.json.empty());
        }
        // The conflict survives a restart.
        db.reopen();
        CHECK(ConflictsStorage::get_for(*db.s, "users/1")->size() == 2);

        std::string resolved_cv;
        if (resolve_by_delete) {
          resolved_cv = db.remove("users/1");
          REQUIRE(db.tombstone("users/1"));
          CHECK(db.tombstone("users/1")->change_vector == resolved_cv);
        } else {
          resolved_cv = db.put("users/1", "resolved").change_vector;
          CHECK(db.name_of("users/1") == "resolved");
          CHECK(has_flag(db.s->get("users/1")->flags, kResolved));
        }
        CHECK(order(resolved_cv, local_cv) == ChangeVectorOrder::Newer);
        CHECK(order(resolved_cv, theirs) == ChangeVectorOrder::Newer);
        CHECK(ConflictsStorage::get_for(*db.s, "users/1")->empty());
        auto revisions = db.revisions("users/1");
        CHECK(revisions.size() == 2);
        for (const auto& rev : revisions) CHECK(has_flag(rev.flags, kConflicted | kRevision));
      }
    }
  }
}

TEST_CASE("Replicated: a document in conflict: covered versions are ignored, concurrent join, newer resolve") {
  Db db;
  const std::string local_cv = db.put("users/1", "local").change_vector;
  const std::string theirs = "B:5-" + kRemote;
  REQUIRE(db.apply(incoming_put("users/1", "b", theirs), ConflictPolicy::KeepConflict).value() ==
          ReplicatedOutcome::Conflicted);
  CHECK(db.apply(incoming_put("users/1", "b-old", "B:4-" + kRemote), ConflictPolicy::KeepConflict).value() ==
        ReplicatedOutcome::Ignored);
  const std::string third = "C:2-otherDatabaseId00000002";
  CHECK(db.apply(incoming_put("users/1", "c", third), ConflictPolicy::KeepConflict).value() ==
        ReplicatedOutcome::Conflicted);
  CHECK(ConflictsStorage::get_for(*db.s, "users/1")->size() == 3);
  const std::string all = merged(merged(local_cv, theirs), third);
  CHECK(db.apply(incoming_delete("users/1", all), ConflictPolicy::KeepConflict).value() ==
        ReplicatedOutcome::Stored);
  CHECK(ConflictsStorage::get_for(*db.s, "users/1")->empty());
  CHECK(db.tombstone("users/1")->change_vector == all);
  CHECK(db.revisions("users/1").size() == 3);
}

TEST_CASE("Replicated: bad input changes nothing") {
  Db db;
  db.put("users/1", "local");
  const uint64_t before = db.last_etag();
  const std::string cv_before = db.s->stats().database_change_vector;
  for (const char* bad : {"", "B5-x", "B:x-y"}) {
    auto r = db.apply(incoming_put("users/1", "remote", bad), ConflictPolicy::ResolveToLatest);
    CHECK(r.status().is_invalid_argument());
  }
  CHECK(db.apply(incoming_put("", "remote", "B:1-" + kRemote), ConflictPolicy::ResolveToLatest)
            .status()
            .is_invalid_argument());
  CHECK(db.last_etag() == before);
  CHECK(db.s->stats().database_change_vector == cv_before);
  CHECK(db.name_of("users/1") == "local");
}

TEST_CASE("Database change vector: the merge of everything seen, kept across a restart") {
  Db db;
  CHECK(db.s->stats().database_change_vector.empty());
  db.put("users/1", "a");
  const std::string local = "A:1-" + db.s->database_id();
  CHECK(db.s->stats().database_change_vector == local);
  // A replicated version adds its entries; an older one adds nothing.
  REQUIRE(db.apply(incoming_put("users/2", "x", "B:4-" + kRemote), ConflictPolicy::ResolveToLatest).ok());
  REQUIRE(db.apply(incoming_put("users/2", "x", "B:2-" + kRemote), ConflictPolicy::ResolveToLatest).value() ==
          ReplicatedOutcome::Ignored);
  db.put("users/3", "c");
  const std::string expected = "A:3-" + db.s->database_id() + ", B:4-" + kRemote;
  CHECK(db.s->stats().database_change_vector == expected);
  db.reopen();
  CHECK(db.s->stats().database_change_vector == expected);
}

TEST_CASE("Commit hook: listeners learn each durable last etag; a removed one is not called again") {
  Db db;
  std::mutex mu;
  std::vector<uint64_t> seen;
  const uint64_t id = db.s->add_commit_listener([&](uint64_t etag) {
    std::lock_guard lock(mu);
    seen.push_back(etag);
  });
  // Listeners run once the batch's transactions were told: a write may
  // return just before its notification.
  const auto seen_now = [&] {
    std::lock_guard lock(mu);
    return seen;
  };
  const auto wait_for = [&](size_t n) {
    for (int i = 0; i < 2000 && seen_now().size() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  db.put("users/1", "a");
  wait_for(1);
  db.put("users/2", "b");
  wait_for(2);
  CHECK(seen_now() == std::vector<uint64_t>{1, 2});
  // A transaction that fails changes nothing durable: no notification.
  Status failed = db.s->write([](WriteTransaction& txn) { return txn.put("users/3", {}, std::string("A:1-x")).status(); });
  CHECK_FALSE(failed.ok());
  db.s->remove_commit_listener(id);
  db.put("users/3", "c");
  CHECK(seen_now() == std::vector<uint64_t>{1, 2});
}

TEST_CASE("Replicated: the incoming version keeps its own flags and @counters; revision flags are dropped") {
  Db db;
  IncomingVersion in = incoming_put("users/1", "remote", "B:1-" + kRemote);
  in.flags = kHasCounters | kRevision | kConflicted;
  in.json = R"({"name":"remote","@metadata":{"@collection":"Users","@counters":["likes"]}})";
  REQUIRE(db.apply(in, ConflictPolicy::ResolveToLatest).value() == ReplicatedOutcome::Stored);
  auto d = db.s->get("users/1");
  REQUIRE(d.ok());
  CHECK(d->flags == kHasCounters);
  auto metadata = boost::json::parse(d->json).as_object().at("@metadata").as_object();
  CHECK(metadata.at("@counters") == boost::json::array{"likes"});
  CHECK(metadata.at("@flags") == "HasCounters");
  CHECK(metadata.at("@change-vector").as_string() == "B:1-" + kRemote);
}

TEST_CASE("Commit hook: removing a listener while writes run; it is never called after removal returns") {
  Db db;
  std::atomic<bool> removed{false};
  std::atomic<int> late_calls{0};
  std::atomic<int> calls{0};
  const uint64_t id = db.s->add_commit_listener([&](uint64_t) {
    if (removed.load()) late_calls.fetch_add(1);
    calls.fetch_add(1);
  });
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) db.put("users/" + std::to_string(i), "x");
  });
  while (calls.load() == 0) std::this_thread::yield();  // bounded: the writer makes 200 commits
  db.s->remove_commit_listener(id);
  removed.store(true);
  writer.join();
  CHECK(late_calls.load() == 0);
  CHECK(calls.load() >= 1);
}

TEST_CASE("Replicated: the version of the later cluster-wide transaction wins a conflict whatever the policy") {
  const std::string tx = "clusterTxId00000000001";
  for (auto policy : {ConflictPolicy::ResolveToLatest, ConflictPolicy::KeepConflict}) {
    SUBCASE("an ordinary write on top of transaction 5 meets transaction 7") {
      Db db;
      // Transaction 5 wrote the document here, then a local ordinary write (later in time).
      REQUIRE(db.apply(incoming_put("users/1", "tx5", "TRXN:5-" + tx), policy).ok());
      db.clock->now += 1'000'000;
      db.put("users/1", "ordinary");
      // Transaction 7, applied elsewhere earlier in time, arrives by replication.
      auto r = db.apply(incoming_put("users/1", "tx7", "TRXN:7-" + tx, kT0 + 10), policy);
      REQUIRE(r.ok());
      CHECK(r.value() == ReplicatedOutcome::IncomingWon);
      CHECK(db.name_of("users/1") == "tx7");
      bool kept = false;
      for (const auto& rev : db.revisions("users/1")) {
        if (rev.json.find("ordinary") != std::string::npos && (rev.flags & kConflicted) != 0) kept = true;
      }
      CHECK(kept);
      CHECK(ConflictsStorage::get_for(*db.s, "users/1")->empty());
    }
    SUBCASE("transaction 7 here, an ordinary write on top of transaction 5 arrives") {
      Db db;
      REQUIRE(db.apply(incoming_put("users/1", "tx7", "TRXN:7-" + tx), policy).ok());
      auto r = db.apply(incoming_put("users/1", "ordinary", "B:9-" + kRemote + ", TRXN:5-" + tx, kT0 + 5'000'000),
                        policy);
      REQUIRE(r.ok());
      CHECK(r.value() == ReplicatedOutcome::LocalWon);
      CHECK(db.name_of("users/1") == "tx7");
      CHECK(ConflictsStorage::get_for(*db.s, "users/1")->empty());
    }
  }
}

TEST_CASE("Replicated: a conflict holds only the versions no other supersedes, same contents merged") {
  const std::string kThird = "thirdDatabaseId0000001";
  Db db;
  auto cvs = [&] {
    std::set<std::string> out;
    auto held = ConflictsStorage::get_for(*db.s, "users/1");
    REQUIRE(held.ok());
    for (const auto& d : held.value()) out.insert(d.change_vector);
    return out;
  };
  REQUIRE(db.apply(incoming_put("users/1", "x1", "A:1-" + kThird), ConflictPolicy::KeepConflict).ok());
  REQUIRE(db.apply(incoming_put("users/1", "y1", "B:1-" + kRemote), ConflictPolicy::KeepConflict).value() ==
          ReplicatedOutcome::Conflicted);
  // x2 follows x1 on its line: it takes x1's place.
  REQUIRE(db.apply(incoming_put("users/1", "x2", "A:2-" + kThird), ConflictPolicy::KeepConflict).value() ==
          ReplicatedOutcome::Conflicted);
  CHECK(cvs() == std::set<std::string>{"A:2-" + kThird, "B:1-" + kRemote});
  // x1 arriving late changes nothing.
  CHECK(db.apply(incoming_put("users/1", "x1", "A:1-" + kThird), ConflictPolicy::KeepConflict).value() ==
        ReplicatedOutcome::Ignored);
  // A third line with y1's content merges with it.
  REQUIRE(db.apply(incoming_put("users/1", "y1", "C:5-" + kRemote + "2"), ConflictPolicy::KeepConflict).value() ==
          ReplicatedOutcome::Conflicted);
  CHECK(cvs() == std::set<std::string>{"A:2-" + kThird, "B:1-" + kRemote + ", C:5-" + kRemote + "2"});
  // A version that supersedes all of them ends the conflict.
  auto r = db.apply(incoming_put("users/1", "z", "A:2-" + kThird + ", B:1-" + kRemote + ", C:5-" + kRemote + "2"),
                    ConflictPolicy::KeepConflict);
  REQUIRE(r.ok());
  CHECK(r.value() == ReplicatedOutcome::Stored);
  CHECK(cvs().empty());
  CHECK(db.name_of("users/1") == "z");
}
