#include "storage/counters_storage.h"

#include <functional>
#include <limits>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "storage/documents_storage.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::storage;

namespace {

std::unique_ptr<DocumentsStorage> open_at(const std::string& dir) {
  auto s = DocumentsStorage::open(dir, StorageOptions{});
  REQUIRE(s.ok());
  return std::move(s).value();
}

void put_user(DocumentsStorage& s, const std::string& id) {
  REQUIRE(s.write([&](WriteTransaction& txn) -> Status {
             return txn.put(id, boost::json::parse(R"({"name":"x","@metadata":{"@collection":"Users"}})").as_object(),
                            std::nullopt)
                 .status();
           }).ok());
}

// Runs `ops` on document `id` as one command (finish included) in one transaction.
Status counters_txn(DocumentsStorage& s, const std::string& id, const std::function<Status(DocumentCounters&)>& ops,
                    std::string* change_vector = nullptr) {
  return s.write([&](WriteTransaction& txn) -> Status {
    DocumentCounters c(txn, id);
    if (Status st = ops(c); !st.ok()) return st;
    auto cv = c.finish();
    if (!cv.ok()) return cv.status();
    if (change_vector) *change_vector = cv.value();
    return Status::Ok();
  });
}

Status increment(DocumentsStorage& s, const std::string& id, const std::string& name, int64_t delta) {
  return counters_txn(s, id, [&](DocumentCounters& c) { return c.increment(name, delta).status(); });
}

boost::json::object metadata_of(DocumentsStorage& s, const std::string& id) {
  auto doc = s.get(id);
  REQUIRE(doc.ok());
  return boost::json::parse(doc->json).as_object()["@metadata"].as_object();
}

int64_t value_of(DocumentsStorage& s, const std::string& id, const std::string& name) {
  auto r = CountersStorage(s).get(id, {name});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  REQUIRE(r->front().has_value());
  auto t = r->front()->value.total();
  REQUIRE(t.ok());
  return t.value();
}

}  // namespace

TEST_CASE("CountersStorage: increments are summed; the document changes only when a name is added or removed") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put_user(*s, "users/1");
  const uint64_t doc_etag = s->get("users/1")->etag;

  REQUIRE(increment(*s, "users/1", "likes", 5).ok());
  auto md = metadata_of(*s, "users/1");
  CHECK(md["@counters"] == boost::json::parse(R"(["likes"])"));
  CHECK(md["@flags"] == "HasCounters");
  const auto after_add = s->get("users/1");
  CHECK(after_add->etag > doc_etag);

  const uint64_t etag_before = s->stats().last_etag;
  REQUIRE(increment(*s, "users/1", "LIKES", -2).ok());
  CHECK(s->stats().last_etag == etag_before + 1);  // the counter took an etag...
  CHECK(s->get("users/1")->change_vector == after_add->change_vector);  // ...the document did not change
  CHECK(value_of(*s, "users/1", "Likes") == 3);
  auto likes = CountersStorage(*s).get("users/1", {"likes"});
  REQUIRE(likes.ok());
  const auto per_node = per_node_values(likes->front()->value);
  REQUIRE(per_node.size() == 1);
  CHECK(per_node[0].first == "A-" + s->database_id());  // RavenDB's "<node tag>-<database id>"
  CHECK(per_node[0].second == 3);

  // Names sorted as OrdinalIgnoreCase: '_' (0x5F) sorts after letters ('A'-'Z').
  REQUIRE(increment(*s, "users/1", "a_b", 1).ok());
  REQUIRE(increment(*s, "users/1", "AAB", 1).ok());
  CHECK(metadata_of(*s, "users/1")["@counters"] == boost::json::parse(R"(["AAB","a_b","likes"])"));
  auto all = CountersStorage(*s).get_all("USERS/1");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK(all->at(0).value.name() == "AAB");
  CHECK(all->at(2).value.name() == "likes");

  // A client's PUT keeps the server-owned @counters.
  put_user(*s, "users/1");
  CHECK(metadata_of(*s, "users/1")["@counters"].as_array().size() == 3);
}

