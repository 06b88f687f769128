// The RQL evaluator in memory: how many documents per second DocumentFilter,
// DocumentSorter (key extraction and a stable sort) and Projector handle, on
// documents shaped like Northwind orders (~600 bytes of JSON, 3 order lines).
// No storage, no HTTP: the ceiling of a collection scan's evaluation cost.
// Not a test: it prints figures.
//
//   corvus-query-eval-bench [documents=200000] [repeat=3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "query/document_filter.h"
#include "query/document_sorter.h"
#include "query/projector.h"

using namespace corvus;
using namespace corvus::query;
namespace json = boost::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

FieldPath path(const std::string& text) {
  FieldPath p;
  p.text = text;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    std::string part = text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    FieldPath::Segment s;
    if (part.size() > 2 && part.ends_with("[]")) {
      s.each = true;
      part.resize(part.size() - 2);
    }
    s.name = part;
    p.segments.push_back(s);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return p;
}

ExpressionPtr node(auto n) {
  auto e = std::make_unique<Expression>();
  e->node = std::move(n);
  return e;
}

ExpressionPtr compare(const std::string& field, CompareOp op, json::value v) {
  return node(Comparison{path(field), op, Literal{std::move(v)}, false});
}

struct Row {
  std::string id;
  json::value document;
};

std::vector<Row> make_rows(int count) {
  std::mt19937_64 random(42);
  const char* cities[] = {"Lyon", "Berlin", "Madrid", "London", "Seattle", "Tokyo", "Lisbon", "Oslo"};
  const char* companies[] = {"Alfreds Futterkiste", "Ana Trujillo", "Antonio Moreno", "Around the Horn",
                             "Berglunds snabbkop", "Blauer See", "Blondel pere", "Bolido Comidas"};
  std::vector<Row> rows;
  rows.reserve(count);
  for (int i = 0; i < count; ++i) {
    json::object d;
    d["Company"] = "companies/" + std::to_string(random() % 90 + 1);
    d["CompanyName"] = companies[random() % 8];
    d["Employee"] = "employees/" + std::to_string(random() % 9 + 1);
    d["Freight"] = static_cast<double>(random() % 100000) / 100.0;
    d["OrderedAt"] = "1997-0" + std::to_string(random() % 9 + 1) + "-15T00:00:00.0000000";
    json::object ship;
    ship["City"] = cities[random() % 8];
    ship["Country"] = "Somewhere";
    ship["Line1"] = std::to_string(random() % 999) + " Main Street";
    d["ShipTo"] = std::move(ship);
    json::array lines;
    for (int l = 0; l < 3; ++l) {
      json::object line;
      line["Product"] = "products/" + std::to_string(random() % 77 + 1);
      line["ProductName"] = "Product number " + std::to_string(random() % 77 + 1);
      line["PricePerUnit"] = static_cast<double>(random() % 10000) / 100.0;
      line["Quantity"] = static_cast<int64_t>(random() % 50 + 1);
      lines.push_back(std::move(line));
    }
    d["Lines"] = std::move(lines);
    json::object metadata;
    metadata["@collection"] = "Orders";
    metadata["@change-vector"] = "A:" + std::to_string(i + 1) + "-abcdefghijklmnopqrstuv";
    d["@metadata"] = std::move(metadata);
    rows.push_back({"orders/" + std::to_string(i + 1) + "-A", std::move(d)});
  }
  return rows;
}

void report(const char* what, int documents, int repeat, const std::function<size_t()>& run) {
  std::vector<double> rates;
  size_t result = 0;
  for (int r = 0; r < repeat; ++r) {
    auto start = std::chrono::steady_clock::now();
    result = run();
    rates.push_back(documents / seconds_since(start));
  }
  std::sort(rates.begin(), rates.end());
  std::printf("%-48s %12.0f docs/s  (median of %d; result %zu)\n", what, rates[rates.size() / 2], repeat, result);
}

}  // namespace

