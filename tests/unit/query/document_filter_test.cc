// DocumentFilter: every where-clause rule of RQL as RavenDB's auto-indexes give
// it, on hand-built syntax trees. Wrong-type comparisons never match and never
// fail; bad parameters and regexes fail at compile with InvalidArgument.

#include "query/document_filter.h"

#include <doctest/doctest.h>

#include <limits>

#include "tests/unit/query/ast_builders.h"

using namespace corvus::query;
using namespace corvus::query::test;
namespace json = boost::json;

namespace {

DocumentFilter compile_ok(const ExpressionPtr& where, const json::object& parameters = {}) {
  auto f = DocumentFilter::compile(where.get(), parameters);
  REQUIRE_MESSAGE(f.ok(), f.status().to_string());
  return std::move(f).value();
}

bool match(const ExpressionPtr& where, const char* document, const char* id = "users/1",
           const json::object& parameters = {}) {
  return compile_ok(where, parameters).matches(doc(document), id);
}

corvus::Status compile_error(const ExpressionPtr& where, const json::object& parameters = {}) {
  auto f = DocumentFilter::compile(where.get(), parameters);
  REQUIRE_FALSE(f.ok());
  return f.status();
}

const char* kUser = R"({"Name": "Oren", "Age": 40, "Score": 2.5, "Active": true, "Nick": null,
  "Address": {"City": "Hadera", "Zip": "38000"}, "Tags": ["db", "Raven"],
  "Lines": [{"Product": "products/1", "Qty": 2}, {"Product": "products/2", "Qty": 10}],
  "@metadata": {"@collection": "Users"}})";

}  // namespace

TEST_CASE("filter: no where clause matches everything; `where true` too") {
  auto f = DocumentFilter::compile(nullptr, {});
  REQUIRE(f.ok());
  CHECK(f->matches(doc("{}"), "x"));
  CHECK(match(wrap(TrueExpression{}), "{}"));
}

TEST_CASE("filter: = on strings is case-insensitive; exact() is case-sensitive") {
  CHECK(match(eq(path("Name"), lit("oren")), kUser));
  CHECK(match(eq(path("Name"), lit("OREN")), kUser));
  CHECK_FALSE(match(eq(path("Name"), lit("Ore")), kUser));
  CHECK_FALSE(match(eq(path("Name"), lit("oren"), true), kUser));
  CHECK(match(eq(path("Name"), lit("Oren"), true), kUser));
}

TEST_CASE("filter: = on numbers is numeric across int64 and double") {
  CHECK(match(eq(path("Age"), lit(40)), kUser));
  CHECK(match(eq(path("Age"), lit(40.0)), kUser));
  CHECK(match(eq(path("Score"), lit(2.5)), kUser));
  CHECK_FALSE(match(eq(path("Age"), lit(41)), kUser));
  CHECK(match(eq(path("Big"), lit(int64_t{9007199254740993})), R"({"Big": 9007199254740993})"));
  CHECK_FALSE(match(eq(path("Big"), lit(int64_t{9007199254740992})), R"({"Big": 9007199254740993})"));
}

TEST_CASE("filter: a string query value equals a number or bool whose text it is") {
  CHECK(match(eq(path("Age"), lit("40")), kUser));
  CHECK(match(eq(path("Active"), lit("true")), kUser));
  CHECK(match(eq(path("Active"), lit(true)), kUser));
  CHECK(match(eq(path("Flag"), lit(false)), R"({"Flag": "false"})"));
  // A number query value does not match the string "38000".
  CHECK_FALSE(match(eq(path("Address.Zip"), lit(38000)), kUser));
}

TEST_CASE("filter: = null matches null values and documents where the path reaches nothing") {
  CHECK(match(eq(path("Nick"), lit(nullptr)), kUser));
  CHECK(match(eq(path("Missing"), lit(nullptr)), kUser));
  CHECK(match(eq(path("Address.Missing"), lit(nullptr)), kUser));
  CHECK_FALSE(match(eq(path("Name"), lit(nullptr)), kUser));
}

