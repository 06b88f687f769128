#include "storage/documents_storage.h"

#include <set>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <rocksdb/rate_limiter.h>

#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::storage;

namespace {

class FixedClock final : public Clock {
 public:
  int64_t now_micros() const override { return now; }
  int64_t now = 1'700'000'000'000'000;
};

std::unique_ptr<DocumentsStorage> open_at(const std::string& dir, std::shared_ptr<FixedClock> clock = nullptr) {
  StorageOptions opts;
  if (clock) opts.clock = clock;
  auto s = DocumentsStorage::open(dir, opts);
  REQUIRE(s.ok());
  return std::move(s).value();
}

boost::json::object user(const char* name) {
  return boost::json::parse(std::string("{\"name\":\"") + name + "\",\"@metadata\":{\"@collection\":\"Users\"}}")
      .as_object();
}

PutResult put(DocumentsStorage& s, std::string id, boost::json::object body,
              std::optional<std::string> expected = std::nullopt, Status* status_out = nullptr) {
  PutResult result;
  Status st = s.write([&](WriteTransaction& txn) -> Status {
    auto r = txn.put(id, body, expected);
    if (!r.ok()) return r.status();
    result = std::move(r).value();
    return Status::Ok();
  });
  if (status_out) *status_out = st;
  else REQUIRE_MESSAGE(st.ok(), st.to_string());
  return result;
}

}  // namespace

TEST_CASE("DocumentsStorage: put bumps etag and change vector, get returns rendered metadata") {
  testing::TempDir dir;
  auto clock = std::make_shared<FixedClock>();
  auto s = open_at(dir.path(), clock);
  auto r1 = put(*s, "users/1", user("ann"));
  auto r2 = put(*s, "users/2", user("bob"));
  CHECK(r1.etag == 1);
  CHECK(r2.etag == 2);
  CHECK(r1.change_vector == "A:1-" + s->database_id());
  auto r3 = put(*s, "Users/1", user("ann2"));
  CHECK(r3.etag == 3);
  CHECK(r3.id == "Users/1");

  auto doc = s->get("USERS/1");
  REQUIRE(doc.ok());
  CHECK(doc->id == "Users/1");
  CHECK(doc->change_vector == "A:3-" + s->database_id());
  auto json = boost::json::parse(doc->json).as_object();
  CHECK(json["name"] == "ann2");
  auto& md = json["@metadata"].as_object();
  CHECK(md["@id"] == "Users/1");
  CHECK(md["@collection"] == "Users");
  CHECK(md["@change-vector"].as_string() == doc->change_vector);
  CHECK(md["@last-modified"] == "2023-11-14T22:13:20.0000000Z");
  CHECK_FALSE(md.contains("@flags"));

  auto stats = s->stats();
  CHECK(stats.document_count == 2);
  CHECK(stats.last_etag == 3);
  CHECK(s->get("users/404").status().is_not_found());
}

TEST_CASE("DocumentsStorage: optimistic concurrency") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  auto r = put(*s, "users/1", user("a"));
  Status st;
  SUBCASE("empty expectation means must be new") {
    put(*s, "users/1", user("b"), std::string(), &st);
    CHECK(st.is_concurrency_conflict());
    put(*s, "users/new", user("b"), std::string(), &st);
    CHECK(st.ok());
  }
  SUBCASE("matching change vector succeeds, stale one fails and changes nothing") {
    auto r2 = put(*s, "users/1", user("b"), r.change_vector, &st);
    CHECK(st.ok());
    put(*s, "users/1", user("c"), r.change_vector, &st);
    CHECK(st.is_concurrency_conflict());
    CHECK(st.message().find(r2.change_vector) != std::string::npos);
    CHECK(boost::json::parse(s->get("users/1")->json).as_object()["name"] == "b");
    CHECK(s->stats().last_etag == 2);
  }
  SUBCASE("a change vector on a missing document is a conflict") {
    put(*s, "users/missing", user("b"), r.change_vector, &st);
    CHECK(st.is_concurrency_conflict());
  }
}

