#include "storage/counter_value.h"

#include <limits>

#include <doctest/doctest.h>

using namespace corvus;
using namespace corvus::storage;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

int64_t total(const CounterValue& v) {
  auto t = v.total();
  REQUIRE(t.ok());
  return t.value();
}

CounterValue merged(CounterValue a, const CounterValue& b) {
  a.merge(b);
  return a;
}

}  // namespace

TEST_CASE("CounterValue: increments and decrements sum per node") {
  CounterValue v("likes");
  CHECK_FALSE(v.exists());
  REQUIRE(v.increment("db-a", "A", 1, 5).ok());
  REQUIRE(v.increment("db-a", "A", 2, -2).ok());
  REQUIRE(v.increment("db-b", "B", 7, 10).ok());
  CHECK(v.exists());
  CHECK(total(v) == 13);
  REQUIRE(v.entries().size() == 2);
  CHECK(v.entries()[0].positive == 5);
  CHECK(v.entries()[0].negative == 2);
  CHECK(v.entries()[0].etag == 2);
  SUBCASE("an increment of zero creates the counter at zero") {
    CounterValue z("z");
    REQUIRE(z.increment("db-a", "A", 1, 0).ok());
    CHECK(z.exists());
    CHECK(total(z) == 0);
  }
}

TEST_CASE("CounterValue: merge keeps concurrent changes of every node and is idempotent") {
  CounterValue base("likes");
  REQUIRE(base.increment("db-a", "A", 1, 10).ok());
  // Two nodes start from the same state and change it concurrently.
  CounterValue on_a = base, on_b = base;
  REQUIRE(on_a.increment("db-a", "A", 2, 3).ok());
  REQUIRE(on_a.increment("db-a", "A", 3, -1).ok());
  REQUIRE(on_b.increment("db-b", "B", 1, -4).ok());
  REQUIRE(on_b.increment("db-b", "B", 2, 7).ok());

  const CounterValue ab = merged(on_a, on_b);
  const CounterValue ba = merged(on_b, on_a);
  CHECK(ab == ba);                      // commutative
  CHECK(total(ab) == 10 + 3 - 1 - 4 + 7);  // nothing lost
  CHECK(merged(ab, on_a) == ab);        // idempotent: re-delivery changes nothing
  CHECK(merged(ab, ab) == ab);
  CHECK(merged(merged(base, on_a), on_b) == merged(base, merged(on_a, on_b)));  // associative
  // An old copy arriving late does not undo newer totals.
  CHECK(merged(ab, base) == ab);
}

TEST_CASE("CounterValue: a delete is a tombstone; concurrent increments survive, old values do not return") {
  CounterValue base("likes");
  REQUIRE(base.increment("db-a", "A", 1, 10).ok());
  REQUIRE(base.increment("db-b", "B", 1, 5).ok());
  CounterValue on_a = base, on_b = base;

  on_a.remove("db-a", "A", 2);
  CHECK_FALSE(on_a.exists());
  CHECK(total(on_a) == 0);
  REQUIRE(on_a.entries().size() == 2);  // the tombstone keeps the entries

  SUBCASE("without a concurrent change, the merged counter stays deleted") {
    CHECK_FALSE(merged(on_b, on_a).exists());
    CHECK_FALSE(merged(on_a, on_b).exists());
  }
  SUBCASE("an increment the deleting node did not see survives, alone") {
    REQUIRE(on_b.increment("db-b", "B", 2, 3).ok());
    const CounterValue m = merged(on_a, on_b);
    CHECK(m == merged(on_b, on_a));
    CHECK(m.exists());
    CHECK(total(m) == 3);  // not 18: what the delete saw stays deleted
  }
  SUBCASE("incrementing after a delete starts from zero") {
    REQUIRE(on_a.increment("db-a", "A", 3, 2).ok());
    CHECK(on_a.exists());
    CHECK(total(on_a) == 2);
    CHECK(total(merged(on_a, base)) == 2);
  }
  SUBCASE("both nodes delete concurrently") {
    on_b.remove("db-b", "B", 2);
    CHECK_FALSE(merged(on_a, on_b).exists());
  }
}

TEST_CASE("CounterValue: overflow is an error that changes nothing, never a wrap") {
  CounterValue v("big");
  REQUIRE(v.increment("db-a", "A", 1, kMax).ok());
  const CounterValue before = v;
  Status s = v.increment("db-a", "A", 2, 1);
  CHECK(s.is_invalid_argument());
  CHECK(s.message().find("Overflow") != std::string::npos);
  CHECK(v == before);
  // Another node pushing the sum past int64 is refused as well.
  CHECK(v.increment("db-b", "B", 1, 1).is_invalid_argument());
  CHECK(v == before);
  // Going down is fine, and the minimum is reachable.
  CounterValue low("low");
  REQUIRE(low.increment("db-a", "A", 1, kMin).ok());
  CHECK(total(low) == kMin);
  CHECK(low.increment("db-a", "A", 2, -1).is_invalid_argument());
  REQUIRE(low.increment("db-a", "A", 3, kMax).ok());
  CHECK(total(low) == -1);
  SUBCASE("a node's own totals past uint64") {
    CounterValue t("t");
    // +max, -max repeatedly: the value stays small while the positive total grows.
    Status last;
    for (int i = 0; i < 4 && last.ok(); ++i) {
      last = t.increment("db-a", "A", 1, kMax);
      if (last.ok()) last = t.increment("db-a", "A", 2, -kMax);
    }
    CHECK(last.is_invalid_argument());
    CHECK(t.exists());
  }
  SUBCASE("a merged value past int64 reads saturated") {
    CounterValue a("m"), b("m");
    REQUIRE(a.increment("db-a", "A", 1, kMax).ok());
    REQUIRE(b.increment("db-b", "B", 1, kMax).ok());
    a.merge(b);
    CHECK(a.total().status().is_invalid_argument());
    CHECK(a.saturated_total() == kMax);
  }
}

TEST_CASE("CounterValue: encode/decode round trip; malformed bytes are corruption") {
  CounterValue v("Likes");
  REQUIRE(v.increment("db-a", "A", 4, 7).ok());
  REQUIRE(v.increment("db-b", "B", 9, -3).ok());
  v.remove("db-a", "A", 11);
  REQUIRE(v.increment("db-b", "B", 12, 2).ok());
  const std::string bytes = v.encode();
  auto back = CounterValue::decode(bytes);
  REQUIRE(back.ok());
  CHECK(back.value() == v);
  CHECK(back->name() == "Likes");
  for (size_t cut : {size_t{0}, size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    CHECK(CounterValue::decode(std::string_view(bytes).substr(0, cut)).status().code() == StatusCode::Corruption);
  }
  CHECK(CounterValue::decode(bytes + "x").status().code() == StatusCode::Corruption);
  std::string bad_version = bytes;
  bad_version[0] = 9;
  CHECK(CounterValue::decode(bad_version).status().code() == StatusCode::Corruption);
}
