// DocumentSorter: each ordering type, missing values, arrays, desc, several
// clauses, random() (seeded and per query), score() ties, id().

#include "query/document_sorter.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "tests/unit/query/ast_builders.h"

using namespace corvus::query;
using namespace corvus::query::test;
namespace json = boost::json;

namespace {

struct Row {
  std::string id;
  json::value document;
};

OrderBy by(const std::string& field, OrderingType type = OrderingType::String, bool descending = false) {
  OrderBy o;
  o.field = path(field);
  o.type = type;
  o.type_given = type != OrderingType::String;
  o.descending = descending;
  return o;
}

OrderBy by_kind(OrderBy::Kind kind, std::optional<Operand> seed = std::nullopt, bool descending = false) {
  OrderBy o;
  o.kind = kind;
  o.random_seed = std::move(seed);
  o.descending = descending;
  return o;
}

// Sorts rows (stably, as the runner does) and returns their ids in order.
std::vector<std::string> sorted_ids(const std::vector<OrderBy>& order, const std::vector<Row>& rows,
                                    const json::object& parameters = {}, uint64_t seed = 1) {
  auto sorter = DocumentSorter::compile(order, parameters, seed);
  REQUIRE_MESSAGE(sorter.ok(), sorter.status().to_string());
  std::vector<std::pair<DocumentSorter::Key, std::string>> keyed;
  for (const auto& row : rows) keyed.emplace_back(sorter->key_of(row.document, row.id), row.id);
  std::stable_sort(keyed.begin(), keyed.end(),
                   [&](const auto& a, const auto& b) { return sorter->less(a.first, b.first); });
  std::vector<std::string> ids;
  for (auto& [key, id] : keyed) ids.push_back(id);
  return ids;
}

std::vector<Row> rows_of(std::initializer_list<std::pair<const char*, const char*>> list) {
  std::vector<Row> rows;
  for (const auto& [id, json] : list) rows.push_back({id, doc(json)});
  return rows;
}

using Ids = std::vector<std::string>;

}  // namespace

TEST_CASE("sorter: no order by is empty; any clause is not") {
  auto none = DocumentSorter::compile(std::vector<OrderBy>{}, {});
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto one = DocumentSorter::compile({by("Name")}, {});
  REQUIRE(one.ok());
  CHECK_FALSE(one->empty());
}

TEST_CASE("sorter: string order is case-insensitive; null and missing first; desc reverses (missing last)") {
  auto rows = rows_of({{"a", R"({"Name": "bob"})"},
                       {"b", R"({"Name": "Alice"})"},
                       {"c", R"({"Other": 1})"},
                       {"d", R"({"Name": "CAROL"})"},
                       {"e", R"({"Name": null})"}});
  CHECK(sorted_ids({by("Name")}, rows) == Ids{"c", "e", "b", "a", "d"});
  CHECK(sorted_ids({by("Name", OrderingType::String, true)}, rows) == Ids{"d", "a", "b", "c", "e"});
}

TEST_CASE("sorter: non-ASCII strings sort case-insensitively by code point") {
  auto rows = rows_of({{"a", R"({"Name": "Émile"})"}, {"b", R"({"Name": "zoe"})"}, {"c", R"({"Name": "émila"})"},
                       {"d", R"({"Name": "Anna"})"}});
  CHECK(sorted_ids({by("Name")}, rows) == Ids{"d", "b", "c", "a"});
}

TEST_CASE("sorter: numbers in a string ordering sort by their text") {
  auto rows = rows_of({{"a", R"({"N": 10})"}, {"b", R"({"N": 9})"}, {"c", R"({"N": 2.5})"}, {"d", R"({"N": "1x"})"}});
  CHECK(sorted_ids({by("N")}, rows) == Ids{"a", "d", "c", "b"});  // "10" < "1x" < "2.5" < "9"
}

TEST_CASE("sorter: as long is numeric; parseable strings count, others are missing; doubles truncate") {
  auto rows = rows_of({{"a", R"({"N": 10})"},
                       {"b", R"({"N": 9})"},
                       {"c", R"({"N": "3"})"},
                       {"d", R"({"N": "abc"})"},
                       {"e", R"({"N": -1.9})"},
                       {"f", R"({"N": 9.7})"},
                       {"g", R"({"N": true})"}});
  // -1.9 -> -1; 9.7 -> 9 ties with 9 and keeps the scan order.
  CHECK(sorted_ids({by("N", OrderingType::Long)}, rows) == Ids{"d", "g", "e", "c", "b", "f", "a"});
  CHECK(sorted_ids({by("N", OrderingType::Long, true)}, rows) == Ids{"a", "b", "f", "c", "e", "d", "g"});
}

TEST_CASE("sorter: as long keeps big int64s exact; uint64 above int64 saturates; huge doubles saturate") {
  auto rows = rows_of({{"a", R"({"N": 9007199254740993})"}, {"b", R"({"N": 9007199254740992})"}});
  CHECK(sorted_ids({by("N", OrderingType::Long)}, rows) == Ids{"b", "a"});
  auto extremes = rows_of({{"u", R"({"N": 18446744073709551615})"}, {"d", R"({"N": -1e300})"}, {"z", R"({"N": 0})"}});
  CHECK(sorted_ids({by("N", OrderingType::Long)}, extremes) == Ids{"d", "z", "u"});
  CHECK(sorted_ids({by("N", OrderingType::Double)}, extremes) == Ids{"d", "z", "u"});
}

TEST_CASE("sorter: as double is numeric with fractions; parseable strings count") {
  auto rows = rows_of({{"a", R"({"N": 2.5})"}, {"b", R"({"N": 2})"}, {"c", R"({"N": "2.25"})"}, {"d", R"({"N": [1]})"},
                       {"e", R"({"N": {"x": 1}})"}});
  CHECK(sorted_ids({by("N", OrderingType::Double)}, rows) == Ids{"e", "d", "b", "c", "a"});
}

