// Projector: fields, nested paths, arrays (x[] and implicit), id(), aliases of
// the queried and of loaded documents, whole documents by alias, load ids,
// duplicate names and unknown aliases, counters.

#include "query/projector.h"

#include <doctest/doctest.h>

#include "tests/unit/query/ast_builders.h"

using namespace corvus::query;
using namespace corvus::query::test;
namespace json = boost::json;

namespace {

Projection select(FieldPath field, const std::string& name) { return Projection{std::move(field), name, std::nullopt}; }

Projector compile_ok(const Query& query) {
  auto p = Projector::compile(query, {});
  REQUIRE_MESSAGE(p.ok(), p.status().to_string());
  return std::move(p).value();
}

const char* kOrder = R"({"Company": "companies/1", "Employee": "employees/7", "Freight": 12.5,
  "ShipTo": {"City": "Lyon", "Zip": null},
  "Tags": ["urgent", "gift"],
  "Lines": [{"Product": "products/1", "Qty": 2}, {"Product": "products/2"}, {"Qty": 4}],
  "@metadata": {"@collection": "Orders", "@change-vector": "A:1"}})";

}  // namespace

TEST_CASE("projector: no select is empty") {
  Query q;
  CHECK(compile_ok(q).empty());
}

TEST_CASE("projector: fields by name and alias, nested paths, missing is null, id()") {
  Query q;
  q.select.push_back(select(path("Freight"), "Freight"));
  q.select.push_back(select(path("ShipTo.City"), "City"));
  q.select.push_back(select(path("ShipTo.Zip"), "Zip"));
  q.select.push_back(select(path("Missing"), "Missing"));
  q.select.push_back(select(path("ShipTo.Missing.Deeper"), "Deeper"));
  q.select.push_back(select(id_path(), "Id"));
  auto projector = compile_ok(q);
  CHECK_FALSE(projector.empty());
  auto out = projector.project(doc(kOrder), "orders/1", {});
  CHECK(out == doc(R"({"Freight": 12.5, "City": "Lyon", "Zip": null, "Missing": null, "Deeper": null,
                       "Id": "orders/1"})").as_object());
}

TEST_CASE("projector: arrays: x[] and implicit expansion give arrays; an array or object field as stored") {
  Query q;
  q.select.push_back(select(path("Lines[].Product"), "Product"));
  q.select.push_back(select(path("Lines.Qty"), "Qty"));
  q.select.push_back(select(path("Tags"), "Tags"));
  q.select.push_back(select(path("ShipTo"), "ShipTo"));
  q.select.push_back(select(path("Tags[]"), "EachTag"));
  q.select.push_back(select(path("NoLines[].Product"), "None"));
  auto out = compile_ok(q).project(doc(kOrder), "orders/1", {});
  CHECK(out == doc(R"({"Product": ["products/1", "products/2"], "Qty": [2, 4], "Tags": ["urgent", "gift"],
                       "ShipTo": {"City": "Lyon", "Zip": null}, "EachTag": ["urgent", "gift"], "None": null})")
                   .as_object());
}

TEST_CASE("projector: a one-element array through x[] is still an array") {
  Query q;
  q.select.push_back(select(path("Lines[].Product"), "Product"));
  auto out = compile_ok(q).project(doc(R"({"Lines": [{"Product": "p"}]})"), "orders/2", {});
  CHECK(out.at("Product") == json::array{"p"});
  auto empty = compile_ok(q).project(doc(R"({"Lines": []})"), "orders/3", {});
  CHECK(empty.at("Product") == json::array{});
}

TEST_CASE("projector: paths with the from alias read the queried document; a bare alias is the body") {
  Query q;
  q.alias = "o";
  q.select.push_back(select(path("ShipTo.City", "o"), "City"));
  q.select.push_back(select(alias_path("o"), "o"));
  auto out = compile_ok(q).project(doc(kOrder), "orders/1", {});
  CHECK(out.at("City") == "Lyon");
  const auto& body = out.at("o").as_object();
  CHECK_FALSE(body.contains("@metadata"));
  CHECK(body.at("Company") == "companies/1");
  CHECK(body.at("Lines").as_array().size() == 3);
}

