#include "storage/revisions_storage.h"

#include <atomic>
#include <future>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "storage/documents_storage.h"
#include "tests/support/temp_dir.h"

using namespace corvus;
using namespace corvus::storage;

namespace {

constexpr int64_t kSecond = 1'000'000;

class ManualClock final : public Clock {
 public:
  int64_t now_micros() const override { return now.load(); }
  std::atomic<int64_t> now{1'700'000'000'000'000};
};

struct Db {
  testing::TempDir dir;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::unique_ptr<DocumentsStorage> s;

  explicit Db(size_t max_transactions_per_batch = StorageOptions{}.max_transactions_per_batch) {
    StorageOptions opts;
    opts.clock = clock;
    opts.max_transactions_per_batch = max_transactions_per_batch;
    auto opened = DocumentsStorage::open(dir.path(), opts);
    REQUIRE(opened.ok());
    s = std::move(opened).value();
  }

  void configure(const char* json) {
    auto c = RevisionsConfiguration::from_json(boost::json::parse(json));
    REQUIRE_MESSAGE(c.ok(), c.status().to_string());
    s->set_revisions_configuration(std::make_shared<const RevisionsConfiguration>(std::move(c).value()));
  }

  PutResult put(const std::string& id, const std::string& name, const char* collection = "Users") {
    PutResult result;
    auto body = boost::json::parse("{\"name\":\"" + name + "\",\"@metadata\":{\"@collection\":\"" + collection + "\"}}")
                    .as_object();
    Status st = s->write([&](WriteTransaction& txn) -> Status {
      auto r = txn.put(id, body, std::nullopt);
      if (!r.ok()) return r.status();
      result = std::move(r).value();
      return Status::Ok();
    });
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    return result;
  }

  void remove(const std::string& id) {
    Status st = s->write([&](WriteTransaction& txn) { return txn.remove(id, std::nullopt).status(); });
    REQUIRE_MESSAGE(st.ok(), st.to_string());
  }

  std::vector<Document> revisions(const std::string& id) {
    auto page = RevisionsStorage::get_for(*s, id, 0, 1000);
    REQUIRE(page.ok());
    CHECK(page->total == page->revisions.size());
    return page->revisions;
  }

