#include "storage/document_snapshot.h"

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

void put(DocumentsStorage& s, const std::string& id, const char* collection, int n) {
  std::string json = "{\"n\":" + std::to_string(n) + ",\"@metadata\":{\"@collection\":\"" + collection + "\"}}";
  Status st = s.write([&](WriteTransaction& txn) -> Status {
    return txn.put(id, boost::json::parse(json).as_object(), std::nullopt).status();
  });
  REQUIRE_MESSAGE(st.ok(), st.to_string());
}

void del(DocumentsStorage& s, const std::string& id) {
  Status st = s.write([&](WriteTransaction& txn) -> Status { return txn.remove(id, std::nullopt).status(); });
  REQUIRE_MESSAGE(st.ok(), st.to_string());
}

std::vector<std::string> ids_of(DocumentSnapshot::Cursor& cursor) {
  std::vector<std::string> ids;
  for (;;) {
    auto d = cursor.next();
    REQUIRE(d.ok());
    if (!d.value()) return ids;
    ids.push_back(d.value()->id);
  }
}

}  // namespace

TEST_CASE("DocumentSnapshot: scans a collection and everything in etag order, from one point in time") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "users/1", "Users", 1);
  put(*s, "orders/1", "Orders", 2);
  put(*s, "users/2", "Users", 3);
  put(*s, "Users/1", "Users", 4);  // an update moves users/1 after users/2
  del(*s, "orders/1");

  DocumentSnapshot snap(*s);
  CHECK(ids_of(*snap.scan_collection("users")) == std::vector<std::string>{"users/2", "Users/1"});
  CHECK(ids_of(*snap.scan_collection("Orders")).empty());
  CHECK(ids_of(*snap.scan_all()) == std::vector<std::string>{"users/2", "Users/1"});
  auto last = snap.last_etag();
  REQUIRE(last.ok());
  CHECK(ids_of(*snap.scan_all(last.value())).empty());

  // Later writes are not in the snapshot.
  put(*s, "users/3", "Users", 5);
  del(*s, "users/2");
  CHECK(ids_of(*snap.scan_collection("Users")) == std::vector<std::string>{"users/2", "Users/1"});
  auto gone = snap.get("USERS/2");
  REQUIRE(gone.ok());
  REQUIRE(gone.value());
  CHECK(gone.value()->id == "users/2");
  auto absent = snap.get("users/3");
  REQUIRE(absent.ok());
  CHECK(!absent.value());

  DocumentSnapshot later(*s);
  CHECK(ids_of(*later.scan_collection("Users", 0)) == std::vector<std::string>{"Users/1", "users/3"});
  auto newer = later.last_etag();
  REQUIRE(newer.ok());
  CHECK(newer.value() > last.value());
}

TEST_CASE("DocumentSnapshot: every document newest first, and by id prefix in id order") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "users/1", "Users", 1);
  put(*s, "orders/1", "Orders", 2);
  put(*s, "users/10", "Users", 3);
  put(*s, "users/2", "Users", 4);
  put(*s, "usersx", "Users", 5);
  put(*s, "Users/1", "Users", 6);  // an update: now the newest
  del(*s, "orders/1");             // a tombstone is not a document

  DocumentSnapshot snap(*s);
  CHECK(ids_of(*snap.scan_all_descending()) ==
        std::vector<std::string>{"Users/1", "usersx", "users/2", "users/10"});

  // Case-insensitive prefix, lowered-id (byte) order.
  CHECK(ids_of(*snap.scan_id_prefix("USERS/")) == std::vector<std::string>{"Users/1", "users/10", "users/2"});
  CHECK(ids_of(*snap.scan_id_prefix("users")) ==
        std::vector<std::string>{"Users/1", "users/10", "users/2", "usersx"});
  CHECK(ids_of(*snap.scan_id_prefix("")) == std::vector<std::string>{"Users/1", "users/10", "users/2", "usersx"});
  CHECK(ids_of(*snap.scan_id_prefix("orders/")).empty());
  CHECK(ids_of(*snap.scan_id_prefix("zzz")).empty());
  // start_after: strictly after that id, which need not exist.
  CHECK(ids_of(*snap.scan_id_prefix("users/", "users/1")) == std::vector<std::string>{"users/10", "users/2"});
  CHECK(ids_of(*snap.scan_id_prefix("users/", "USERS/10")) == std::vector<std::string>{"users/2"});
  CHECK(ids_of(*snap.scan_id_prefix("users/", "users/15")) == std::vector<std::string>{"users/2"});
  CHECK(ids_of(*snap.scan_id_prefix("users/", "users/9")).empty());
  CHECK(ids_of(*snap.scan_id_prefix("users/", "a")) == std::vector<std::string>{"Users/1", "users/10", "users/2"});

  // Later writes are not in the snapshot; an empty database has nothing.
  put(*s, "users/3", "Users", 7);
  CHECK(ids_of(*snap.scan_all_descending()).size() == 4);
  CHECK(ids_of(*snap.scan_id_prefix("users/")).size() == 3);
  testing::TempDir empty_dir;
  auto empty = open_at(empty_dir.path());
  DocumentSnapshot none(*empty);
  CHECK(ids_of(*none.scan_all_descending()).empty());
  CHECK(ids_of(*none.scan_id_prefix("")).empty());
}

TEST_CASE("DocumentSnapshot: counts documents per collection, by the collection's own spelling") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "users/1", "Users", 1);
  put(*s, "users/2", "Users", 2);
  put(*s, "orders/1", "Orders", 3);
  put(*s, "orders/2", "Orders", 4);
  del(*s, "orders/2");
  DocumentSnapshot snap(*s);
  auto counts = snap.collection_counts();
  REQUIRE(counts.ok());
  CHECK(counts.value() == std::map<std::string, uint64_t>{{"Orders", 1}, {"Users", 2}});
}

TEST_CASE("DocumentSnapshot: get_many reads several documents at the snapshot's point in time") {
  testing::TempDir dir;
  auto s = open_at(dir.path());
  put(*s, "users/1", "Users", 1);
  put(*s, "users/2", "Users", 2);
  DocumentSnapshot snap(*s);
  del(*s, "users/1");
  auto docs = snap.get_many({"users/2", "users/9", "users/1"});
  REQUIRE(docs.ok());
  REQUIRE(docs.value().size() == 3);
  REQUIRE(docs.value()[0]);
  CHECK(docs.value()[0]->id == "users/2");
  CHECK(!docs.value()[1]);
  REQUIRE(docs.value()[2]);  // deleted after the snapshot: still there in it
  CHECK(docs.value()[2]->id == "users/1");
}
