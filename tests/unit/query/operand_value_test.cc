// resolve_operand: literals as written, parameters from the parameters object,
// a missing parameter named with its position.

#include "query/operand_value.h"

#include <doctest/doctest.h>

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
