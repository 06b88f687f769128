// collect_field_values: nested objects, arrays expanded (implicitly and with
// x[]), an array at the end yields its elements, missing yields nothing, null
// is reached.

#include "query/field_values.h"

#include <doctest/doctest.h>

#include "tests/unit/query/ast_builders.h"

using namespace corvus::query;
using namespace corvus::query::test;
namespace json = boost::json;

namespace {
json::array values_at(const json::value& document, const std::string& text) {
  std::vector<const json::value*> out;
  collect_field_values(document, path(text), out);
  json::array result;
  for (const auto* v : out) result.push_back(*v);
  return result;
}
}  // namespace

TEST_CASE("collect_field_values: top-level and nested fields") {
  auto d = doc(R"({"Name": "Oren", "Address": {"City": "Hadera", "Zip": null}, "@metadata": {"@collection": "Users"}})");
  CHECK(values_at(d, "Name") == json::array{"Oren"});
  CHECK(values_at(d, "Address.City") == json::array{"Hadera"});
  CHECK(values_at(d, "Address.Zip") == json::array{nullptr});
  CHECK(values_at(d, "@metadata.@collection") == json::array{"Users"});
}

TEST_CASE("collect_field_values: missing fields and paths through scalars reach nothing") {
  auto d = doc(R"({"Name": "Oren", "Address": {"City": "Hadera"}})");
  CHECK(values_at(d, "Age").empty());
  CHECK(values_at(d, "Address.Street").empty());
  CHECK(values_at(d, "Name.First").empty());
  CHECK(values_at(d, "Missing.Deeper").empty());
}

TEST_CASE("collect_field_values: arrays are expanded with x[] and implicitly, at the end and in the middle") {
  auto d = doc(R"({"Tags": ["a", "b", ["c"]], "Lines": [{"Product": "p1", "Qty": 1}, {"Product": "p2"}, {"Qty": 3}, 7],
                  "Empty": []})");
  CHECK(values_at(d, "Tags") == json::array{"a", "b", "c"});
  CHECK(values_at(d, "Tags[]") == json::array{"a", "b", "c"});
  CHECK(values_at(d, "Lines[].Product") == json::array{"p1", "p2"});
  CHECK(values_at(d, "Lines.Product") == json::array{"p1", "p2"});
  CHECK(values_at(d, "Lines[].Qty") == json::array{1, 3});
  CHECK(values_at(d, "Empty").empty());
}

TEST_CASE("collect_field_values: arrays nested in arrays") {
  auto d = doc(R"({"Orders": [{"Lines": [{"P": 1}, {"P": 2}]}, {"Lines": [{"P": 3}]}]})");
  CHECK(values_at(d, "Orders[].Lines[].P") == json::array{1, 2, 3});
}

TEST_CASE("collect_field_values: an empty path reaches nothing") {
  std::vector<const json::value*> out;
  collect_field_values(doc(R"({"a": 1})"), FieldPath{}, out);
  CHECK(out.empty());
}