TEST_CASE("DocumentsStorage: delete leaves a tombstone and changes_since walks etag order") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "users/1", user("a"));
  put(*s, "users/2", user("b"));
  put(*s, "users/1", user("a2"));
  DeleteResult del;
  REQUIRE(s->write([&](WriteTransaction& txn) -> Status {
             auto r = txn.remove("users/2", std::nullopt);
             if (!r.ok()) return r.status();
             del = r.value();
             return Status::Ok();
           }).ok());
  CHECK(del.deleted);
  CHECK(s->get("users/2").status().is_not_found());
  auto changes = s->changes_since(0, 100).value();
  REQUIRE(changes.size() == 2);
  CHECK(std::get<Document>(changes[0]).id == "users/1");
  CHECK(std::get<Document>(changes[0]).etag == 3);
  CHECK(std::get<Tombstone>(changes[1]).id == "users/2");
  CHECK(std::get<Tombstone>(changes[1]).etag == 4);
  CHECK(s->changes_since(3, 100).value().size() == 1);
  CHECK(s->stats().document_count == 1);
  CHECK(s->stats().tombstone_count == 1);

  SUBCASE("deleting a missing document is not an error and bumps nothing") {
    REQUIRE(s->write([&](WriteTransaction& txn) -> Status {
               auto r = txn.remove("users/nope", std::nullopt);
               CHECK_FALSE(r->deleted);
               return Status::Ok();
             }).ok());
    CHECK(s->stats().last_etag == 4);
  }
  SUBCASE("re-creating removes the tombstone and continues the change vector") {
    auto r = put(*s, "users/2", user("b2"));
    CHECK(r.etag == 5);
    CHECK(s->stats().tombstone_count == 0);
    CHECK(s->changes_since(0, 100).value().size() == 2);
  }
}

TEST_CASE("DocumentsStorage: listing by recency, collection and prefix") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "users/1", user("a"));
  put(*s, "orders/1", boost::json::parse(R"({"@metadata":{"@collection":"Orders"}})").as_object());
  put(*s, "users/2", user("b"));
  put(*s, "misc", boost::json::parse(R"({"x":1})").as_object());
  auto recent = s->list_recent(0, 10).value();
  REQUIRE(recent.size() == 4);
  CHECK(recent[0].id == "misc");
  CHECK(recent[3].id == "users/1");
  CHECK(s->list_recent(1, 2).value().size() == 2);
  CHECK(s->list_recent(1, 2).value()[0].id == "users/2");
  auto users = s->list_collection("users", 0, 10).value();
  REQUIRE(users.size() == 2);
  CHECK(users[0].id == "users/2");
  CHECK(s->list_collection("@empty", 0, 10).value().size() == 1);
  auto prefixed = s->list_starting_with("USERS/", 0, 10).value();
  REQUIRE(prefixed.size() == 2);
  CHECK(prefixed[0].id == "users/1");

  SUBCASE("changing a document's collection is refused") {
    Status st;
    put(*s, "users/1", boost::json::parse(R"({"@metadata":{"@collection":"Orders"}})").as_object(), std::nullopt,
        &st);
    CHECK(st.is_invalid_argument());
  }
}