TEST_CASE("filter: wrong-type comparisons do not match and do not fail") {
  CHECK_FALSE(match(eq(path("Name"), lit(5)), kUser));
  CHECK_FALSE(match(eq(path("Address"), lit("Hadera")), kUser));
  CHECK_FALSE(match(cmp(path("Name"), CompareOp::Greater, lit(5)), kUser));
  CHECK_FALSE(match(cmp(path("Age"), CompareOp::Greater, lit("a")), kUser));
  CHECK_FALSE(match(cmp(path("Address"), CompareOp::Less, lit(5)), kUser));
  CHECK_FALSE(match(method(MethodKind::StartsWith, path("Age"), {lit("4")}), kUser));
  CHECK_FALSE(match(method(MethodKind::Regex, path("Address"), {lit(".*")}), kUser));
}

TEST_CASE("filter: != is NOT = (documents without the field match)") {
  CHECK(match(cmp(path("Name"), CompareOp::NotEqual, lit("Ayende")), kUser));
  CHECK_FALSE(match(cmp(path("Name"), CompareOp::NotEqual, lit("oren")), kUser));
  CHECK(match(cmp(path("Missing"), CompareOp::NotEqual, lit("x")), kUser));
  CHECK_FALSE(match(cmp(path("Missing"), CompareOp::NotEqual, lit(nullptr)), kUser));
  // Any value equal means `=` holds, so `!=` does not.
  CHECK_FALSE(match(cmp(path("Tags"), CompareOp::NotEqual, lit("db")), kUser));
}

TEST_CASE("filter: ranges on numbers") {
  CHECK(match(cmp(path("Age"), CompareOp::Greater, lit(39)), kUser));
  CHECK_FALSE(match(cmp(path("Age"), CompareOp::Greater, lit(40)), kUser));
  CHECK(match(cmp(path("Age"), CompareOp::GreaterOrEqual, lit(40)), kUser));
  CHECK(match(cmp(path("Age"), CompareOp::Less, lit(40.5)), kUser));
  CHECK_FALSE(match(cmp(path("Age"), CompareOp::Less, lit(40)), kUser));
  CHECK(match(cmp(path("Age"), CompareOp::LessOrEqual, lit(40)), kUser));
  CHECK(match(cmp(path("Score"), CompareOp::Greater, lit(2)), kUser));
}

TEST_CASE("filter: ranges on strings are ordinal on lower-cased text (exact: as is)") {
  CHECK(match(cmp(path("Name"), CompareOp::Greater, lit("n")), kUser));
  CHECK(match(cmp(path("Name"), CompareOp::Greater, lit("N")), kUser));
  CHECK(match(cmp(path("Name"), CompareOp::Less, lit("p")), kUser));
  CHECK_FALSE(match(cmp(path("Name"), CompareOp::Less, lit("oren")), kUser));
  CHECK(match(cmp(path("Name"), CompareOp::LessOrEqual, lit("OREN")), kUser));
  // Exact: 'O' (0x4F) < 'n' (0x6E).
  CHECK(match(cmp(path("Name"), CompareOp::Less, lit("n"), true), kUser));
  CHECK_FALSE(match(cmp(path("Name"), CompareOp::Greater, lit("n"), true), kUser));
}

TEST_CASE("filter: a null range bound matches nothing") {
  CHECK_FALSE(match(cmp(path("Nick"), CompareOp::GreaterOrEqual, lit(nullptr)), kUser));
  CHECK_FALSE(match(between(path("Age"), lit(nullptr), lit(50)), kUser));
}

TEST_CASE("filter: between is inclusive at both ends") {
  CHECK(match(between(path("Age"), lit(40), lit(50)), kUser));
  CHECK(match(between(path("Age"), lit(30), lit(40)), kUser));
  CHECK_FALSE(match(between(path("Age"), lit(41), lit(50)), kUser));
  CHECK(match(between(path("Name"), lit("a"), lit("oren")), kUser));
  CHECK_FALSE(match(between(path("Name"), lit("p"), lit("z")), kUser));
  CHECK_FALSE(match(between(path("Name"), lit(1), lit(100)), kUser));
}

TEST_CASE("filter: between with bounds of different types is InvalidArgument") {
  auto s = compile_error(between(path("Age"), lit(1), lit("z")));
  CHECK(s.is_invalid_argument());
  CHECK(s.message().find("Age") != std::string::npos);
}

