// The evaluator on syntax trees from the real parser: parse_rql, then
// DocumentFilter, DocumentSorter (stable sort) and Projector over a few
// documents, the way the query runner chains them. Checks that the evaluator
// reads the parser's trees as intended (aliases, exact(), search's operator,
// projection names, order by types).

#include <doctest/doctest.h>

#include <algorithm>

#include "query/document_filter.h"
#include "query/document_sorter.h"
#include "query/projector.h"
#include "query/rql_parser.h"
#include "tests/unit/query/ast_builders.h"

using namespace corvus::query;
using namespace corvus::query::test;
namespace json = boost::json;

namespace {

struct Stored {
  std::string id;
  json::value document;
};

const std::vector<Stored>& users() {
  static const std::vector<Stored> all = {
      {"users/1", doc(R"({"Name": "Oren", "Age": 40, "Tags": ["db", "raven"], "Address": {"City": "Hadera"},
                         "Bio": "Loves coffee and tea", "Company": "companies/1", "@metadata": {"@collection": "Users"}})")},
      {"users/2", doc(R"({"Name": "oren", "Age": 25, "Tags": ["db"], "Address": {"City": "Haifa"},
                         "Bio": "Drinks tea", "Company": "companies/2", "@metadata": {"@collection": "Users"}})")},
      {"users/3", doc(R"({"Name": "Ayende", "Age": "33", "Tags": [], "Address": {"City": "hadera"},
                         "Bio": "Coffee!", "@metadata": {"@collection": "Users"}})")},
      {"users/4", doc(R"({"Name": "Item10", "Address": null, "@metadata": {"@collection": "Users"}})")},
  };
  return all;
}

const json::value* company(const std::string& id) {
  static const json::value one = doc(R"({"Name": "Hibernating Rhinos", "@metadata": {"@collection": "Companies"}})");
  return id == "companies/1" ? &one : nullptr;
}

// Filter, sort, project: the ids of the matching documents in order, and the
// projected objects when the query has a select.
struct Run {
  std::vector<std::string> ids;
  std::vector<json::object> projected;
};

Run run(const char* rql, const char* parameters = "{}") {
  auto query = parse_rql(rql);
  REQUIRE_MESSAGE(query.ok(), query.status().to_string());
  const auto p = params(parameters);
  auto filter = DocumentFilter::compile(*query, p);
  REQUIRE_MESSAGE(filter.ok(), filter.status().to_string());
  auto sorter = DocumentSorter::compile(query->order_by, p, 1);
  REQUIRE_MESSAGE(sorter.ok(), sorter.status().to_string());
  auto projector = Projector::compile(*query, p);
  REQUIRE_MESSAGE(projector.ok(), projector.status().to_string());

  std::vector<std::pair<DocumentSorter::Key, const Stored*>> matched;
  for (const auto& stored : users()) {
    if (filter->matches(stored.document, stored.id)) matched.emplace_back(sorter->key_of(stored.document, stored.id), &stored);
  }
  std::stable_sort(matched.begin(), matched.end(),
                   [&](const auto& a, const auto& b) { return sorter->less(a.first, b.first); });
  Run result;
  for (const auto& [key, stored] : matched) {
    result.ids.push_back(stored->id);
    if (projector->empty()) continue;
    std::vector<const json::value*> loaded;
    for (const auto& id : projector->load_ids(stored->document)) loaded.push_back(company(id));
    result.projected.push_back(projector->project(stored->document, stored->id, loaded));
  }
  return result;
}

using Ids = std::vector<std::string>;

}  // namespace

TEST_CASE("rql: equality with a parameter is case-insensitive; exact() is not") {
  CHECK(run("from Users where Name = $p0", R"({"p0": "OREN"})").ids == Ids{"users/1", "users/2"});
  CHECK(run("from Users where exact(Name = 'Oren')").ids == Ids{"users/1"});
  CHECK(run("from Users where Name != 'oren'").ids == Ids{"users/3", "users/4"});
}

TEST_CASE("rql: aliases, nested paths, between, and/or/not") {
  CHECK(run("from Users as u where u.Address.City = 'HADERA' and u.Age between 30 and 50").ids == Ids{"users/1"});
  CHECK(run("from Users where Age > 30 or Name = 'item10'").ids == Ids{"users/1", "users/4"});
  CHECK(run("from Users where not Name = 'oren' and exists(Address)").ids == Ids{"users/3", "users/4"});
  // An empty array reaches nothing: RavenDB indexes no term for [] (only Tags_IsArray).
  CHECK(run("from Users where exists(Tags)").ids == Ids{"users/1", "users/2"});
  CHECK(run("from Users where Address = null").ids == Ids{"users/4"});
  CHECK(run("from Users where Age = '33'").ids == Ids{"users/3"});
}