TEST_CASE("projector: load ids, fields of loaded documents, null when not loaded, id(alias)") {
  Query q;
  q.alias = "o";
  q.loads.push_back(Load{path("Company", "o"), "c"});
  q.loads.push_back(Load{path("Employee"), "e"});
  q.select.push_back(select(path("Freight", "o"), "Freight"));
  q.select.push_back(select(path("Name", "c"), "Company"));
  q.select.push_back(select(path("Address.City", "c"), "CompanyCity"));
  q.select.push_back(select(path("LastName", "e"), "Employee"));
  q.select.push_back(select(id_path("c"), "CompanyId"));
  q.select.push_back(select(alias_path("c"), "c"));
  auto projector = compile_ok(q);

  const auto order = doc(kOrder);
  CHECK(projector.load_ids(order) == std::vector<std::string>{"companies/1", "employees/7"});
  CHECK(projector.load_ids(doc(R"({"Company": 5})")) == std::vector<std::string>{"", ""});

  const auto company = doc(R"({"Name": "Acme", "Address": {"City": "Paris"}, "@metadata": {"@collection": "Companies"}})");
  auto out = projector.project(order, "orders/1", {&company, nullptr});
  CHECK(out == doc(R"({"Freight": 12.5, "Company": "Acme", "CompanyCity": "Paris", "Employee": null,
                       "CompanyId": "companies/1", "c": {"Name": "Acme", "Address": {"City": "Paris"}}})")
                   .as_object());
  // Fewer loaded entries than loads: the rest count as missing.
  auto none = projector.project(order, "orders/1", {});
  CHECK(none.at("Company").is_null());
  CHECK(none.at("CompanyId").is_null());
  CHECK(none.at("c").is_null());
}

TEST_CASE("projector: duplicate output names are InvalidArgument (RavenDB: Duplicate alias)") {
  Query q;
  q.loads.push_back(Load{path("Company"), "c"});
  q.select.push_back(select(path("Name"), "Name"));
  q.select.push_back(select(path("Name", "c"), "Name"));
  auto p = Projector::compile(q, {});
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().is_invalid_argument());
  CHECK(p.status().message().find("Name") != std::string::npos);
}

TEST_CASE("projector: an unknown alias or a load through a loaded document is InvalidArgument") {
  Query unknown;
  unknown.select.push_back(select(path("Name", "x"), "Name"));
  auto a = Projector::compile(unknown, {});
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().is_invalid_argument());
  CHECK(a.status().message().find("'x'") != std::string::npos);

  Query chained;
  chained.alias = "o";
  chained.loads.push_back(Load{path("Company", "o"), "c"});
  chained.loads.push_back(Load{path("Owner", "c"), "owner"});
  auto b = Projector::compile(chained, {});
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().is_invalid_argument());
}

TEST_CASE("projector: the from alias and load aliases match case-insensitively") {
  Query q;
  q.alias = "o";
  q.loads.push_back(Load{path("Company", "O"), "c"});
  q.select.push_back(select(path("Name", "C"), "Company"));
  auto projector = compile_ok(q);
  const auto company = doc(R"({"Name": "Acme"})");
  CHECK(projector.project(doc(kOrder), "orders/1", {&company}).at("Company") == "Acme");
}

TEST_CASE("projector: counter() projects the value given for its name, null when missing") {
  Query q;
  q.select.push_back(select(path("Freight"), "Freight"));
  Projection likes = select(FieldPath{}, "Likes");
  likes.counter = lit("Likes");
  q.select.push_back(likes);
  Projection named = select(FieldPath{}, "");
  named.counter = param("c");
  q.select.push_back(named);
  auto p = Projector::compile(q, params(R"({"c": "Downloads"})"));
  REQUIRE_MESSAGE(p.ok(), p.status().to_string());
  CHECK(p->counter_names() == std::vector<std::string>{"Likes", "Downloads"});
  auto out = p->project(doc(kOrder), "orders/1", {}, {std::nullopt, 7});
  CHECK(out == doc(R"({"Freight": 12.5, "Likes": null, "Downloads": 7})").as_object());
  auto bad = Projector::compile(q, params(R"({"c": 5})"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("must be a non-empty string") != std::string::npos);
}