TEST_CASE("filter: one value of an array is enough (any), at the end of a path or through x[]") {
  CHECK(match(eq(path("Tags"), lit("RAVEN")), kUser));
  CHECK(match(eq(path("Lines[].Product"), lit("products/2")), kUser));
  CHECK(match(eq(path("Lines.Product"), lit("products/1")), kUser));
  CHECK(match(cmp(path("Lines[].Qty"), CompareOp::Greater, lit(5)), kUser));
  CHECK_FALSE(match(cmp(path("Lines[].Qty"), CompareOp::Greater, lit(10)), kUser));
  // between: a single value must lie in the range (2 and 10 are both outside 3..9).
  CHECK_FALSE(match(between(path("Lines[].Qty"), lit(3), lit(9)), kUser));
}

TEST_CASE("filter: a lower and an upper bound on one field joined by and act as between (RavenDB's rewrite)") {
  // RavenDB's LuceneQueryBuilder turns `Qty > 3 and Qty < 9` into one range query:
  // a single value must lie in it. 2 and 10 are each on one side only.
  CHECK_FALSE(match(and_(cmp(path("Lines[].Qty"), CompareOp::Greater, lit(3)),
                         cmp(path("Lines[].Qty"), CompareOp::Less, lit(9))),
                    kUser));
  CHECK_FALSE(match(and_(cmp(path("Lines[].Qty"), CompareOp::Less, lit(9)),
                         cmp(path("Lines[].Qty"), CompareOp::Greater, lit(3))),
                    kUser));
  CHECK(match(and_(cmp(path("Lines[].Qty"), CompareOp::GreaterOrEqual, lit(10)),
                   cmp(path("Lines[].Qty"), CompareOp::LessOrEqual, lit(10))),
              kUser));
  CHECK_FALSE(match(and_(cmp(path("Lines[].Qty"), CompareOp::Greater, lit(10)),
                         cmp(path("Lines[].Qty"), CompareOp::LessOrEqual, lit(10))),
                    kUser));
  CHECK(match(and_(cmp(path("Name"), CompareOp::Greater, param("a")), cmp(path("Name"), CompareOp::Less, param("b"))),
              kUser, "users/1", params(R"({"a": "A", "b": "P"})")));
  // Different fields, or or: each comparison on its own, any value each.
  CHECK(match(or_(cmp(path("Lines[].Qty"), CompareOp::Greater, lit(3)),
                  cmp(path("Lines[].Qty"), CompareOp::Less, lit(9))),
              kUser));
  CHECK(match(and_(cmp(path("Age"), CompareOp::Greater, lit(3)), cmp(path("Score"), CompareOp::Less, lit(9))), kUser));
  // A missing parameter in the pair is still reported.
  CHECK(compile_error(and_(cmp(path("Age"), CompareOp::Greater, param("lo")), cmp(path("Age"), CompareOp::Less, lit(9))))
            .is_invalid_argument());
}

TEST_CASE("filter: nested paths and @metadata") {
  CHECK(match(eq(path("Address.City"), lit("hadera")), kUser));
  CHECK(match(eq(path("@metadata.@collection"), lit("users")), kUser));
  CHECK(match(eq(path("Address.City", "u"), lit("hadera")), kUser));  // from Users as u: u.Address.City
}

TEST_CASE("filter: and, or, not") {
  CHECK(match(and_(eq(path("Name"), lit("oren")), eq(path("Age"), lit(40))), kUser));
  CHECK_FALSE(match(and_(eq(path("Name"), lit("oren")), eq(path("Age"), lit(41))), kUser));
  CHECK(match(or_(eq(path("Name"), lit("x")), eq(path("Age"), lit(40))), kUser));
  CHECK_FALSE(match(or_(eq(path("Name"), lit("x")), eq(path("Age"), lit(41))), kUser));
  CHECK(match(not_(eq(path("Name"), lit("x"))), kUser));
  CHECK_FALSE(match(not_(eq(path("Name"), lit("oren"))), kUser));
  CHECK(match(and_(wrap(TrueExpression{}), not_(eq(path("Missing"), lit("a")))), kUser));
}

TEST_CASE("filter: an and/or/not missing an operand is InvalidArgument, not a crash") {
  CHECK(compile_error(and_(eq(path("Name"), lit("x")), nullptr)).is_invalid_argument());
  CHECK(compile_error(not_(nullptr)).is_invalid_argument());
}

namespace {
// Tears a left-deep chain down one level at a time (the syntax tree's own
// destructor recurses once per level).
void destroy_left_chain(ExpressionPtr& e) {
  while (e) {
    ExpressionPtr next;
    if (auto* o = std::get_if<Or>(&e->node)) next = std::move(o->left);
    if (auto* a = std::get_if<And>(&e->node)) next = std::move(a->left);
    if (auto* n = std::get_if<Not>(&e->node)) next = std::move(n->operand);
    e = std::move(next);
  }
}
}  // namespace