TEST_CASE("sorter: alphaNumeric is natural order, case-insensitive") {
  auto rows = rows_of({{"a", R"({"N": "item10"})"},
                       {"b", R"({"N": "item9"})"},
                       {"c", R"({"N": "Item1"})"},
                       {"d", R"({"N": "item009b"})"},
                       {"e", R"({"N": "item"})"},
                       {"f", R"({"N": "item99999999999999999999999"})"}});
  CHECK(sorted_ids({by("N", OrderingType::AlphaNumeric)}, rows) == Ids{"e", "c", "b", "d", "a", "f"});
  CHECK(compare_alphanumeric("a2", "a10") < 0);
  CHECK(compare_alphanumeric("a010", "a10") == 0);
  CHECK(compare_alphanumeric("abc", "abd") < 0);
  CHECK(compare_alphanumeric("x1y2", "x1y10") < 0);
}

TEST_CASE("sorter: an array sorts by its first value; nested paths") {
  auto rows = rows_of({{"a", R"({"Tags": ["m", "a"], "Address": {"City": "Zurich"}})"},
                       {"b", R"({"Tags": ["b", "z"], "Address": {"City": "Athens"}})"},
                       {"c", R"({"Tags": [], "Address": {}})"}});
  CHECK(sorted_ids({by("Tags")}, rows) == Ids{"c", "b", "a"});
  CHECK(sorted_ids({by("Address.City")}, rows) == Ids{"c", "b", "a"});
}

TEST_CASE("sorter: several clauses; later clauses break ties") {
  auto rows = rows_of({{"a", R"({"City": "X", "Age": 30})"},
                       {"b", R"({"City": "x", "Age": 20})"},
                       {"c", R"({"City": "A", "Age": 50})"}});
  CHECK(sorted_ids({by("City"), by("Age", OrderingType::Long)}, rows) == Ids{"c", "b", "a"});
  CHECK(sorted_ids({by("City"), by("Age", OrderingType::Long, true)}, rows) == Ids{"c", "a", "b"});
}

TEST_CASE("sorter: id() orders by the id, case-insensitive") {
  auto rows = rows_of({{"users/b", "{}"}, {"Users/A", "{}"}, {"users/c", "{}"}});
  OrderBy o;
  o.field = id_path();
  CHECK(sorted_ids({o}, rows) == Ids{"Users/A", "users/b", "users/c"});
  o.descending = true;
  CHECK(sorted_ids({o}, rows) == Ids{"users/c", "users/b", "Users/A"});
}

TEST_CASE("sorter: score() ties every document (no relevance ranking yet): the scan order stays") {
  auto rows = rows_of({{"c", R"({"N": 1})"}, {"a", R"({"N": 3})"}, {"b", R"({"N": 2})"}});
  CHECK(sorted_ids({by_kind(OrderBy::Kind::Score)}, rows) == Ids{"c", "a", "b"});
  CHECK(sorted_ids({by_kind(OrderBy::Kind::Score), by("N", OrderingType::Long)}, rows) == Ids{"c", "b", "a"});
}

TEST_CASE("sorter: random('seed') is deterministic from the seed and the ids; another seed shuffles differently") {
  std::vector<Row> rows;
  for (int i = 0; i < 40; ++i) rows.push_back({"items/" + std::to_string(i), doc("{}")});
  auto first = sorted_ids({by_kind(OrderBy::Kind::Random, lit("abc"))}, rows);
  // The same seed gives the same order whatever the input order and the per-query seed.
  auto reversed = rows;
  std::reverse(reversed.begin(), reversed.end());
  CHECK(sorted_ids({by_kind(OrderBy::Kind::Random, lit("abc"))}, reversed, {}, 99) == first);
  CHECK(sorted_ids({by_kind(OrderBy::Kind::Random, param("s"))}, rows, params(R"({"s": "abc"})")) == first);
  CHECK(sorted_ids({by_kind(OrderBy::Kind::Random, lit("abd"))}, rows) != first);
  // A permutation: nothing lost or repeated, and not the scan order.
  CHECK(std::set<std::string>(first.begin(), first.end()).size() == rows.size());
  std::vector<std::string> scan;
  for (const auto& r : rows) scan.push_back(r.id);
  CHECK(first != scan);
}

TEST_CASE("sorter: unseeded random() follows the per-query seed") {
  std::vector<Row> rows;
  for (int i = 0; i < 40; ++i) rows.push_back({"items/" + std::to_string(i), doc("{}")});
  auto a = sorted_ids({by_kind(OrderBy::Kind::Random)}, rows, {}, 1);
  CHECK(sorted_ids({by_kind(OrderBy::Kind::Random)}, rows, {}, 1) == a);
  CHECK(sorted_ids({by_kind(OrderBy::Kind::Random)}, rows, {}, 2) != a);
  auto drawn = DocumentSorter::compile({by_kind(OrderBy::Kind::Random)}, {});
  REQUIRE(drawn.ok());
  CHECK_FALSE(drawn->empty());
}

TEST_CASE("sorter: a missing or unusable random seed is InvalidArgument") {
  auto missing = DocumentSorter::compile({by_kind(OrderBy::Kind::Random, param("seed", 40))}, {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().is_invalid_argument());
  CHECK(missing.status().message().find("$seed") != std::string::npos);
  auto object = DocumentSorter::compile({by_kind(OrderBy::Kind::Random, param("s"))}, params(R"({"s": {"a": 1}})"));
  REQUIRE_FALSE(object.ok());
  CHECK(object.status().is_invalid_argument());
}
