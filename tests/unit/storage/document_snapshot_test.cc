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