TEST_CASE("filter: long chains of or / and are flattened: 4096 conditions (the parser's cap) run") {
  auto ors = eq(path("Age"), lit(0));
  for (int i = 1; i < 4096; ++i) ors = or_(std::move(ors), eq(path("Age"), lit(i)));
  CHECK(match(ors, kUser));  // Age 40 is among them
  CHECK_FALSE(match(ors, R"({"Age": 5000})"));
  destroy_left_chain(ors);

  auto ands = cmp(path("Age"), CompareOp::Greater, lit(-1));
  for (int i = 1; i < 4096; ++i) ands = and_(std::move(ands), cmp(path("Age"), CompareOp::NotEqual, lit(1000 + i)));
  CHECK(match(ands, kUser));
  CHECK_FALSE(match(ands, R"({"Age": 1007})"));
  destroy_left_chain(ands);
}

TEST_CASE("filter: operands keep their order and range pairs still merge inside a flattened chain") {
  // ((Qty > 3 and Qty < 9) and Name = 'oren'): the inner pair is one range, so no single Qty in 4..8.
  CHECK_FALSE(match(and_(and_(cmp(path("Lines[].Qty"), CompareOp::Greater, lit(3)),
                              cmp(path("Lines[].Qty"), CompareOp::Less, lit(9))),
                         eq(path("Name"), lit("oren"))),
                    kUser));
  // (Qty > 3 and Name = 'oren') and Qty < 9: not a pair (RavenDB neither): any value each.
  CHECK(match(and_(and_(cmp(path("Lines[].Qty"), CompareOp::Greater, lit(3)), eq(path("Name"), lit("oren"))),
                   cmp(path("Lines[].Qty"), CompareOp::Less, lit(9))),
              kUser));
  CHECK(match(or_(or_(eq(path("Name"), lit("a")), eq(path("Name"), lit("b"))), eq(path("Name"), lit("oren"))), kUser));
}

TEST_CASE("filter: nesting (not, alternating and/or) deeper than 1000 levels is InvalidArgument") {
  auto nots = eq(path("Name"), lit("oren"));
  for (int i = 0; i < 1001; ++i) nots = not_(std::move(nots));
  auto s = compile_error(nots);
  CHECK(s.is_invalid_argument());
  CHECK(s.message().find("1000") != std::string::npos);
  destroy_left_chain(nots);

  auto ok = eq(path("Name"), lit("oren"));
  for (int i = 0; i < 1000; ++i) ok = not_(std::move(ok));
  CHECK(match(ok, kUser));  // an even number of nots
  destroy_left_chain(ok);

  auto alternating = eq(path("Name"), lit("oren"));
  for (int i = 0; i < 1001; ++i) {
    alternating = i % 2 ? and_(std::move(alternating), wrap(TrueExpression{}))
                        : or_(std::move(alternating), eq(path("Name"), lit("x")));
  }
  CHECK(compile_error(alternating).is_invalid_argument());
  destroy_left_chain(alternating);
}

TEST_CASE("filter: parameters are resolved once; a missing one is InvalidArgument naming it") {
  auto p = params(R"({"name": "OREN", "age": 40})");
  CHECK(match(and_(eq(path("Name"), param("name")), eq(path("Age"), param("age"))), kUser, "users/1", p));
  auto s = compile_error(and_(eq(path("Name"), param("name")), eq(path("Age"), param("nope", 31))), p);
  CHECK(s.is_invalid_argument());
  CHECK(s.message().find("$nope") != std::string::npos);
  CHECK(s.message().find("31") != std::string::npos);
  // A parameter that would be compared but is an object is refused.
  CHECK(compile_error(eq(path("Name"), param("o")), params(R"({"o": {"a": 1}})")).is_invalid_argument());
}

