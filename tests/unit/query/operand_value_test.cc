// resolve_operand: literals as written, parameters from the parameters object,
// a missing parameter named with its position, cmpxchg() values from the
// values bound beside the parameters; the keys a query's where clause reads.

#include "query/operand_value.h"

#include <doctest/doctest.h>

#include "query/rql_parser.h"
#include "tests/unit/query/ast_builders.h"

using namespace corvus::query;
using namespace corvus::query::test;

TEST_CASE("resolve_operand: a literal is its own value") {
  auto v = resolve_operand(lit("Oren"), {});
  REQUIRE(v.ok());
  CHECK(*v == boost::json::value("Oren"));
}

TEST_CASE("resolve_operand: a parameter is read from the parameters, any JSON type") {
  auto p = params(R"({"p0": 42, "ids": ["a", "b"]})");
  auto v = resolve_operand(param("p0"), p);
  REQUIRE(v.ok());
  CHECK(*v == boost::json::value(42));
  auto ids = resolve_operand(param("ids"), p);
  REQUIRE(ids.ok());
  CHECK(ids->is_array());
}

TEST_CASE("resolve_operand: a missing parameter is InvalidArgument naming it and its position") {
  auto v = resolve_operand(param("name", 27), params(R"({"other": 1})"));
  REQUIRE_FALSE(v.ok());
  CHECK(v.status().is_invalid_argument());
  CHECK(v.status().message().find("$name") != std::string::npos);
  CHECK(v.status().message().find("27") != std::string::npos);
}

namespace {

Operand cmpxchg(Operand key) {
  CompareExchangeValue v;
  if (auto* l = std::get_if<Literal>(&key)) v.key = *l;
  if (auto* p = std::get_if<Parameter>(&key)) v.key = *p;
  return v;
}

}  // namespace

TEST_CASE("resolve_operand: cmpxchg() reads the bound values; a missing entry is null") {
  auto p = params(R"({"k": "Hera", "n": 3, "@cmpxchg": {"Hera": "Zeus", "Tom": {"Nested": 1}}})");
  auto by_literal = resolve_operand(cmpxchg(lit("Tom")), p);
  REQUIRE(by_literal.ok());
  CHECK(*by_literal == boost::json::parse(R"({"Nested": 1})"));
  auto by_parameter = resolve_operand(cmpxchg(param("k")), p);
  REQUIRE(by_parameter.ok());
  CHECK(*by_parameter == boost::json::value("Zeus"));
  auto missing = resolve_operand(cmpxchg(lit("Gaya")), p);
  REQUIRE(missing.ok());
  CHECK(missing->is_null());
  auto not_a_string = resolve_operand(cmpxchg(param("n")), p);
  REQUIRE_FALSE(not_a_string.ok());
  CHECK(not_a_string.status().message().find("must be a string") != std::string::npos);
  // Nothing bound (a query kind that does not read the cluster state): said, not null.
  auto unbound = resolve_operand(cmpxchg(lit("Tom")), params(R"({})"));
  REQUIRE_FALSE(unbound.ok());
  CHECK(unbound.status().message().find("cannot be used") != std::string::npos);
}

TEST_CASE("compare_exchange_value_keys: every cmpxchg() of the where clause, parameters resolved") {
  auto q = parse_rql("from Users where (Name = cmpxchg('a') or Age between cmpxchg($lo) and 5) "
                     "and not Tag in (cmpxchg('c'), 'd') and startsWith(Name, cmpxchg('a'))");
  REQUIRE(q.ok());
  auto keys = compare_exchange_value_keys(q.value(), params(R"({"lo": "b"})"));
  REQUIRE(keys.ok());
  CHECK(keys.value() == std::set<std::string>{"a", "b", "c"});
  auto none = compare_exchange_value_keys(parse_rql("from Users where Name = 'a'").value(), {});
  REQUIRE(none.ok());
  CHECK(none.value().empty());
  CHECK_FALSE(compare_exchange_value_keys(q.value(), params(R"({})")).ok());  // $lo missing
}