TEST_CASE("DocumentsStorage: generated ids, identities and HiLo survive restart") {
  testing::TempDir dir;
  uint64_t first_high = 0;
  {
    auto s = open_at(dir.path());
    auto a = put(*s, "users/", user("a"));
    CHECK(a.id == "users/0000000000000000001-A");
    auto b = put(*s, "users|", user("b"));
    CHECK(b.id == "users/1");
    auto c = put(*s, "users|", user("c"));
    CHECK(c.id == "users/2");
    auto g = put(*s, "", user("g"));
    CHECK(g.id.size() == 36);
    REQUIRE(s->write([&](WriteTransaction& txn) -> Status {
               auto r = txn.next_hilo("users", 0, 0, 0);
               CHECK(r->low == 1);
               CHECK(r->high == 32);
               first_high = r->high;
               return Status::Ok();
             }).ok());
  }
  auto s = open_at(dir.path());
  CHECK(s->stats().document_count == 5);  // with the HiLo document "Raven/Hilo/users"
  CHECK(s->stats().last_etag == 5);
  auto hilo = s->get("raven/hilo/USERS");
  REQUIRE(hilo.ok());
  CHECK(boost::json::parse(hilo->json).as_object()["Max"] == 32);
  CHECK(hilo->collection == "@hilo");
  REQUIRE(s->write([&](WriteTransaction& txn) -> Status {
             auto r = txn.next_hilo("Users", 32, 0, 0);
             CHECK(r->low == first_high + 1);
             CHECK(r->high == first_high + 32);  // no time of the last range: its size again
             auto id = txn.next_identity("USERS");
             CHECK(id.value() == 3);
             return Status::Ok();
           }).ok());
  SUBCASE("returning the tail of the newest range lets the next range reuse it") {
    REQUIRE(s->write([&](WriteTransaction& txn) -> Status {
               auto r = txn.next_hilo("orders", 0, 0, 0);
               CHECK(txn.return_hilo("orders", r->high, 5).ok());
               CHECK(txn.next_hilo("orders", 0, 0, 0)->low == 6);
               return Status::Ok();
             }).ok());
  }
  SUBCASE("a client's Max is where ranges continue, never below what the client last had") {
    put(*s, "Raven/Hilo/products", boost::json::parse(R"({"Max":128})").as_object());
    REQUIRE(s->write([&](WriteTransaction& txn) -> Status {
               CHECK(txn.next_hilo("products", 0, 0, 0)->low == 129);
               CHECK(txn.next_hilo("products", 0, 0, 500)->low == 501);
               return Status::Ok();
             }).ok());
  }
}

TEST_CASE("lower_id: case-insensitive ids beyond ASCII") {
  CHECK(lower_id("Users/ABC") == "users/abc");
  CHECK(lower_id("Ünïcödé/ÀÉÎÕÜ") == lower_id("ünïcödé/àéîõü"));
  CHECK(lower_id("ÀÉÎÕÜ") == "àéîõü");
  CHECK(lower_id("×") == "×");                      // a sign, not a letter
  CHECK(lower_id("ΑΒΓΔ/Σ") == "αβγδ/σ");
  CHECK(lower_id("ДОКУМЕНТ/Ё") == "документ/ё");
  CHECK(lower_id("ŁÓDŹ/ŒŸ") == "łódź/œÿ");
  CHECK(lower_id("日本/ＡＢ") == "日本/ＡＢ");          // three-byte text is kept as is
  CHECK(lower_id(std::string("bad\xC3", 4)) == std::string("bad\xC3", 4));  // truncated UTF-8 stays
}

TEST_CASE("DocumentsStorage: non-ASCII ids are case-insensitive with casing kept") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "Город/Москва", user("m"));
  auto doc = s->get("ГОРОД/МОСКВА");
  REQUIRE(doc.ok());
  CHECK(doc->id == "Город/Москва");
  CHECK(s->get("город/москва").ok());
}

TEST_CASE("DocumentsStorage: a version from elsewhere keeps its change vector and time, and the cluster position") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "users/1", user("ann"));
  const ExternalVersion version{"TRXN:7-abc", 1'700'000'000'000'000, std::nullopt};
  auto orders = boost::json::parse(R"({"total":3,"@metadata":{"@collection":"Orders"}})").as_object();
  Status st = s->write([&](WriteTransaction& txn) -> Status {
    // A cluster-wide write may change the collection: every member must end
    // with the same document, whatever it held before.
    auto r = txn.put("users/1", orders, std::nullopt, &version);
    if (!r.ok()) return r.status();
    auto gone = txn.remove("users/2", std::nullopt, &version);
    if (!gone.ok()) return gone.status();
    txn.set_last_cluster_transaction_index(7);
    return Status::Ok();
  });
  REQUIRE_MESSAGE(st.ok(), st.to_string());
  auto doc = s->get("users/1");
  REQUIRE(doc.ok());
  CHECK(doc->change_vector == "TRXN:7-abc");
  CHECK(doc->collection == "Orders");
  CHECK(doc->last_modified_us == version.last_modified_us);
  CHECK(*s->last_cluster_transaction_index() == 7);
  // An ordinary write still refuses a collection change.
  Status refused;
  put(*s, "users/1", user("ann"), std::nullopt, &refused);
  CHECK(refused.is_invalid_argument());
}