TEST_CASE("filter: in (...) with literals, parameters and parameter arrays") {
  CHECK(match(in(path("Name"), {lit("a"), lit("OREN")}), kUser));
  CHECK_FALSE(match(in(path("Name"), {lit("a"), lit("b")}), kUser));
  CHECK(match(in(path("Age"), {lit(1), lit(40.0)}), kUser));
  CHECK(match(in(path("Age"), {lit("40")}), kUser));
  CHECK(match(in(path("Name"), {param("names")}), kUser, "users/1", params(R"({"names": ["x", "oren"]})")));
  CHECK_FALSE(match(in(path("Name"), {param("names")}), kUser, "users/1", params(R"({"names": []})")));
  CHECK(match(in(path("Tags"), {lit("raven")}), kUser));
  CHECK(match(in(path("Missing"), {lit(nullptr)}), kUser));
  CHECK_FALSE(match(in(path("Name"), {}), kUser));
  CHECK(compile_error(in(path("Name"), {param("names")}), params(R"({"names": [{"a": 1}]})")).is_invalid_argument());
  CHECK(compile_error(in(path("Name"), {param("missing")}), {}).is_invalid_argument());
}

TEST_CASE("filter: all in (...) needs every listed value among the reached values") {
  CHECK(match(in(path("Tags"), {lit("db"), lit("raven")}, true), kUser));
  CHECK_FALSE(match(in(path("Tags"), {lit("db"), lit("sql")}, true), kUser));
  CHECK(match(in(path("Tags"), {param("t")}, true), kUser, "users/1", params(R"({"t": ["DB"]})")));
  CHECK_FALSE(match(in(path("Missing"), {lit("a")}, true), kUser));
}

TEST_CASE("filter: exact in and all in") {
  CHECK_FALSE(match(in(path("Name"), {lit("oren")}, false, true), kUser));
  CHECK(match(in(path("Tags"), {lit("Raven")}, true, true), kUser));
  CHECK_FALSE(match(in(path("Tags"), {lit("raven")}, true, true), kUser));
}

TEST_CASE("filter: startsWith / endsWith on strings, case-insensitive unless exact") {
  CHECK(match(method(MethodKind::StartsWith, path("Name"), {lit("or")}), kUser));
  CHECK(match(method(MethodKind::StartsWith, path("Name"), {lit("OR")}), kUser));
  CHECK_FALSE(match(method(MethodKind::StartsWith, path("Name"), {lit("or")}, true), kUser));
  CHECK(match(method(MethodKind::EndsWith, path("Name"), {lit("REN")}), kUser));
  CHECK_FALSE(match(method(MethodKind::EndsWith, path("Name"), {lit("xoren")}), kUser));
  CHECK(match(method(MethodKind::StartsWith, path("Tags"), {lit("rav")}), kUser));
  CHECK(match(method(MethodKind::StartsWith, path("Name"), {lit("")}), kUser));
  CHECK_FALSE(match(method(MethodKind::StartsWith, path("Missing"), {lit("")}), kUser));
}

TEST_CASE("filter: startsWith / endsWith / search with non-ASCII letters") {
  const char* d = R"({"City": "ÉCHIROLLES", "Name": "İzmir", "Bio": "Живёт в МОСКВЕ"})";
  CHECK(match(method(MethodKind::StartsWith, path("City"), {lit("éch")}), d));
  CHECK(match(method(MethodKind::EndsWith, path("City"), {lit("lles")}), d));
  CHECK(match(method(MethodKind::StartsWith, path("Name"), {lit("İz")}), d));
  CHECK_FALSE(match(method(MethodKind::StartsWith, path("Name"), {lit("iz")}), d));  // İ has no lower case here
  CHECK(match(method(MethodKind::EndsWith, path("Name"), {lit("MIR")}), d));
  CHECK(match(method(MethodKind::Search, path("Bio"), {lit("москве")}), d));
  CHECK(match(method(MethodKind::Search, path("Bio"), {lit("жив*")}), d));
  CHECK_FALSE(match(method(MethodKind::StartsWith, path("City"), {lit("éch")}, true), d));
}

TEST_CASE("filter: startsWith needs a string argument") {
  auto s = compile_error(method(MethodKind::StartsWith, path("Name"), {lit(5)}, false, 12));
  CHECK(s.is_invalid_argument());
  CHECK(s.message().find("12") != std::string::npos);
  CHECK(compile_error(method(MethodKind::StartsWith, path("Name"), {})).is_invalid_argument());
}

TEST_CASE("filter: exists(f): the path reaches something, null included") {
  CHECK(match(method(MethodKind::Exists, path("Name"), {}), kUser));
  CHECK(match(method(MethodKind::Exists, path("Nick"), {}), kUser));
  CHECK(match(method(MethodKind::Exists, path("Lines[].Qty"), {}), kUser));
  CHECK_FALSE(match(method(MethodKind::Exists, path("Missing"), {}), kUser));
  CHECK_FALSE(match(method(MethodKind::Exists, path("Address.Street"), {}), kUser));
  CHECK(compile_error(method(MethodKind::Exists, path("Name"), {lit("x")})).is_invalid_argument());
}