TEST_CASE("rql: in, all in, methods") {
  CHECK(run("from Users where Tags in ($t)", R"({"t": ["RAVEN", "x"]})").ids == Ids{"users/1"});
  CHECK(run("from Users where Tags all in ('db', 'raven')").ids == Ids{"users/1"});
  CHECK(run("from Users where startsWith(Address.City, 'ha') and endsWith(Name, 'EN')").ids ==
        Ids{"users/1", "users/2"});
  CHECK(run("from Users where regex(Name, '^o')").ids == Ids{"users/1", "users/2"});
  CHECK(run("from Users where search(Bio, 'coffee tea', and)").ids == Ids{"users/1"});
  CHECK(run("from Users where search(Bio, 'coffee tea')").ids == Ids{"users/1", "users/2", "users/3"});
  CHECK(run("from Users where startsWith(id(), 'USERS/') and id() != 'users/2'").ids ==
        Ids{"users/1", "users/3", "users/4"});
}

TEST_CASE("rql: order by types and directions") {
  CHECK(run("from Users order by Age as long desc").ids == Ids{"users/1", "users/3", "users/2", "users/4"});
  CHECK(run("from Users order by Name, Age as long").ids == Ids{"users/3", "users/4", "users/2", "users/1"});
  CHECK(run("from Users order by id() desc").ids == Ids{"users/4", "users/3", "users/2", "users/1"});
  CHECK(run("from Users order by random('x')").ids == run("from Users order by random('x')").ids);
  CHECK(run("from Users order by score()").ids == Ids{"users/1", "users/2", "users/3", "users/4"});
}

TEST_CASE("rql: select with load, aliases, id() and a whole loaded document") {
  auto r = run("from Users as u where u.Age = 40 or u.Age = 25 load u.Company as c "
               "select u.Name, c.Name as Company, id() as Id, u.Address.City as City, c");
  REQUIRE(r.projected.size() == 2);
  CHECK(r.projected[0] == doc(R"({"Name": "Oren", "Company": "Hibernating Rhinos", "Id": "users/1", "City": "Hadera",
                                  "c": {"Name": "Hibernating Rhinos"}})")
                              .as_object());
  CHECK(r.projected[1] == doc(R"({"Name": "oren", "Company": null, "Id": "users/2", "City": "Haifa", "c": null})")
                              .as_object());
}

TEST_CASE("rql: a missing parameter fails at compile, naming it") {
  auto query = parse_rql("from Users where Name = $nope");
  REQUIRE(query.ok());
  auto filter = DocumentFilter::compile(query->where.get(), {});
  REQUIRE_FALSE(filter.ok());
  CHECK(filter.status().message().find("$nope") != std::string::npos);
}

TEST_CASE("rql: where and order by cannot read a loaded document: InvalidArgument naming its alias") {
  auto where = parse_rql("from Orders as o load o.Company as c where c.Name = 'Acme'");
  REQUIRE(where.ok());
  auto filter = DocumentFilter::compile(*where, {});
  REQUIRE_FALSE(filter.ok());
  CHECK(filter.status().is_invalid_argument());
  CHECK(filter.status().message().find("'c.Name'") != std::string::npos);

  auto deep = parse_rql("from Orders as o load o.Company as c where o.A = 1 and (o.B = 2 or not exists(c.Name))");
  REQUIRE(deep.ok());
  CHECK(DocumentFilter::compile(*deep, {}).status().is_invalid_argument());

  auto order = parse_rql("from Orders as o load o.Company as c order by c.Name");
  REQUIRE(order.ok());
  auto sorter = DocumentSorter::compile(*order, {});
  REQUIRE_FALSE(sorter.ok());
  CHECK(sorter.status().message().find("'c.Name'") != std::string::npos);

  auto fine = parse_rql("from Orders as o load o.Company as c where o.Freight > 1 order by o.Freight select c.Name");
  REQUIRE(fine.ok());
  CHECK(DocumentFilter::compile(*fine, {}).ok());
  CHECK(DocumentSorter::compile(*fine, {}).ok());
}