TEST_CASE("DocumentsStorage: a database written in another storage format is refused, not misread") {
  testing::TempDir dir;
  { open_at(dir.path()); }
  for (const char* found : {"1", ""}) {
    CAPTURE(found);
    {
      auto engine = Engine::open(dir.path(), StorageOptions{});
      REQUIRE(engine.ok());
      auto* meta = (*engine)->cf(Family::Meta);
      auto* db = (*engine)->db();
      if (*found) REQUIRE(db->Put(rocksdb::WriteOptions(), meta, meta_keys::kFormatVersion, found).ok());
      else REQUIRE(db->Delete(rocksdb::WriteOptions(), meta, meta_keys::kFormatVersion).ok());
    }
    auto reopened = DocumentsStorage::open(dir.path(), StorageOptions{});
    REQUIRE_FALSE(reopened.ok());
    CHECK(reopened.status().message().find("storage format") != std::string::npos);
  }
}

TEST_CASE("DocumentsStorage: flushes write through the background write limiter it is given") {
  testing::TempDir dir;
  std::shared_ptr<rocksdb::RateLimiter> limiter(rocksdb::NewGenericRateLimiter(1 << 30));
  StorageOptions opts;
  opts.background_write_limiter = limiter;
  auto s = DocumentsStorage::open(dir.path(), opts);
  REQUIRE(s.ok());
  for (int i = 0; i < 100; ++i) put(**s, "users/" + std::to_string(i), user("ann"));
  CHECK(limiter->GetTotalBytesThrough() == 0);
  REQUIRE((*s)->engine().db()->Flush(rocksdb::FlushOptions(), (*s)->engine().cf(Family::Documents)).ok());
  CHECK(limiter->GetTotalBytesThrough() > 0);
}

TEST_CASE("DocumentsStorage: each open picks its memtable size at random, so replicas do not flush in step") {
  std::set<size_t> sizes;
  for (int i = 0; i < 4; ++i) {
    testing::TempDir dir;
    auto engine = Engine::open(dir.path(), StorageOptions{});
    REQUIRE(engine.ok());
    const size_t size = (*engine)->db()->GetOptions((*engine)->cf(Family::Documents)).write_buffer_size;
    CHECK(size >= 48u << 20);
    CHECK(size < 80u << 20);
    sizes.insert(size);
  }
  // Four draws from 32 Mi values: equal ones are all but impossible.
  CHECK(sizes.size() > 1);
}

TEST_CASE("DocumentsStorage: server-owned metadata is carried over a client's put and changed only by its module") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "users/1", user("a"));
  PutResult touched;
  REQUIRE(s->write([&](WriteTransaction& txn) -> Status {
             auto r = txn.update_document_metadata("users/1", [](boost::json::object& m, uint32_t& flags) {
               m["@counters"] = boost::json::array{"likes"};
               flags |= kHasCounters;
               return Status::Ok();
             });
             if (!r.ok()) return r.status();
             touched = r.value();
             return Status::Ok();
           }).ok());
  CHECK(touched.etag == 2);
  CHECK(touched.flags == kHasCounters);
  // The client sends stale or forged server metadata; the stored one wins.
  auto forged = boost::json::parse(
                    R"({"name":"b","@metadata":{"@collection":"Users","@counters":["forged"],"@attachments":[]}})")
                    .as_object();
  auto r = put(*s, "users/1", forged);
  CHECK(r.flags == kHasCounters);
  auto doc = s->get("users/1");
  REQUIRE(doc.ok());
  auto m = boost::json::parse(doc->json).as_object()["@metadata"].as_object();
  CHECK(m["@counters"] == boost::json::array{"likes"});
  CHECK_FALSE(m.contains("@attachments"));
  CHECK(m["@flags"] == "HasCounters");
  CHECK(boost::json::parse(doc->json).as_object()["name"] == "b");

  Status missing = s->write([&](WriteTransaction& txn) -> Status {
    return txn.update_document_metadata("users/none", [](boost::json::object&, uint32_t&) { return Status::Ok(); })
        .status();
  });
  CHECK(missing.is_not_found());
}