TEST_CASE("filter: regex searches string values, case-insensitive; a bad pattern fails at compile") {
  CHECK(match(method(MethodKind::Regex, path("Name"), {lit("^o.e")}), kUser));
  CHECK(match(method(MethodKind::Regex, path("Name"), {lit("RE")}), kUser));
  CHECK_FALSE(match(method(MethodKind::Regex, path("Name"), {lit("^re")}), kUser));
  CHECK(match(method(MethodKind::Regex, path("Tags"), {lit("^rav")}), kUser));
  CHECK(match(method(MethodKind::Regex, path("Name"), {param("p")}), kUser, "users/1", params(R"({"p": "n$"})")));
  auto s = compile_error(method(MethodKind::Regex, path("Name"), {lit("(unclosed")}, false, 44));
  CHECK(s.is_invalid_argument());
  CHECK(s.message().find("(unclosed") != std::string::npos);
  CHECK(s.message().find("44") != std::string::npos);
  CHECK(compile_error(method(MethodKind::Regex, path("Name"), {lit(1)})).is_invalid_argument());
}

TEST_CASE("filter: regex as in RavenDB's RegexQueryTests: 4 of 6 texts match ^[a-z ]{2,4}love") {
  auto filter = compile_ok(method(MethodKind::Regex, path("Text"), {lit("^[a-z ]{2,4}love")}));
  int matched = 0;
  for (const char* text : {"I love dogs and cats", "I love cats", "I love dogs", "I love bats", "dogs love me",
                           "cats love me"}) {
    json::object d;
    d["Text"] = text;
    if (filter.matches(d, "regexmes/1")) ++matched;
  }
  CHECK(matched == 4);
}

TEST_CASE("filter: regex on long values and pathological patterns neither crashes nor hangs") {
  // std::regex overflowed the stack on this (`.*c` over 20 KB); the filter uses
  // Boost.Regex, which keeps its state on the heap and bounds its work.
  json::object d;
  d["Long"] = std::string(200000, 'a') + "c";
  d["NoMatch"] = std::string(2000, 'a');
  CHECK(compile_ok(method(MethodKind::Regex, path("Long"), {lit(".*c")})).matches(d, "x/1"));
  CHECK(compile_ok(method(MethodKind::Regex, path("Long"), {lit("^a+C$")})).matches(d, "x/1"));
  CHECK_FALSE(compile_ok(method(MethodKind::Regex, path("NoMatch"), {lit("(a|b)*c")})).matches(d, "x/1"));
  CHECK_FALSE(compile_ok(method(MethodKind::Regex, path("NoMatch"), {lit("(a*)*b")})).matches(d, "x/1"));
  // exact(regex(...)) is case-sensitive.
  CHECK_FALSE(compile_ok(method(MethodKind::Regex, path("Long"), {lit("C$")}, true)).matches(d, "x/1"));
}

TEST_CASE("filter: search tokenizes values and terms; OR by default, AND on request; wildcards") {
  const char* d = R"({"Bio": "Writes the RavenDB-server, loves C++ and coffee.", "N": 12345})";
  CHECK(match(method(MethodKind::Search, path("Bio"), {lit("ravendb")}), d));
  CHECK(match(method(MethodKind::Search, path("Bio"), {lit("SERVER")}), d));
  CHECK(match(method(MethodKind::Search, path("Bio"), {lit("tea coffee")}), d));
  CHECK_FALSE(match(method(MethodKind::Search, path("Bio"), {lit("tea coffee"), lit("and")}), d));
  CHECK(match(method(MethodKind::Search, path("Bio"), {lit("loves, coffee"), lit("AND")}), d));
  CHECK(match(method(MethodKind::Search, path("Bio"), {lit("cof*")}), d));
  CHECK(match(method(MethodKind::Search, path("Bio"), {lit("*fee")}), d));
  CHECK(match(method(MethodKind::Search, path("Bio"), {lit("*ave*")}), d));
  CHECK(match(method(MethodKind::Search, path("Bio"), {lit("w*s")}), d));
  CHECK_FALSE(match(method(MethodKind::Search, path("Bio"), {lit("rave")}), d));
  CHECK_FALSE(match(method(MethodKind::Search, path("Bio"), {lit("")}), d));
  CHECK(match(method(MethodKind::Search, path("N"), {lit("12345")}), d));
  CHECK(match(method(MethodKind::Search, path("Tags"), {lit("raven")}), kUser));
  CHECK_FALSE(match(method(MethodKind::Search, path("Missing"), {lit("x")}), d));
  CHECK(compile_error(method(MethodKind::Search, path("Bio"), {lit("x"), lit("xor")})).is_invalid_argument());
}