int main(int argc, char** argv) {
  const int documents = argc > 1 ? std::atoi(argv[1]) : 200000;
  const int repeat = argc > 2 ? std::atoi(argv[2]) : 3;
  auto rows = make_rows(documents);

  auto filter_case = [&](const char* name, ExpressionPtr where) {
    auto filter = DocumentFilter::compile(where.get(), {});
    if (!filter.ok()) {
      std::fprintf(stderr, "%s\n", filter.status().to_string().c_str());
      std::exit(1);
    }
    report(name, documents, repeat, [&] {
      size_t matched = 0;
      for (const auto& row : rows) matched += filter->matches(row.document, row.id);
      return matched;
    });
  };
  filter_case("filter ShipTo.City = 'lyon'", compare("ShipTo.City", CompareOp::Equal, "lyon"));
  filter_case("filter Freight between-pair and Lines[].Quantity > 45",
              node(And{node(And{compare("Freight", CompareOp::GreaterOrEqual, 100),
                                compare("Freight", CompareOp::Less, 500.5)}),
                       compare("Lines[].Quantity", CompareOp::Greater, 45)}));
  filter_case("filter startsWith(CompanyName, 'b')",
              node(MethodCall{MethodKind::StartsWith, path("CompanyName"), {Literal{"b"}}, false, 0}));
  filter_case("filter regex(Lines[].ProductName, '7$')",
              node(MethodCall{MethodKind::Regex, path("Lines[].ProductName"), {Literal{"7$"}}, false, 0}));
  filter_case("filter search(CompanyName, 'see* horn')",
              node(MethodCall{MethodKind::Search, path("CompanyName"), {Literal{"see* horn"}}, false, 0}));

  auto sort_case = [&](const char* name, std::vector<OrderBy> order) {
    auto sorter = DocumentSorter::compile(order, {}, 7);
    if (!sorter.ok()) std::exit(1);
    report(name, documents, repeat, [&] {
      std::vector<std::pair<DocumentSorter::Key, size_t>> keyed;
      keyed.reserve(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) keyed.emplace_back(sorter->key_of(rows[i].document, rows[i].id), i);
      std::stable_sort(keyed.begin(), keyed.end(),
                       [&](const auto& a, const auto& b) { return sorter->less(a.first, b.first); });
      return keyed.front().second;
    });
  };
  OrderBy by_city;
  by_city.field = path("ShipTo.City");
  OrderBy by_freight;
  by_freight.field = path("Freight");
  by_freight.type = OrderingType::Double;
  by_freight.descending = true;
  sort_case("sort ShipTo.City, Freight as double desc", {by_city, by_freight});
  OrderBy by_name;
  by_name.field = path("Lines[].ProductName");
  by_name.type = OrderingType::AlphaNumeric;
  sort_case("sort Lines[].ProductName as alphaNumeric", {by_name});

  Query query;
  query.alias = "o";
  query.loads.push_back(Load{path("Company"), "c"});
  query.select.push_back(Projection{path("ShipTo.City"), "City", std::nullopt});
  query.select.push_back(Projection{path("Lines[].Product"), "Products", std::nullopt});
  query.select.push_back(Projection{path("Freight"), "Freight", std::nullopt});
  FieldPath id;
  id.is_id = true;
  query.select.push_back(Projection{id, "Id", std::nullopt});
  FieldPath company_name = path("Name");
  company_name.alias = "c";
  query.select.push_back(Projection{company_name, "Company", std::nullopt});
  auto projector = Projector::compile(query, {});
  if (!projector.ok()) return 1;
  const json::value company = json::parse(R"({"Name": "Acme", "@metadata": {"@collection": "Companies"}})");
  report("project City, Lines[].Product, Freight, id(), c.Name", documents, repeat, [&] {
    size_t bytes = 0;
    for (const auto& row : rows) {
      auto ids = projector->load_ids(row.document);
      auto out = projector->project(row.document, row.id, {ids[0].empty() ? nullptr : &company});
      bytes += out.size();
    }
    return bytes;
  });
  return 0;
}
