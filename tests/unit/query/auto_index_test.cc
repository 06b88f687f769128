#include "query/auto_index.h"

#include <algorithm>
#include <limits>
#include <memory>

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include "tests/unit/query/index_test_support.h"

using namespace corvus;
using namespace corvus::query;
using namespace corvus::query::testing_support;

namespace {

FieldPath path(std::string text) {
  FieldPath p;
  p.text = text;
  std::string segment;
  for (char c : text + ".") {
    if (c != '.') {
      segment.push_back(c);
      continue;
    }
    bool each = segment.size() > 2 && segment.ends_with("[]");
    if (each) segment.resize(segment.size() - 2);
    p.segments.push_back({segment, each});
    segment.clear();
  }
  return p;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Indexes everything in `s` into `index` the way the indexing thread does.
void catch_up(storage::DocumentsStorage& s, AutoIndex& index) {
  auto changes = s.changes_since(index.last_indexed_etag(), 100000);
  REQUIRE(changes.ok());
  Status st = index.index(changes.value(), s.published().last_etag, 1);
  REQUIRE_MESSAGE(st.ok(), st.to_string());
}

// A new index in `dir` for `def`, with everything in `s` indexed.
std::unique_ptr<AutoIndex> open_caught_up(const std::string& dir, storage::DocumentsStorage& s,
                                          const AutoIndexDefinition& def) {
  auto opened = AutoIndex::open(dir, def);
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  catch_up(s, *opened.value());
  return std::move(opened).value();
}

std::vector<std::string> collect(const std::function<Status(const AutoIndex::Found&)>& lookup) {
  std::vector<std::string> ids;
  Status st = lookup([&](std::string_view id, uint64_t) {
    ids.emplace_back(id);
    return true;
  });
  REQUIRE_MESSAGE(st.ok(), st.to_string());
  return sorted(ids);
}

}  // namespace

TEST_CASE("index terms: numbers sort as numbers, strings case-insensitively, null apart") {
  std::vector<double> numbers{-1e300, -5.5, -1, -0.0, 0, 1e-9, 2, 10, 1e300, std::numeric_limits<double>::infinity()};
  for (size_t i = 1; i < numbers.size(); ++i) CHECK(encode_number(numbers[i - 1]) <= encode_number(numbers[i]));
  CHECK(encode_number(-0.0) == encode_number(0.0));
  CHECK(string_term("ABC").value == string_term("abc").value);
  CHECK(term_prefix(0, string_term("ab"), true) < term_prefix(0, string_term("abc"), true));
  Term with_zero{TermType::String, std::string("a\0b", 3)};
  std::string key = entry_key(3, with_zero, "users/1");
  CHECK(entry_document(key) == "users/1");
  CHECK(term_of(boost::json::value(true))->value == "true");
  CHECK(!term_of(boost::json::value(boost::json::array{1, 2})));
}

TEST_CASE("AutoIndex: equality, ranges and prefixes are lookups; updates and deletes replace entries") {
  testing::TempDir dir;
  auto s = open_storage(dir.path() + "/db");
  put(*s, "users/1", "Users", R"({"Name":"Ann","Age":31,"Tags":["a","b"]})");
  put(*s, "users/2", "Users", R"({"Name":"bob","Age":25.5,"Tags":["b"]})");
  put(*s, "users/3", "Users", R"({"Name":"annie","Age":-4,"Tags":[]})");
  put(*s, "orders/1", "Orders", R"({"Name":"Ann","Age":31})");  // another collection
  auto def = make_auto_index_definition("Users", {path("Name"), path("Age"), path("Tags")});
  CHECK(def.name() == "Auto/Users/ByAgeAndNameAndTags");
  auto opened = open_caught_up(dir.path() + "/index", *s, def);
  auto& index = *opened;
  const uint8_t age = static_cast<uint8_t>(def.field_number("Age"));
  const uint8_t name = static_cast<uint8_t>(def.field_number("Name"));
  const uint8_t tags = static_cast<uint8_t>(def.field_number("Tags"));

  CHECK(collect([&](auto& f) { return index.lookup_equal(name, string_term("ANN"), f); }) ==
        std::vector<std::string>{"users/1"});
  CHECK(collect([&](auto& f) { return index.lookup_equal(tags, string_term("b"), f); }) ==
        std::vector<std::string>{"users/1", "users/2"});
  CHECK(collect([&](auto& f) { return index.lookup_prefix(name, "ann", f); }) ==
        std::vector<std::string>{"users/1", "users/3"});
  auto low = AutoIndex::Bound{encode_number(0), true};
  auto high = AutoIndex::Bound{encode_number(31), false};
  CHECK(collect([&](auto& f) { return index.lookup_range(age, TermType::Number, low, high, f); }) ==
        std::vector<std::string>{"users/2"});
  CHECK(collect([&](auto& f) { return index.lookup_range(age, TermType::Number, std::nullopt, std::nullopt, f); })
            .size() == 3);

  auto terms = index.terms(name, "", 10);
  REQUIRE(terms.ok());
  CHECK(terms.value() == std::vector<std::string>{"ann", "annie", "bob"});
  auto after_ann = index.terms(name, "ann", 1);
  REQUIRE(after_ann.ok());
  CHECK(after_ann.value() == std::vector<std::string>{"annie"});
  auto ages = index.terms(age, "", 10);
  REQUIRE(ages.ok());
  CHECK(ages.value() == std::vector<std::string>{"-4", "25.5", "31"});

  // An update moves the document's entries; a delete removes them.
  put(*s, "users/1", "Users", R"({"Name":"Zoe","Age":70})");
  remove(*s, "users/2");
  catch_up(*s, index);
  CHECK(collect([&](auto& f) { return index.lookup_equal(name, string_term("ann"), f); }).empty());
  CHECK(collect([&](auto& f) { return index.lookup_equal(name, string_term("zoe"), f); }) ==
        std::vector<std::string>{"users/1"});
  CHECK(collect([&](auto& f) { return index.lookup_equal(tags, string_term("b"), f); }).empty());
  CHECK(index.documents_count() == 2);

  // Reopened, it resumes from its position with its entries.
  const uint64_t position = index.last_indexed_etag();
  CHECK(position == s->published().last_etag);
  opened.reset();
  auto again = AutoIndex::open_existing(dir.path() + "/index");
  REQUIRE(again.ok());
  CHECK(again.value()->name() == def.name());
  CHECK(again.value()->last_indexed_etag() == position);
  CHECK(collect([&](auto& f) { return again.value()->lookup_equal(name, string_term("zoe"), f); }).size() == 1);
  REQUIRE(again.value()->reset().ok());
  CHECK(again.value()->last_indexed_etag() == 0);
  CHECK(collect([&](auto& f) { return again.value()->lookup_equal(name, string_term("zoe"), f); }).empty());

  // Another definition in the same directory is refused, never misread.
  again.value().reset();
  auto other = AutoIndex::open(dir.path() + "/index", make_auto_index_definition("Users", {path("Name")}));
  CHECK(other.status().code() == StatusCode::Corruption);
}

namespace {

// The lowered ids of the sort entries of `field`, in walk order.
std::vector<std::string> walk(const AutoIndex& index, uint8_t field, bool descending) {
  std::vector<std::string> ids;
  Status st = index.walk_sort_entries(field, descending, [&](const Term&, std::string_view id, uint64_t) {
    ids.emplace_back(id);
    return true;
  });
  REQUIRE_MESSAGE(st.ok(), st.to_string());
  return ids;
}

}  // namespace

TEST_CASE("AutoIndex: one sort entry per document and field, by its first value, missing first") {
  testing::TempDir dir;
  auto s = open_storage(dir.path() + "/db");
  put(*s, "u/1", "Users", R"({"Name":"Cy","Age":[7,1]})");  // sorts by its first value
  put(*s, "u/2", "Users", R"({"Name":"ann","Age":-3.5})");
  put(*s, "u/3", "Users", R"({"Name":"Bob"})");            // no Age: a Null sort term
  put(*s, "u/4", "Users", R"({"Name":"a\u0000z","Age":null,"Tags":{"x":1}})");
  put(*s, "u/5", "Users", R"({"Name":"b","Age":"12"})");   // a string: after every number
  auto def = make_auto_index_definition("Users", {path("Name"), path("Age")});
  auto opened = open_caught_up(dir.path() + "/index", *s, def);
  auto& index = *opened;
  const uint8_t age = static_cast<uint8_t>(def.field_number("Age"));
  const uint8_t name = static_cast<uint8_t>(def.field_number("Name"));

  auto nulls_first = walk(index, age, false);
  REQUIRE(nulls_first.size() == 5);
  CHECK(sorted({nulls_first[0], nulls_first[1]}) == std::vector<std::string>{"u/3", "u/4"});
  CHECK(std::vector<std::string>(nulls_first.begin() + 2, nulls_first.end()) ==
        std::vector<std::string>{"u/2", "u/1", "u/5"});
  auto descending = walk(index, age, true);
  CHECK(std::vector<std::string>(descending.begin(), descending.begin() + 3) ==
        std::vector<std::string>{"u/5", "u/1", "u/2"});
  CHECK(walk(index, name, false) == std::vector<std::string>{"u/4", "u/2", "u/5", "u/3", "u/1"});
  CHECK(index.has_sort_entries(age, TermType::Number).value());
  CHECK(index.has_sort_entries(age, TermType::String).value());
  CHECK(!index.has_sort_entries(name, TermType::Number).value());

  // The terms come back as indexed: u/1 by 7, not 1.
  std::vector<Term> terms;
  REQUIRE(index
              .walk_sort_entries(age, false,
                                 [&](const Term& t, std::string_view, uint64_t) {
                                   terms.push_back(t);
                                   return true;
                                 })
              .ok());
  CHECK(terms[3].value == encode_number(7));
  CHECK(terms[4].value == "12");

  // An update moves the entry, a delete removes it, and the count follows.
  CHECK(index.documents_count() == 5);
  put(*s, "u/1", "Users", R"({"Name":"Cy","Age":-10})");
  remove(*s, "u/5");
  catch_up(*s, index);
  CHECK(index.documents_count() == 4);
  auto after = walk(index, age, false);
  CHECK(std::vector<std::string>(after.begin() + 2, after.end()) == std::vector<std::string>{"u/1", "u/2"});
  CHECK(!index.has_sort_entries(age, TermType::String).value());
}

TEST_CASE("AutoIndex: an index without sort entries (an older format) is rebuilt when opened") {
  testing::TempDir dir;
  auto s = open_storage(dir.path() + "/db");
  put(*s, "u/1", "Users", R"({"Name":"Ann"})");
  auto def = make_auto_index_definition("Users", {path("Name")});
  CHECK(open_caught_up(dir.path() + "/index", *s, def)->last_indexed_etag() > 0);
  {
    // What an index written before sort entries looks like: no format key.
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), dir.path() + "/index", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    REQUIRE(db->Delete(rocksdb::WriteOptions(), "Mformat").ok());
  }
  auto again = AutoIndex::open_existing(dir.path() + "/index");
  REQUIRE(again.ok());
  CHECK(again.value()->last_indexed_etag() == 0);
  CHECK(again.value()->documents_count() == 0);
  catch_up(*s, *again.value());
  CHECK(walk(*again.value(), 0, false) == std::vector<std::string>{"u/1"});
  CHECK(again.value()->documents_count() == 1);
}