TEST_CASE("CountersStorage: every change takes an etag indexed as kind C, the old entry removed") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put_user(*s, "users/1");
  REQUIRE(increment(*s, "users/1", "likes", 1).ok());
  REQUIRE(increment(*s, "users/1", "likes", 1).ok());
  auto c = CountersStorage(*s).get("users/1", {"likes"});
  REQUIRE(c.ok());
  REQUIRE(c->front());
  const uint64_t etag = c->front()->etag;
  CHECK(etag == s->stats().last_etag);
  // Exactly one etag-order entry names the counter: the newest.
  const Engine& engine = s->engine();
  std::unique_ptr<rocksdb::Iterator> it(engine.db()->NewIterator(rocksdb::ReadOptions(), engine.cf(Family::Etags)));
  int counter_entries = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->value().size() && it->value()[0] == kEtagOfCounter) {
      ++counter_entries;
      CHECK(decode_big_endian(std::string_view(it->key().data(), it->key().size())) == etag);
      CHECK(std::string(it->value().data() + 1, it->value().size() - 1) == counter_key("users/1", "likes"));
    }
  }
  CHECK(counter_entries == 1);
  // Counters are not documents: changes_since still lists the document only.
  auto changes = s->changes_since(0, 100);
  REQUIRE(changes.ok());
  CHECK(changes->size() == 1);
}

TEST_CASE("CountersStorage: delete leaves a tombstone; re-creating starts from zero") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put_user(*s, "users/1");
  REQUIRE(increment(*s, "users/1", "likes", 5).ok());
  REQUIRE(increment(*s, "users/1", "views", 1).ok());
  bool removed = false;
  REQUIRE(counters_txn(*s, "users/1", [&](DocumentCounters& c) {
            auto r = c.remove("Likes");
            if (r.ok()) removed = r.value();
            return r.status();
          }).ok());
  CHECK(removed);
  CHECK(metadata_of(*s, "users/1")["@counters"] == boost::json::parse(R"(["views"])"));
  auto gone = CountersStorage(*s).get("users/1", {"likes"});
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->front().has_value());

  // Deleting what does not exist writes nothing.
  const uint64_t etag = s->stats().last_etag;
  REQUIRE(counters_txn(*s, "users/1", [&](DocumentCounters& c) {
            auto r = c.remove("likes");
            if (r.ok()) removed = r.value();
            return r.status();
          }).ok());
  CHECK_FALSE(removed);
  CHECK(s->stats().last_etag == etag);

  REQUIRE(increment(*s, "users/1", "LIKES", 2).ok());
  CHECK(value_of(*s, "users/1", "likes") == 2);
  CHECK(metadata_of(*s, "users/1")["@counters"] == boost::json::parse(R"(["LIKES","views"])"));

  // Created and deleted by one command: the counter took etags, the document did not change.
  const std::string cv_before = s->get("users/1")->change_vector;
  REQUIRE(counters_txn(*s, "users/1", [&](DocumentCounters& c) {
            if (Status st = c.increment("temp", 1).status(); !st.ok()) return st;
            return c.remove("TEMP").status();
          }).ok());
  CHECK(s->get("users/1")->change_vector == cv_before);
  CHECK(metadata_of(*s, "users/1")["@counters"] == boost::json::parse(R"(["LIKES","views"])"));

  // Removing the last counter clears @counters and HasCounters.
  REQUIRE(counters_txn(*s, "users/1", [&](DocumentCounters& c) {
            if (Status st = c.remove("likes").status(); !st.ok()) return st;
            return c.remove("views").status();
          }).ok());
  auto md = metadata_of(*s, "users/1");
  CHECK_FALSE(md.contains("@counters"));
  CHECK_FALSE(md.contains("@flags"));
}

TEST_CASE("CountersStorage: a missing document is NotFound and overflow is refused; neither writes anything") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put_user(*s, "users/1");
  REQUIRE(increment(*s, "users/1", "big", std::numeric_limits<int64_t>::max()).ok());
  const uint64_t etag = s->stats().last_etag;
  CHECK(increment(*s, "users/404", "likes", 1).is_not_found());
  Status over = increment(*s, "users/1", "big", 1);
  CHECK(over.is_invalid_argument());
  // Part of a command failing rolls the whole transaction back.
  Status partial = counters_txn(*s, "users/1", [&](DocumentCounters& c) {
    if (Status st = c.increment("fresh", 1).status(); !st.ok()) return st;
    return c.increment("big", 1).status();
  });
  CHECK(partial.is_invalid_argument());
  CHECK(s->stats().last_etag == etag);
  CHECK(value_of(*s, "users/1", "big") == std::numeric_limits<int64_t>::max());
  auto fresh = CountersStorage(*s).get("users/1", {"fresh"});
  REQUIRE(fresh.ok());
  CHECK_FALSE(fresh->front().has_value());
  CHECK(metadata_of(*s, "users/1")["@counters"] == boost::json::parse(R"(["big"])"));
  CHECK(increment(*s, "users/1", "", 1).is_invalid_argument());
  CHECK(increment(*s, "users/1", std::string(kMaxCounterNameBytes + 1, 'x'), 1).is_invalid_argument());
  CHECK(increment(*s, "users/1", "a\nb", 1).is_invalid_argument());
  CHECK(s->stats().last_etag == etag);
  CHECK(increment(*s, "users/1", "likes \xC3\xA9", 1).ok());
}