TEST_CASE("filter: uint64 values, mixed-type lists, exact ranges") {
  const char* d = R"({"Big": 18446744073709551615, "Mixed": [1, "two", true, null]})";
  CHECK(match(eq(path("Big"), lit(std::numeric_limits<uint64_t>::max())), d));
  CHECK(match(cmp(path("Big"), CompareOp::Greater, lit(std::numeric_limits<int64_t>::max())), d));
  CHECK(match(cmp(path("Big"), CompareOp::Greater, lit(1.8e19)), d));
  CHECK_FALSE(match(cmp(path("Big"), CompareOp::Less, lit(-1)), d));
  CHECK(match(in(path("Mixed"), {lit("TWO"), lit(7)}), d));
  CHECK(match(in(path("Mixed"), {lit(1.0)}), d));
  CHECK(match(in(path("Mixed"), {lit("true")}), d));
  CHECK(match(in(path("Mixed"), {lit(1), lit("two"), lit(true), lit(nullptr)}, true), d));
  CHECK(match(eq(path("Mixed"), lit(nullptr)), d));  // the null element
  CHECK(match(between(path("Name"), lit("Oren"), lit("Oren"), true), kUser));
  CHECK_FALSE(match(between(path("Name"), lit("oren"), lit("orEN"), true), kUser));
}

TEST_CASE("filter: search with AND looks at every value of an array together") {
  const char* d = R"({"Tags": ["red apple", "green pear"]})";
  CHECK(match(method(MethodKind::Search, path("Tags"), {lit("apple pear"), lit("and")}), d));
  CHECK_FALSE(match(method(MethodKind::Search, path("Tags"), {lit("apple plum"), lit("and")}), d));
}

TEST_CASE("filter: not nests and combines with and/or") {
  CHECK(match(not_(not_(eq(path("Name"), lit("oren")))), kUser));
  CHECK(match(and_(not_(eq(path("Name"), lit("x"))), or_(eq(path("Age"), lit(1)), eq(path("Age"), lit(40)))),
              kUser));
  CHECK_FALSE(match(not_(or_(eq(path("Name"), lit("x")), eq(path("Age"), lit(40)))), kUser));
  CHECK(match(not_(method(MethodKind::Exists, path("Missing"), {})), kUser));
}

TEST_CASE("filter: id() is the document id, compared case-insensitively") {
  CHECK(match(eq(id_path(), lit("USERS/1")), kUser, "users/1"));
  CHECK_FALSE(match(eq(id_path(), lit("users/2")), kUser, "users/1"));
  CHECK(match(eq(id_path(), lit("Users/1"), true), kUser, "Users/1"));
  CHECK(match(method(MethodKind::StartsWith, id_path(), {lit("Users/")}), kUser, "users/1"));
  CHECK(match(method(MethodKind::EndsWith, id_path(), {lit("/1")}), kUser, "users/1"));
  CHECK(match(in(id_path(), {lit("users/2"), lit("users/1")}), kUser, "users/1"));
  CHECK(match(cmp(id_path(), CompareOp::Greater, lit("users/0")), kUser, "users/1"));
  CHECK(match(method(MethodKind::Exists, id_path(), {}), kUser, "users/1"));
}

TEST_CASE("filter: a compiled filter outlives its syntax tree and parameters") {
  std::optional<DocumentFilter> f;
  {
    auto where = and_(eq(path("Name"), param("n")), cmp(path("Age"), CompareOp::Less, lit(50)));
    auto p = params(R"({"n": "oren"})");
    auto compiled = DocumentFilter::compile(where.get(), p);
    REQUIRE(compiled.ok());
    f.emplace(std::move(compiled).value());
  }
  CHECK(f->matches(doc(kUser), "users/1"));
  CHECK_FALSE(f->matches(doc(R"({"Name": "oren", "Age": 60})"), "users/2"));
}
