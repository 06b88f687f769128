#include "storage/change_vector.h"

#include <doctest/doctest.h>

using corvus::storage::ChangeVector;
using corvus::storage::ChangeVectorOrder;

TEST_CASE("ChangeVector: parse and format round trip") {
  auto cv = ChangeVector::parse("A:17-dbA, B:5-dbB");
  REQUIRE(cv.ok());
  CHECK(cv->entries().size() == 2);
  CHECK(cv->to_string() == "A:17-dbA, B:5-dbB");
  CHECK(ChangeVector::parse("")->empty());
  SUBCASE("ids may contain dashes after the first") {
    auto c = ChangeVector::parse("AB:3-x-y");
    REQUIRE(c.ok());
    CHECK(c->entries()[0].database_id == "x-y");
  }
}

TEST_CASE("ChangeVector: invalid input names the entry") {
  for (const char* bad : {"A17-db", "A:x-db", "A:17", ":1-db", "A:17-", "A:-1-db", "A B:1-db"}) {
    auto cv = ChangeVector::parse(bad);
    CHECK_FALSE(cv.ok());
    CHECK(cv.status().is_invalid_argument());
  }
}

TEST_CASE("ChangeVector: compare and merge") {
  auto a = ChangeVector::parse("A:5-x, B:3-y").value();
  auto b = ChangeVector::parse("A:5-x, B:4-y").value();
  auto c = ChangeVector::parse("A:6-x, B:2-y").value();
  CHECK(a.compare(a) == ChangeVectorOrder::Equal);
  CHECK(b.compare(a) == ChangeVectorOrder::Newer);
  CHECK(a.compare(b) == ChangeVectorOrder::Older);
  CHECK(b.compare(c) == ChangeVectorOrder::Concurrent);
  b.merge(c);
  CHECK(b.to_string() == "A:6-x, B:4-y");
  CHECK(b.compare(c) == ChangeVectorOrder::Newer);
  auto d = ChangeVector::parse("C:1-z").value();
  CHECK(d.compare(a) == ChangeVectorOrder::Concurrent);
}
