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

TEST_CASE("ChangeVector: one canonical text whatever the order it was built in") {
  auto a = ChangeVector::parse("C:1-z, A:5-x, B:3-y").value();
  auto b = ChangeVector::parse("B:3-y, C:1-z, A:5-x").value();
  CHECK(a.to_string() == "A:5-x, B:3-y, C:1-z");
  CHECK(a.to_string() == b.to_string());
  ChangeVector built;
  built.set("B", 3, "y");
  built.set("C", 1, "z");
  built.set("A", 5, "x");
  CHECK(built.to_string() == a.to_string());
  SUBCASE("the same tag orders by database id") {
    auto c = ChangeVector::parse("A:1-q, A:2-p").value();
    CHECK(c.to_string() == "A:2-p, A:1-q");
  }
  SUBCASE("merging keeps the order") {
    auto m = ChangeVector::parse("C:9-z").value();
    m.merge(ChangeVector::parse("B:1-y, A:1-x").value());
    CHECK(m.to_string() == "A:1-x, B:1-y, C:9-z");
  }
  SUBCASE("a database id whose tag changes moves to its new place") {
    auto t = ChangeVector::parse("A:1-x, B:1-y").value();
    t.set("C", 2, "x");
    CHECK(t.to_string() == "B:1-y, C:2-x");
  }
}