  std::string name_of(const Document& d) {
    return std::string(boost::json::parse(d.json).as_object().at("name").as_string());
  }
  std::string flags_in_json(const Document& d) {
    auto m = boost::json::parse(d.json).as_object().at("@metadata").as_object();
    auto* f = m.if_contains("@flags");
    return f ? std::string(f->as_string()) : std::string();
  }
};

}  // namespace

TEST_CASE("RevisionsConfiguration: TimeSpan text both ways") {
  CHECK(parse_timespan("00:00:10").value() == 10 * kSecond);
  CHECK(parse_timespan("7.00:00:00").value() == 7 * 86400 * kSecond);
  CHECK(parse_timespan("1.02:03:04.5").value() == ((86400 + 2 * 3600 + 3 * 60 + 4) * kSecond + 500'000));
  CHECK(parse_timespan("3").value() == 3 * 86400 * kSecond);
  for (const char* bad : {"", "abc", "00:60:00", "24:00:00", "00:00", "00:00:10x", "1.2.3", "-"}) {
    CHECK_MESSAGE(!parse_timespan(bad).ok(), bad);
  }
  CHECK(format_timespan(10 * kSecond) == "00:00:10");
  CHECK(format_timespan(7 * 86400 * kSecond) == "7.00:00:00");
  CHECK(format_timespan(kSecond / 2) == "00:00:00.5000000");
  CHECK(parse_timespan(format_timespan(123456789012)).value() == 123456789012);
}

TEST_CASE("RevisionsConfiguration: collection entries override Default, Disabled turns off, names are case-insensitive") {
  auto c = RevisionsConfiguration::from_json(boost::json::parse(
      R"({"Default":{"MinimumRevisionsToKeep":5},"Collections":{"Users":{"Disabled":true},"Orders":{"PurgeOnDelete":true,"MinimumRevisionAgeToKeep":"00:01:00"}}})"));
  REQUIRE(c.ok());
  CHECK(c->for_collection("users") == nullptr);
  REQUIRE(c->for_collection("ORDERS") != nullptr);
  CHECK(c->for_collection("ORDERS")->purge_on_delete);
  CHECK(*c->for_collection("Orders")->minimum_revision_age_to_keep_us == 60 * kSecond);
  REQUIRE(c->for_collection("Other") != nullptr);
  CHECK(*c->for_collection("Other")->minimum_revisions_to_keep == 5);
  // Round trip through RavenDB's JSON keeps the collection name as given.
  auto again = RevisionsConfiguration::from_json(c->to_json());
  REQUIRE(again.ok());
  CHECK(again->to_json() == c->to_json());
  CHECK(c->to_json().at("Collections").as_object().contains("Orders"));

  auto none = RevisionsConfiguration::from_json(boost::json::parse(R"({"Collections":{"Users":{}}})"));
  REQUIRE(none.ok());
  CHECK(none->for_collection("Other") == nullptr);  // no Default: off
  CHECK(none->for_collection("Users") != nullptr);
}

TEST_CASE("RevisionsConfiguration: bad values are refused with the field named") {
  const char* bad[] = {
      R"([])",
      R"({"Default":5})",
      R"({"Default":{"Disabled":"no"}})",
      R"({"Default":{"MinimumRevisionsToKeep":-1}})",
      R"({"Default":{"MinimumRevisionsToKeep":1.5}})",
      R"({"Default":{"MinimumRevisionAgeToKeep":"soon"}})",
      R"({"Default":{"MinimumRevisionAgeToKeep":10}})",
      R"({"Default":{"MaximumRevisionsToDeleteUponDocumentUpdate":0}})",
      R"({"Collections":[]})",
      R"({"Collections":{"Users":{"PurgeOnDelete":1}}})",
      R"({"Collections":{"Users":{},"USERS":{}}})",
  };
  for (const char* b : bad) {
    auto c = RevisionsConfiguration::from_json(boost::json::parse(b));
    CHECK_MESSAGE(!c.ok(), b);
    if (!c.ok()) CHECK(c.status().code() == StatusCode::InvalidArgument);
  }
  auto c = RevisionsConfiguration::from_json(boost::json::parse(R"({"Collections":{"Users":{"Disabled":"x"}}})"));
  REQUIRE(!c.ok());
  CHECK(c.status().message().find("Collections['Users'].Disabled") != std::string::npos);
}

TEST_CASE("Revisions: nothing is kept without a configuration") {
  Db db;
  auto r = db.put("users/1", "a");
  db.put("users/1", "b");
  CHECK((r.flags & kHasRevisions) == 0);
  CHECK(db.revisions("users/1").empty());
  CHECK(RevisionsStorage::count_for(*db.s, "users/1").value() == 0);
}

TEST_CASE("Revisions: every write keeps a revision, newest first, each with its own etag") {
  Db db;
  db.configure(R"({"Default":{}})");
  auto r1 = db.put("users/1", "a");
  auto r2 = db.put("Users/1", "b");
  CHECK((r1.flags & kHasRevisions) != 0);
  // A document write and its revision take one etag each.
  CHECK(r2.etag == r1.etag + 2);
  CHECK(db.s->stats().last_etag == r2.etag + 1);
  auto revs = db.revisions("USERS/1");
  REQUIRE(revs.size() == 2);
  CHECK(db.name_of(revs[0]) == "b");
  CHECK(db.name_of(revs[1]) == "a");
  CHECK(revs[0].change_vector == r2.change_vector);
  CHECK(revs[0].etag == r2.etag + 1);
  CHECK((revs[0].flags & kRevision) != 0);
  CHECK(db.flags_in_json(revs[0]) == "HasRevisions, Revision");
  CHECK(db.s->get("users/1").value().flags == kHasRevisions);

  auto page = RevisionsStorage::get_for(*db.s, "users/1", 1, 5);
  REQUIRE(page.ok());
  CHECK(page->total == 2);
  REQUIRE(page->revisions.size() == 1);
  CHECK(db.name_of(page->revisions[0]) == "a");
  // Another document's revisions do not leak in (ids sharing a prefix).
  db.put("users/10", "c");
  CHECK(db.revisions("users/1").size() == 2);

  auto by_cv = RevisionsStorage::get_by_change_vectors(*db.s, {r1.change_vector, "A:999-nothing"});
  REQUIRE(by_cv.ok());
  REQUIRE(by_cv->size() == 2);
  REQUIRE(by_cv.value()[0]);
  CHECK(db.name_of(*by_cv.value()[0]) == "a");
  CHECK(!by_cv.value()[1]);
}

TEST_CASE("Revisions: an id that starts with another id and a 0 byte keeps its revisions apart") {
  Db db;
  db.configure(R"({"Default":{"MinimumRevisionsToKeep":1,"PurgeOnDelete":true}})");
  const std::string other("a\0zzzzzzz", 9);  // "a", a 0 byte, 7 more: sorts among the keys of "a"
  db.put("a", "1");
  db.put(other, "x");
  db.put(other, "y");
  db.put("a", "2");  // prunes "a" to one revision, none of `other`'s
  CHECK(db.revisions("a").size() == 1);
  CHECK(db.revisions(other).size() == 1);
  CHECK(RevisionsStorage::count_for(*db.s, "a").value() == 1);
  db.remove("a");  // purges "a" only
  CHECK(db.revisions("a").empty());
  REQUIRE(db.revisions(other).size() == 1);
  CHECK(db.name_of(db.revisions(other)[0]) == "y");
}

TEST_CASE("Revisions: a collection's entry overrides Default") {
  Db db;
  db.configure(R"({"Default":{},"Collections":{"Users":{"Disabled":true}}})");
  auto u = db.put("users/1", "a", "Users");
  auto o = db.put("orders/1", "a", "Orders");
  CHECK((u.flags & kHasRevisions) == 0);
  CHECK((o.flags & kHasRevisions) != 0);
  CHECK(db.revisions("users/1").empty());
  CHECK(db.revisions("orders/1").size() == 1);
  // Turned off later: writes stop keeping revisions; the flag stays.
  db.s->set_revisions_configuration(nullptr);
  auto o2 = db.put("orders/1", "b", "Orders");
  CHECK((o2.flags & kHasRevisions) != 0);
  CHECK(db.revisions("orders/1").size() == 1);
}

TEST_CASE("Revisions: pruned by count, oldest first") {
  Db db;
  db.configure(R"({"Default":{"MinimumRevisionsToKeep":2}})");
  for (const char* n : {"a", "b", "c", "d", "e"}) db.put("users/1", n);
  auto revs = db.revisions("users/1");
  REQUIRE(revs.size() == 2);
  CHECK(db.s->read_count(meta_keys::kRevisionCount).value() == 2);
  CHECK(db.name_of(revs[0]) == "e");
  CHECK(db.name_of(revs[1]) == "d");
  // The pruned ones are gone from the change vector index too.
  auto gone = RevisionsStorage::get_by_change_vectors(*db.s, {"A:1-" + db.s->database_id()});
  REQUIRE(gone.ok());
  CHECK(!gone.value()[0]);
}

TEST_CASE("Revisions: pruned by age with the injected clock, count first") {
  Db db;
  db.configure(R"({"Default":{"MinimumRevisionAgeToKeep":"00:00:10"}})");
  const int64_t t0 = db.clock->now;
  db.put("users/1", "a");
  db.clock->now = t0 + 5 * kSecond;
  db.put("users/1", "b");
  CHECK(db.revisions("users/1").size() == 2);  // both younger than 10 s
  db.clock->now = t0 + 12 * kSecond;
  db.put("users/1", "c");  // "a" is 12 s old: goes; "b" is 7 s old: stays
  auto revs = db.revisions("users/1");
  REQUIRE(revs.size() == 2);
  CHECK(db.name_of(revs[1]) == "b");

  // Count and age together: beyond the count AND older than the age.
  db.configure(R"({"Default":{"MinimumRevisionsToKeep":1,"MinimumRevisionAgeToKeep":"00:00:10"}})");
  db.clock->now = t0 + 13 * kSecond;
  db.put("users/1", "d");
  CHECK(db.revisions("users/1").size() == 3);  // b (8 s), c, d: all young
  db.clock->now = t0 + 60 * kSecond;
  db.put("users/1", "e");
  revs = db.revisions("users/1");
  REQUIRE(revs.size() == 1);
  CHECK(db.name_of(revs[0]) == "e");
}

TEST_CASE("Revisions: MaximumRevisionsToDeleteUponDocumentUpdate bounds one write's pruning") {
  Db db;
  db.configure(R"({"Default":{}})");
  for (const char* n : {"a", "b", "c", "d", "e"}) db.put("users/1", n);
  db.configure(R"({"Default":{"MinimumRevisionsToKeep":1,"MaximumRevisionsToDeleteUponDocumentUpdate":2}})");
  db.put("users/1", "f");  // 6 revisions, 5 due, 2 go
  CHECK(db.revisions("users/1").size() == 4);
  db.put("users/1", "g");  // 5 revisions, 4 due, 2 go
  CHECK(db.revisions("users/1").size() == 3);
  CHECK(db.name_of(db.revisions("users/1").back()) == "e");
}

TEST_CASE("Revisions: a delete keeps a delete revision and the document shows in the bin until re-created") {
  Db db;
  db.configure(R"({"Default":{}})");
  db.put("users/1", "a");
  db.put("users/2", "x");
  db.remove("users/1");
  auto revs = db.revisions("users/1");
  REQUIRE(revs.size() == 2);
  CHECK((revs[0].flags & kDeleteRevision) != 0);
  CHECK(db.flags_in_json(revs[0]) == "HasRevisions, DeleteRevision");
  auto tomb_cv = revs[0].change_vector;
  auto bin = RevisionsStorage::bin(*db.s, 0, 10);
  REQUIRE(bin.ok());
  REQUIRE(bin->size() == 1);
  CHECK(bin.value()[0].id == "users/1");
  CHECK(bin.value()[0].change_vector == tomb_cv);
  CHECK(RevisionsStorage::bin(*db.s, 1, 10).value().empty());

  db.put("users/1", "b");
  CHECK(RevisionsStorage::bin(*db.s, 0, 10).value().empty());
  CHECK(db.revisions("users/1").size() == 3);
}

TEST_CASE("Revisions: PurgeOnDelete removes all of a document's revisions") {
  Db db;
  db.configure(R"({"Default":{"PurgeOnDelete":true}})");
  auto r = db.put("users/1", "a");
  db.put("users/1", "b");
  db.put("users/2", "x");
  CHECK(db.s->read_count(meta_keys::kRevisionCount).value() == 3);
  db.remove("users/1");
  CHECK(db.revisions("users/1").empty());
  CHECK(db.revisions("users/2").size() == 1);
  CHECK(db.s->read_count(meta_keys::kRevisionCount).value() == 1);
  CHECK(RevisionsStorage::bin(*db.s, 0, 10).value().empty());
  CHECK(!RevisionsStorage::get_by_change_vectors(*db.s, {r.change_vector}).value()[0]);
}

TEST_CASE("Revisions: a revision from elsewhere keeps its change vector, flags and time") {
  Db db;
  Document rev;
  rev.id = "users/1";
  rev.collection = "Users";
  rev.change_vector = "B:7-otherdb";
  rev.last_modified_us = 1'600'000'000'000'000;
  rev.flags = kConflicted;
  rev.json = R"({"name":"loser","@metadata":{"@collection":"Users"}})";
  const uint64_t before = db.s->stats().last_etag;
  bool stored = false;
  Status st = db.s->write([&](WriteTransaction& txn) -> Status {
    auto r = RevisionsStorage::put_external(txn, rev);
    if (!r.ok()) return r.status();
    stored = r.value();
    return Status::Ok();
  });
  REQUIRE(st.ok());
  CHECK(stored);
  CHECK(db.s->stats().last_etag == before + 1);
  auto got = RevisionsStorage::get_by_change_vectors(*db.s, {"B:7-otherdb"});
  REQUIRE(got.ok());
  REQUIRE(got.value()[0]);
  const Document& d = *got.value()[0];
  CHECK(d.flags == (kConflicted | kRevision));
  CHECK(d.last_modified_us == 1'600'000'000'000'000);
  CHECK(db.name_of(d) == "loser");
  CHECK(db.flags_in_json(d) == "Conflicted, Revision");
  auto md = boost::json::parse(d.json).as_object().at("@metadata").as_object();
  CHECK(md.at("@change-vector").as_string() == "B:7-otherdb");
  CHECK(md.at("@last-modified").as_string() == format_iso8601(1'600'000'000'000'000));
  // The same version again is not a second revision; a bad one is refused.
  // (Results are checked here, not on the writer thread.)
  Result<bool> again = false;
  Status no_cv_status;
  st = db.s->write([&](WriteTransaction& txn) -> Status {
    again = RevisionsStorage::put_external(txn, rev);
    Document no_cv = rev;
    no_cv.change_vector.clear();
    no_cv_status = RevisionsStorage::put_external(txn, no_cv).status();
    return Status::Ok();
  });
  CHECK(st.ok());
  REQUIRE(again.ok());
  CHECK(!again.value());
  CHECK(no_cv_status.code() == StatusCode::InvalidArgument);
  CHECK(db.revisions("users/1").size() == 1);
  CHECK(db.s->stats().last_etag == before + 1);
}

TEST_CASE("Revisions: forced creation works without a configuration and only once per version") {
  Db db;
  auto r = db.put("users/1", "a");
  ForcedRevision forced;
  auto force = [&]() {
    return db.s->write([&](WriteTransaction& txn) -> Status {
      auto f = RevisionsStorage::force_create(txn, "users/1");
      if (!f.ok()) return f.status();
      forced = std::move(f).value();
      return Status::Ok();
    });
  };
  REQUIRE(force().ok());
  CHECK(forced.created);
  // The document gains HasRevisions as a new version; the revision is of that version.
  CHECK((forced.document.flags & kHasRevisions) != 0);
  CHECK(forced.document.change_vector != r.change_vector);
  CHECK(forced.revision.change_vector == forced.document.change_vector);
  CHECK(db.s->get("users/1").value().change_vector == forced.document.change_vector);
  REQUIRE(force().ok());
  CHECK(!forced.created);
  CHECK(db.revisions("users/1").size() == 1);
  Status missing = db.s->write([&](WriteTransaction& txn) { return RevisionsStorage::force_create(txn, "nope").status(); });
  CHECK(missing.is_not_found());
}

TEST_CASE("Revisions: the revision as of a date") {
  Db db;
  db.configure(R"({"Default":{}})");
  const int64_t t0 = db.clock->now;
  db.put("users/1", "a");
  db.clock->now = t0 + 10 * kSecond;
  db.put("users/1", "b");
  auto at = [&](int64_t t) { return RevisionsStorage::get_before(*db.s, "users/1", t).value(); };
  CHECK(!at(t0 - 1));
  CHECK(db.name_of(*at(t0)) == "a");
  CHECK(db.name_of(*at(t0 + 9 * kSecond)) == "a");
  CHECK(db.name_of(*at(t0 + 10 * kSecond)) == "b");
}

TEST_CASE("Revisions: a failed transaction keeps no revision") {
  Db db;
  db.configure(R"({"Default":{}})");
  db.put("users/1", "a");
  const uint64_t etag = db.s->stats().last_etag;
  Status st = db.s->write([&](WriteTransaction& txn) -> Status {
    auto body = boost::json::parse(R"({"name":"b","@metadata":{"@collection":"Users"}})").as_object();
    auto r = txn.put("users/1", body, std::nullopt);
    if (!r.ok()) return r.status();
    return Status::InvalidArgument("changed my mind");
  });
  CHECK(st.code() == StatusCode::InvalidArgument);
  CHECK(db.revisions("users/1").size() == 1);
  CHECK(db.s->read_count(meta_keys::kRevisionCount).value() == 1);
  CHECK(db.s->stats().last_etag == etag);
}

TEST_CASE("Revisions: survive reopening") {
  testing::TempDir dir;
  std::string cv;
  {
    StorageOptions opts;
    auto s = DocumentsStorage::open(dir.path(), opts);
    REQUIRE(s.ok());
    auto c = RevisionsConfiguration::from_json(boost::json::parse(R"({"Default":{}})"));
    (*s)->set_revisions_configuration(std::make_shared<const RevisionsConfiguration>(std::move(c).value()));
    Status st = (*s)->write([&](WriteTransaction& txn) -> Status {
      auto r = txn.put("users/1", boost::json::parse(R"({"@metadata":{"@collection":"Users"}})").as_object(), std::nullopt);
      if (!r.ok()) return r.status();
      cv = r->change_vector;
      return Status::Ok();
    });
    REQUIRE(st.ok());
  }
  auto s = DocumentsStorage::open(dir.path(), StorageOptions{});
  REQUIRE(s.ok());
  CHECK(RevisionsStorage::count_for(**s, "users/1").value() == 1);
  CHECK(RevisionsStorage::get_by_change_vectors(**s, {cv}).value()[0].has_value());
}

TEST_CASE("Revisions: many queued writes to one document prune exactly, across merged and in-flight batches") {
  // The merger merges waiting transactions into one batch and runs batch N+1
  // while batch N syncs: pruning must see the revisions of both through the
  // transaction's iterator, or it would keep too many or count wrong.
  Db db(/*max_transactions_per_batch=*/4);  // many small batches: pipelined ones
  db.configure(R"({"Default":{"MinimumRevisionsToKeep":3}})");
  constexpr int kWrites = 300;
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  std::promise<void> all;
  for (int i = 0; i < kWrites; ++i) {
    db.s->submit(
        [i](WriteTransaction& txn) -> Status {
          auto body = boost::json::parse("{\"n\":" + std::to_string(i) + ",\"@metadata\":{\"@collection\":\"Users\"}}")
                          .as_object();
          return txn.put("users/1", body, std::nullopt).status();
        },
        [&](Status st) {
          if (!st.ok()) ++failed;
          if (++done == kWrites) all.set_value();
        });
  }
  all.get_future().wait();
  CHECK(failed == 0);
  auto revs = db.revisions("users/1");
  REQUIRE(revs.size() == 3);
  const auto n = [](const Document& d) { return boost::json::parse(d.json).as_object().at("n").as_int64(); };
  CHECK(n(revs[0]) == kWrites - 1);
  CHECK(n(revs[2]) == kWrites - 3);
  CHECK(db.s->read_count(meta_keys::kRevisionCount).value() == 3);
}
