#include "storage/batch_documents.h"

#include <doctest/doctest.h>
#include <rocksdb/write_batch.h>

using corvus::storage::BatchDocuments;
using Lookup = BatchDocuments::Lookup;

namespace {

// A real WriteBatch, as the transaction merger's batches hold: the map must
// find each value where RocksDB put it.
struct Fixture {
  rocksdb::WriteBatch batch;
  BatchDocuments docs;
  void put(const std::string& key, const std::string& value) {
    REQUIRE(batch.Put(key, value).ok());
    docs.put(key, value, batch.Data());
  }
  void erase(const std::string& key) {
    REQUIRE(batch.Delete(key).ok());
    docs.erase(key);
  }
  Lookup find(const std::string& key, std::string* value) { return docs.find(key, batch.Data(), value); }
};

}  // namespace

TEST_CASE("BatchDocuments: the newest version of each key, read from the batch's own buffer") {
  Fixture f;
  std::string v;
  CHECK(f.find("users/1", &v) == Lookup::Absent);
  f.put("users/1", std::string(2000, 'a'));  // grows the buffer: offsets, not pointers, must be kept
  f.put("users/2", "{\"b\":2}");
  f.put("users/1", "{\"a\":3}");
  REQUIRE(f.find("users/1", &v) == Lookup::Found);
  CHECK(v == "{\"a\":3}");
  REQUIRE(f.find("users/2", &v) == Lookup::Found);
  CHECK(v == "{\"b\":2}");
  f.erase("users/2");
  CHECK(f.find("users/2", &v) == Lookup::Deleted);
  f.put("users/2", "");
  REQUIRE(f.find("users/2", &v) == Lookup::Found);
  CHECK(v.empty());
}

TEST_CASE("BatchDocuments: a rollback forgets the rolled-back transaction's writes, and only those") {
  Fixture f;
  std::string v;
  f.docs.set_save_point();
  f.put("a", "1");
  f.docs.pop_save_point();  // committed

  f.docs.set_save_point();
  f.batch.SetSavePoint();
  f.put("a", "2");
  f.put("b", "x");
  f.erase("a");
  REQUIRE(f.batch.RollbackToSavePoint().ok());
  f.docs.rollback_to_save_point();
  REQUIRE(f.find("a", &v) == Lookup::Found);
  CHECK(v == "1");
  CHECK(f.find("b", &v) == Lookup::Absent);

  // A later write after the rollback lands where the rolled-back ones were.
  f.docs.set_save_point();
  f.put("c", "3");
  f.docs.pop_save_point();
  REQUIRE(f.find("c", &v) == Lookup::Found);
  CHECK(v == "3");
  REQUIRE(f.find("a", &v) == Lookup::Found);
  CHECK(v == "1");
}