TEST_CASE("CountersStorage: deleting the document deletes its counters; they survive a reopen") {
  testing::TempDir dir;
  {
    auto s = open_at(dir.path());
    put_user(*s, "users/1");
    put_user(*s, "users/10");
    REQUIRE(increment(*s, "users/1", "likes", 5).ok());
    REQUIRE(increment(*s, "users/10", "likes", 7).ok());
    REQUIRE(increment(*s, "users/10", "views", 1).ok());
    CHECK(s->read_count(meta_keys::kCounterCount).value() == 3);
    REQUIRE(s->write([&](WriteTransaction& txn) { return txn.remove("users/1", std::nullopt).status(); }).ok());
    CHECK(s->read_count(meta_keys::kCounterCount).value() == 2);
    auto all = CountersStorage(*s).get_all("users/1");
    REQUIRE(all.ok());
    CHECK(all->empty());
    // A document whose id extends the other's keeps its counters.
    CHECK(value_of(*s, "users/10", "likes") == 7);
    // Re-created, the document starts without counters; a new increment starts from zero.
    put_user(*s, "users/1");
    CHECK_FALSE(metadata_of(*s, "users/1").contains("@counters"));
    REQUIRE(increment(*s, "users/1", "likes", 1).ok());
    CHECK(value_of(*s, "users/1", "likes") == 1);
  }
  auto s = open_at(dir.path());
  CHECK(value_of(*s, "users/1", "likes") == 1);
  CHECK(value_of(*s, "users/10", "likes") == 7);
  CHECK(s->read_count(meta_keys::kCounterCount).value() == 3);
}

TEST_CASE("CountersStorage: merging another database's state is idempotent and keeps concurrent changes") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put_user(*s, "users/1");
  REQUIRE(increment(*s, "users/1", "likes", 5).ok());
  auto merge = [&](const CounterValue& remote) {
    return counters_txn(*s, "users/1", [&](DocumentCounters& c) { return c.merge_remote(remote).status(); });
  };

  // Another database (B) saw our 5, then deleted the counter, then someone there added 2.
  auto mine = CountersStorage(*s).get("users/1", {"likes"});
  REQUIRE(mine.ok());
  CounterValue remote = mine->front()->value;
  remote.remove("db-b", "B", 100);
  REQUIRE(remote.increment("db-b", "B", 101, 2).ok());
  // Meanwhile we added 1, which B did not see.
  REQUIRE(increment(*s, "users/1", "likes", 1).ok());

  REQUIRE(merge(remote).ok());
  CHECK(value_of(*s, "users/1", "likes") == 3);  // B's 2 and our unseen 1; the deleted 5 stays deleted
  const uint64_t etag = s->stats().last_etag;
  REQUIRE(merge(remote).ok());  // the same state again
  CHECK(s->stats().last_etag == etag);
  CHECK(value_of(*s, "users/1", "likes") == 3);

  // A remote tombstone that saw everything deletes the counter here, @counters included.
  auto now = CountersStorage(*s).get("users/1", {"likes"});
  REQUIRE(now.ok());
  CounterValue deleted = now->front()->value;
  deleted.remove("db-b", "B", 102);
  REQUIRE(merge(deleted).ok());
  auto gone = CountersStorage(*s).get("users/1", {"likes"});
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->front().has_value());
  CHECK_FALSE(metadata_of(*s, "users/1").contains("@counters"));

  // A counter that only exists remotely appears, with its name, in @counters.
  CounterValue fresh("Shares");
  REQUIRE(fresh.increment("db-b", "B", 103, 4).ok());
  REQUIRE(merge(fresh).ok());
  CHECK(value_of(*s, "users/1", "shares") == 4);
  CHECK(metadata_of(*s, "users/1")["@counters"] == boost::json::parse(R"(["Shares"])"));
}
