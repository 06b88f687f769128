// The contract between the auto-index lookups (query/index_lookup.h) and the
// filter: for every where clause, the index's candidates include every document
// the filter accepts (the runner evaluates the filter only on candidates, so a
// document missing from them is a wrong answer, not a slow one). Checked over
// documents with values of every JSON type, mixed case, non-ASCII letters,
// arrays and objects, and clauses of every kind the lookup narrows.

#include <doctest/doctest.h>

#include "query/auto_index.h"
#include "query/document_filter.h"
#include "query/index_lookup.h"
#include "query/rql_parser.h"
#include "storage/documents_storage.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/query/ast_builders.h"

using namespace corvus;
using namespace corvus::query;
using namespace corvus::query::test;
namespace json = boost::json;

namespace {

const std::vector<std::pair<std::string, std::string>>& documents() {
  static const std::vector<std::pair<std::string, std::string>> all = {
      {"users/1", R"({"Name": "Émile", "Age": 40, "Tags": ["db", "Raven"], "Address": {"City": "Hadera"}, "Flag": true})"},
      {"users/2", R"({"Name": "émile", "Age": 40.0, "Tags": [], "Address": null, "Flag": "TRUE"})"},
      {"users/3", R"({"Name": "ПРИВЕТ", "Age": "40", "Tags": "db", "Address": {"City": "haifa"}, "Flag": false})"},
      {"users/4", R"({"Name": 5, "Age": 9007199254740993, "Tags": [["nested"]], "Address": [{"City": "Lyon"}]})"},
      {"users/5", R"({"Name": "Zoë", "Age": -1.5, "Address": "Main Street 5"})"},
      {"users/6", R"({"Other": 1})"},
  };
  return all;
}

}  // namespace

TEST_CASE("index candidates include every document the filter accepts, and exactly those when they say exact") {
  testing::TempDir dir;
  std::vector<FieldPath> fields = {path("Name"), path("Age"), path("Tags"), path("Address"), path("Address.City"),
                                   path("Flag")};
  auto index = AutoIndex::open(dir.sub("index"), make_auto_index_definition("Users", fields));
  REQUIRE_MESSAGE(index.ok(), index.status().to_string());

  std::vector<storage::Change> changes;
  uint64_t etag = 0;
  for (const auto& [id, body] : documents()) {
    storage::Document d;
    d.id = id;
    d.collection = "Users";
    d.etag = ++etag;
    d.json = body;
    changes.emplace_back(std::move(d));
  }
  REQUIRE((*index)->index(changes, etag, 1).ok());

  const char* queries[] = {
      "from Users where Name = 'ÉMILE'",
      "from Users where Name = 'привет'",
      "from Users where Name = '5'",
      "from Users where Name = 5",
      "from Users where Age = 40",
      "from Users where Age = '40'",
      "from Users where Age = 9007199254740993",
      "from Users where Age > 39 and Age < 41",
      "from Users where Age >= -1.5",
      "from Users where Age between -2 and 40",
      "from Users where Name > 'e' and Name <= 'ZOË'",
      "from Users where Name < 'П'",
      "from Users where exact(Name = 'émile')",
      "from Users where exact(Name >= 'É')",
      "from Users where Tags = 'RAVEN'",
      "from Users where Tags in ('x', 'DB')",
      "from Users where Tags all in ('db', 'raven')",
      "from Users where Tags = 'nested'",
      "from Users where Flag = true",
      "from Users where Flag = 'false'",
      "from Users where Address.City = 'LYON'",
      "from Users where startsWith(Address.City, 'HA')",
      "from Users where startsWith(Name, 'émi')",
      "from Users where exact(startsWith(Name, 'é'))",
      "from Users where exists(Name)",
      "from Users where exists(Tags)",
      "from Users where exists(Address)",
      "from Users where exists(Address.City)",
      "from Users where Name = null",
      "from Users where Address = null",
      "from Users where Name = 'x' or Age = 40",
      "from Users where (Name = 'zoë' or exists(Flag)) and Age != 3",
  };
  int exact_answers = 0;
  for (const char* rql : queries) {
    const std::string text = rql;
    CAPTURE(text);
    auto query = parse_rql(rql);
    REQUIRE_MESSAGE(query.ok(), query.status().to_string());
    auto filter = DocumentFilter::compile(query->where.get(), {});
    REQUIRE_MESSAGE(filter.ok(), filter.status().to_string());
    auto candidates = index_candidates(*query->where, **index, {});
    REQUIRE_MESSAGE(candidates.ok(), candidates.status().to_string());
    if (!candidates.value()) continue;  // no narrowing: every document is a candidate
    const auto& found = candidates.value()->documents;
    exact_answers += candidates.value()->exact ? 1 : 0;
    for (const auto& [id, body] : documents()) {
      const bool matches = filter->matches(json::parse(body), id);
      const bool candidate = found.count(storage::lower_id(id)) == 1;
      if (matches) CHECK_MESSAGE(candidate, id << " matches but is not a candidate");
      // An exact answer is the matches, no more.
      if (candidates.value()->exact)
        CHECK_MESSAGE(matches == candidate, id << ": matches " << matches << ", candidate " << candidate);
    }
  }
  // Most single conditions are answered exactly (counted without reading documents).
  CHECK(exact_answers >= 10);
}
