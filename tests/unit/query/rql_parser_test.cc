#include "query/rql_parser.h"

#include <doctest/doctest.h>

#include <boost/json/serialize.hpp>
#include <random>
#include <string>

using namespace corvus::query;

namespace {

Query parse_ok(const std::string& text) {
  auto q = parse_rql(text);
  INFO(text);
  INFO(q.status().to_string());
  REQUIRE(q.ok());
  return std::move(q).value();
}

std::string parse_error(const std::string& text) {
  auto q = parse_rql(text);
  INFO(text);
  REQUIRE_FALSE(q.ok());
  CHECK(q.status().is_invalid_argument());
  CHECK(q.status().message().rfind("RQL: ", 0) == 0);
  return q.status().message();
}

// A compact form of trees, so each test states the whole shape it expects.
std::string show(const FieldPath& f) {
  std::string s = f.alias.empty() ? "" : f.alias + ":";
  if (f.is_id) return s + "id()";
  for (size_t i = 0; i < f.segments.size(); ++i) {
    if (i > 0) s += '.';
    s += f.segments[i].name;
    if (f.segments[i].each) s += "[]";
  }
  return s;
}

std::string show(const Operand& o) {
  if (auto* p = std::get_if<Parameter>(&o)) return "$" + p->name;
  return boost::json::serialize(std::get<Literal>(o).value);
}

const char* show(CompareOp op) {
  switch (op) {
    case CompareOp::Equal: return "=";
    case CompareOp::NotEqual: return "!=";
    case CompareOp::Less: return "<";
    case CompareOp::LessOrEqual: return "<=";
    case CompareOp::Greater: return ">";
    case CompareOp::GreaterOrEqual: return ">=";
  }
  return "?";
}

const char* show(MethodKind kind) {
  switch (kind) {
    case MethodKind::StartsWith: return "startsWith";
    case MethodKind::EndsWith: return "endsWith";
    case MethodKind::Exists: return "exists";
    case MethodKind::Regex: return "regex";
    case MethodKind::Search: return "search";
  }
  return "?";
}

std::string show(const Expression& e) {
  const std::string x = "exact ";
  if (auto* c = std::get_if<Comparison>(&e.node)) {
    return "(" + (c->exact ? x : "") + show(c->op) + " " + show(c->field) + " " + show(c->value) +
           ")";
  }
  if (auto* in = std::get_if<InList>(&e.node)) {
    std::string s = "(" + (in->exact ? x : "") + (in->all ? "all-in " : "in ") + show(in->field);
    for (const auto& v : in->values) s += " " + show(v);
    return s + ")";
  }
  if (auto* b = std::get_if<Between>(&e.node)) {
    return "(" + (b->exact ? x : "") + "between " + show(b->field) + " " + show(b->low) + " " +
           show(b->high) + ")";
  }
  if (auto* m = std::get_if<MethodCall>(&e.node)) {
    std::string s = "(" + (m->exact ? x : "") + show(m->kind) + " " + show(m->field);
    for (const auto& v : m->arguments) s += " " + show(v);
    return s + ")";
  }
  if (std::get_if<TrueExpression>(&e.node)) return "true";
  if (auto* a = std::get_if<And>(&e.node))
    return "(and " + show(*a->left) + " " + show(*a->right) + ")";
  if (auto* o = std::get_if<Or>(&e.node))
    return "(or " + show(*o->left) + " " + show(*o->right) + ")";
  return "(not " + show(*std::get<Not>(e.node).operand) + ")";
}

std::string where_of(const std::string& text) {
  Query q = parse_ok(text);
  REQUIRE(q.where != nullptr);
  return show(*q.where);
}

}  // namespace

TEST_CASE("RQL parser: from a collection, @all_docs or an index, with an alias") {
  Query q = parse_ok("from Users");
  CHECK(q.source == SourceKind::Collection);
  CHECK(q.source_name == "Users");
  CHECK(q.alias.empty());
  CHECK(q.where == nullptr);
  CHECK_FALSE(q.limit.has_value());

  CHECK(parse_ok("from 'Users'").source_name == "Users");
  CHECK(parse_ok("from \"Order Lines\"").source_name == "Order Lines");
  CHECK(parse_ok("from 'It\\'s'").source_name == "It's");  // StringUtil.escapeString
  CHECK(parse_ok("FROM Users").source_name == "Users");

  q = parse_ok("from @all_docs");
  CHECK(q.source == SourceKind::AllDocs);
  CHECK(q.source_name.empty());

  q = parse_ok("from index 'Orders/Totals' as o");
  CHECK(q.source == SourceKind::Index);
  CHECK(q.source_name == "Orders/Totals");
  CHECK(q.alias == "o");

  CHECK(parse_ok("from Users as u").alias == "u");
  CHECK(parse_ok("from Users u where u.Name = 1").alias == "u");
  CHECK(parse_ok("from 'Users' AS u").alias == "u");
  // A collection called "index" is still a collection.
  q = parse_ok("from index where x = 1");
  CHECK(q.source == SourceKind::Collection);
  CHECK(q.source_name == "index");
}

TEST_CASE("RQL parser: comparison operators and values") {
  CHECK(where_of("from Users where Name = $p0") == "(= Name $p0)");
  CHECK(where_of("from Users where Name == 'x'") == "(= Name \"x\")");
  CHECK(where_of("from Users where Age != 3") == "(!= Age 3)");
  CHECK(where_of("from Users where Age <> 3") == "(!= Age 3)");
  CHECK(where_of("from Users where Age = 10_000") == "(= Age 10000)");
  CHECK(where_of("from Users where Age < -3") == "(< Age -3)");
  CHECK(where_of("from Users where Age <= 2.5") == "(<= Age 2.5E0)");
  CHECK(where_of("from Users where Age > -0.5") == "(> Age -5E-1)");
  CHECK(where_of("from Users where Age >= $minAge") == "(>= Age $minAge)");
  CHECK(where_of("from Users where Active = true") == "(= Active true)");
  CHECK(where_of("from Users where Active = FALSE") == "(= Active false)");
  CHECK(where_of("from Users where Boss = null") == "(= Boss null)");
  CHECK(where_of("from Users where Name = \"a\\\"b\"") == "(= Name \"a\\\"b\")");
  CHECK(where_of("from Users where N = 9223372036854775807") == "(= N 9223372036854775807)");

  Query q = parse_ok("from Users where Name = $p0");
  const auto& cmp = std::get<Comparison>(q.where->node);
  CHECK(cmp.field.position == 17);
  CHECK(std::get<Parameter>(cmp.value).position == 24);
  CHECK(cmp.field.text == "Name");
  CHECK_FALSE(cmp.exact);
}

TEST_CASE("RQL parser: in, all in, between") {
  CHECK(where_of("from Users where Name in ($p0)") == "(in Name $p0)");
  CHECK(where_of("from Users where Name in ('a', 'b', 3)") == "(in Name \"a\" \"b\" 3)");
  CHECK(where_of("from Users where Tags all in ($p0)") == "(all-in Tags $p0)");
  CHECK(where_of("from Users where Tags ALL IN ('a','b')") == "(all-in Tags \"a\" \"b\")");
  CHECK(where_of("from Users where Name in ()") == "(in Name)");
  CHECK(where_of("from Users where Age between $p0 and $p1") == "(between Age $p0 $p1)");
  CHECK(where_of("from Users where Age between 1 and 5 and Name = 'x'") ==
        "(and (between Age 1 5) (= Name \"x\"))");
}

TEST_CASE("RQL parser: methods") {
  CHECK(where_of("from Users where startsWith(Name, $p0)") == "(startsWith Name $p0)");
  CHECK(where_of("from Users where StartsWith(Name, 'a')") == "(startsWith Name \"a\")");
  CHECK(where_of("from Users where endsWith(Name, $p0)") == "(endsWith Name $p0)");
  CHECK(where_of("from Users where exists(Address.City)") == "(exists Address.City)");
  CHECK(where_of("from Users where regex(Name, '^a\\d+')") == "(regex Name \"^a\\\\d+\")");
  CHECK(where_of("from Users where search(Name, $p0)") == "(search Name $p0)");
  CHECK(where_of("from Users where search(Name, $p0, and)") == "(search Name $p0 \"and\")");
  CHECK(where_of("from Users where search(Name, 'jo*', OR)") == "(search Name \"jo*\" \"or\")");
  Query q = parse_ok("from Users where  exists(Name)");
  CHECK(std::get<MethodCall>(q.where->node).position == 18);
  CHECK(std::get<MethodCall>(q.where->node).arguments.empty());
}

TEST_CASE("RQL parser: exact() marks everything inside it") {
  CHECK(where_of("from Users where exact(Name = $p0)") == "(exact = Name $p0)");
  CHECK(where_of("from Users where exact(Name in ($p0)) and Age = 1") ==
        "(and (exact in Name $p0) (= Age 1))");
  CHECK(where_of("from Users where exact(Name = 'a' or not startsWith(Name, 'b'))") ==
        "(or (exact = Name \"a\") (not (exact startsWith Name \"b\")))");
  CHECK(where_of("from Users where exact(Age between 1 and 2)") == "(exact between Age 1 2)");
}

TEST_CASE("RQL parser: precedence is not > and > or, parentheses group") {
  CHECK(where_of("from Users where a = 1 or b = 2 and c = 3") ==
        "(or (= a 1) (and (= b 2) (= c 3)))");
  CHECK(where_of("from Users where a = 1 and b = 2 or c = 3") ==
        "(or (and (= a 1) (= b 2)) (= c 3))");
  CHECK(where_of("from Users where (a = 1 or b = 2) and c = 3") ==
        "(and (or (= a 1) (= b 2)) (= c 3))");
  CHECK(where_of("from Users where not a = 1 and b = 2") == "(and (not (= a 1)) (= b 2))");
  CHECK(where_of("from Users where not (a = 1 and b = 2)") == "(not (and (= a 1) (= b 2)))");
  CHECK(where_of("from Users where a = 1 and b = 2 and c = 3") ==
        "(and (and (= a 1) (= b 2)) (= c 3))");
  CHECK(where_of("from Users where a = 1 OR b = 2 AND NOT c = 3") ==
        "(or (= a 1) (and (= b 2) (not (= c 3))))");
  // What the clients emit for whereNotEquals-style negation.
  CHECK(where_of("from 'Users' where true and not Name = $p0") == "(and true (not (= Name $p0)))");
  CHECK(where_of("from 'Users' where true") == "true");
  CHECK(where_of("from 'Users' where true and not (Age > $p0 or exists(Name))") ==
        "(and true (not (or (> Age $p0) (exists Name))))");
  CHECK(where_of("from Users where ((((a = 1))))") == "(= a 1)");
}

TEST_CASE("RQL parser: field paths") {
  CHECK(where_of("from Orders where Address.City = 1") == "(= Address.City 1)");
  CHECK(where_of("from Orders where Lines[].Product = $p0") == "(= Lines[].Product $p0)");
  CHECK(where_of("from Orders where 'Field Name' = 1") == "(= Field Name 1)");
  CHECK(where_of("from Orders where Address.'Zip Code' = 1") == "(= Address.Zip Code 1)");
  // The npm client quotes a whole nested path when one name needs quotes
  // (QueryFieldUtil.escapeIfNecessary): the quoted text is still a path.
  CHECK(where_of("from Orders where 'Address.Zip Code' = 1") == "(= Address.Zip Code 1)");
  CHECK(where_of("from Orders where 'Lines[].Product Name' = 1") == "(= Lines[].Product Name 1)");
  CHECK(where_of("from Orders where '@metadata.@last-modified' = 1") ==
        "(= @metadata.@last-modified 1)");
  CHECK(where_of("from Orders where \"@metadata\".\"@last-modified\" > $p0") ==
        "(> @metadata.@last-modified $p0)");
  CHECK(where_of("from Orders where @metadata.@collection = 'Users'") ==
        "(= @metadata.@collection \"Users\")");
  CHECK(where_of("from Orders where id() = $p0") == "(= id() $p0)");
  CHECK(where_of("from Orders where id() in ($p0)") == "(in id() $p0)");
  CHECK(where_of("from Orders where startsWith(id(), 'orders/')") ==
        "(startsWith id() \"orders/\")");
  // Words that start clauses are fields when a comparison follows them.
  CHECK(where_of("from Orders where Order = 1 and Update = 2 and Limit in (1)") ==
        "(and (and (= Order 1) (= Update 2)) (in Limit 1))");
  CHECK(where_of("from Orders where 'order' = 1") == "(= order 1)");

  Query q = parse_ok("from Orders where Lines[].'Product Id' = 1");
  const auto& f = std::get<Comparison>(q.where->node).field;
  REQUIRE(f.segments.size() == 2);
  CHECK(f.segments[0].name == "Lines");
  CHECK(f.segments[0].each);
  CHECK(f.segments[1].name == "Product Id");
  CHECK_FALSE(f.segments[1].each);
  CHECK(f.text == "Lines[].'Product Id'");
}

TEST_CASE("RQL parser: aliases move from paths into FieldPath::alias") {
  Query q = parse_ok(
      "from Orders as o where o.Company = $p0 and id(o) != 'x' and c.Name = 1 "
      "load o.Company as c select o.Total, c.Name as CompanyName, id(o), c");
  CHECK(show(*q.where) == "(and (and (= o:Company $p0) (!= o:id() \"x\")) (= c:Name 1))");
  const auto& first =
      std::get<Comparison>(std::get<And>(std::get<And>(q.where->node).left->node).left->node);
  CHECK(first.field.alias == "o");
  CHECK(first.field.text == "Company");
  REQUIRE(q.loads.size() == 1);
  CHECK(show(q.loads[0].path) == "o:Company");
  CHECK(q.loads[0].alias == "c");
  REQUIRE(q.select.size() == 4);
  CHECK(show(q.select[0].field) == "o:Total");
  CHECK(q.select[0].name == "Total");
  CHECK(show(q.select[1].field) == "c:Name");
  CHECK(q.select[1].name == "CompanyName");
  CHECK(show(q.select[2].field) == "o:id()");
  CHECK(q.select[2].name == "Id");
  CHECK(show(q.select[3].field) == "c:");
  CHECK(q.select[3].name == "c");

  SUBCASE("without a declared alias the first segment is a field") {
    CHECK(where_of("from Orders where o.Company = 1") == "(= o.Company 1)");
  }
  SUBCASE("a quoted first segment is a field") {
    CHECK(where_of("from Orders as o where 'o'.Company = 1") == "(= o.Company 1)");
  }
  SUBCASE("id() of an undeclared alias") {
    auto msg = parse_error("from Orders as o where id(x) = 1");
    CHECK(msg.find("id(x)") != std::string::npos);
  }
  SUBCASE("an alias declared twice") {
    auto msg = parse_error("from Orders as o load o.A as o");
    CHECK(msg.find("'o' declared twice") != std::string::npos);
  }
}

TEST_CASE("RQL parser: load") {
  Query q = parse_ok("from Orders as o load o.Company as c, o.Employee e, o.Lines[].Product as p");
  REQUIRE(q.loads.size() == 3);
  CHECK(show(q.loads[0].path) == "o:Company");
  CHECK(q.loads[1].alias == "e");
  CHECK(show(q.loads[2].path) == "o:Lines[].Product");
  CHECK(q.loads[2].alias == "p");
  parse_error("from Orders as o load o.Company");
}

TEST_CASE("RQL parser: order by") {
  Query q = parse_ok(
      "from Users order by Name, Age as long desc, Score AS Double ascending, Code as alphaNumeric "
      "DESCENDING, Tag as STRING asc, id()");
  REQUIRE(q.order_by.size() == 6);
  CHECK(q.order_by[0].kind == OrderBy::Kind::Field);
  CHECK(show(q.order_by[0].field) == "Name");
  CHECK(q.order_by[0].type == OrderingType::String);
  CHECK_FALSE(q.order_by[0].type_given);
  CHECK_FALSE(q.order_by[0].descending);
  CHECK(q.order_by[1].type == OrderingType::Long);
  CHECK(q.order_by[1].type_given);
  CHECK(q.order_by[1].descending);
  CHECK(q.order_by[2].type == OrderingType::Double);
  CHECK_FALSE(q.order_by[2].descending);
  CHECK(q.order_by[3].type == OrderingType::AlphaNumeric);
  CHECK(q.order_by[3].descending);
  CHECK(q.order_by[4].type == OrderingType::String);
  CHECK(q.order_by[4].type_given);
  CHECK(q.order_by[5].field.is_id);

  q = parse_ok("from Users order by random()");
  CHECK(q.order_by[0].kind == OrderBy::Kind::Random);
  CHECK_FALSE(q.order_by[0].random_seed.has_value());
  q = parse_ok("from Users order by random('it''s')");  // OrderByToken.createRandom quoting
  REQUIRE(q.order_by[0].random_seed.has_value());
  CHECK(show(*q.order_by[0].random_seed) == "\"it's\"");
  q = parse_ok("from Users order by random($seed)");
  CHECK(show(*q.order_by[0].random_seed) == "$seed");
  q = parse_ok("from Users order by score() desc, Name");
  CHECK(q.order_by[0].kind == OrderBy::Kind::Score);
  CHECK(q.order_by[0].descending);
  CHECK(show(q.order_by[1].field) == "Name");
  q = parse_ok("from Users as u order by u.Name desc");
  CHECK(show(q.order_by[0].field) == "u:Name");

  CHECK(parse_error("from Users order by Name as integer").find("ordering type") !=
        std::string::npos);
}

TEST_CASE("RQL parser: select") {
  Query q = parse_ok(
      "from Users select Name, Address.City, Age as Years, 'First Name' as \"F N\", id() as Key");
  CHECK_FALSE(q.distinct);
  REQUIRE(q.select.size() == 5);
  CHECK(q.select[0].name == "Name");
  CHECK(show(q.select[1].field) == "Address.City");
  CHECK(q.select[1].name == "City");
  CHECK(q.select[2].name == "Years");
  CHECK(show(q.select[3].field) == "First Name");
  CHECK(q.select[3].name == "F N");
  CHECK(q.select[4].field.is_id);
  CHECK(q.select[4].name == "Key");

  q = parse_ok("from Users select distinct Name, Lines[].Product");
  CHECK(q.distinct);
  REQUIRE(q.select.size() == 2);
  CHECK(q.select[1].name == "Product");
  q = parse_ok("from Users select *");
  CHECK(q.select.empty());
  q = parse_ok("from Users select distinct * limit 1");
  CHECK(q.distinct);
  CHECK(q.select.empty());
  CHECK(q.limit.has_value());
  // A field called Distinct.
  q = parse_ok("from Users select Distinct, Name");
  CHECK_FALSE(q.distinct);
  CHECK(q.select.size() == 2);
}

TEST_CASE("RQL parser: include") {
  Query q = parse_ok(
      "from Orders include Company, 'Lines[].Product', Employee.Manager include counters('a', "
      "$p0), "
      "counters(), cmpxchg('Owner'), cmpxchg($key)");
  REQUIRE(q.includes.size() == 7);
  CHECK(q.includes[0].kind == Include::Kind::Document);
  CHECK(show(q.includes[0].path) == "Company");
  CHECK(show(q.includes[1].path) == "Lines[].Product");
  CHECK(show(q.includes[2].path) == "Employee.Manager");
  CHECK(q.includes[3].kind == Include::Kind::Counters);
  REQUIRE(q.includes[3].counters.size() == 2);
  CHECK(show(q.includes[3].counters[0]) == "\"a\"");
  CHECK(show(q.includes[3].counters[1]) == "$p0");
  CHECK(q.includes[4].kind == Include::Kind::AllCounters);
  CHECK(q.includes[5].kind == Include::Kind::CompareExchange);
  CHECK(show(q.includes[5].path) == "Owner");
  CHECK_FALSE(q.includes[5].key.has_value());
  CHECK(q.includes[6].kind == Include::Kind::CompareExchange);
  REQUIRE(q.includes[6].key.has_value());
  CHECK(show(*q.includes[6].key) == "$key");

  q = parse_ok("from Orders as o include counters(o, 'likes'), counters(o), o.Company");
  REQUIRE(q.includes.size() == 3);
  CHECK(q.includes[0].kind == Include::Kind::Counters);
  CHECK(show(q.includes[0].path) == "o:");
  CHECK(q.includes[1].kind == Include::Kind::AllCounters);
  CHECK(q.includes[1].path.alias == "o");
  CHECK(show(q.includes[2].path) == "o:Company");

  parse_error("from Orders include counters(o, )");
  parse_error("from Orders include counters(1)");

  // timings() is a flag on the query, not an include of anything.
  q = parse_ok("from Orders include Company, timings() include counters()");
  CHECK(q.timings);
  REQUIRE(q.includes.size() == 2);
  CHECK(show(q.includes[0].path) == "Company");
  CHECK(!parse_ok("from Orders include Company").timings);
  parse_error("from Orders include timings(Company)");
}

TEST_CASE("RQL parser: limit and offset") {
  Query q = parse_ok("from Users limit 10");
  CHECK(show(*q.limit) == "10");
  CHECK_FALSE(q.offset.has_value());
  q = parse_ok("from Users limit 5, 10");
  CHECK(show(*q.offset) == "5");
  CHECK(show(*q.limit) == "10");
  q = parse_ok("from Users limit 10 offset 5");
  CHECK(show(*q.offset) == "5");
  CHECK(show(*q.limit) == "10");
  q = parse_ok("from Users limit $p1, $p2");
  CHECK(show(*q.offset) == "$p1");
  CHECK(show(*q.limit) == "$p2");
  q = parse_ok("from Users LIMIT $c OFFSET $o");
  CHECK(show(*q.offset) == "$o");
  CHECK(show(*q.limit) == "$c");
  parse_error("from Users limit -1");
  parse_error("from Users limit 1.5");
  parse_error("from Users limit 'x'");
  parse_error("from Users limit 1 limit 2");
}

TEST_CASE("RQL parser: update keeps the script as written") {
  const std::string script =
      "\n  this.Name = 'a}b';\n  this.T = `${this.x}}`; // }\n  if (this.Age > 1) { this.Old = "
      "true; }\n";
  Query q = parse_ok("from Users as u where u.Age > $p0 update {" + script + "}");
  REQUIRE(q.update_script.has_value());
  CHECK(*q.update_script == script);
  CHECK(show(*q.where) == "(> u:Age $p0)");
  q = parse_ok("from Users update { this.x = 1 } limit 3");
  CHECK(*q.update_script == " this.x = 1 ");
  CHECK(show(*q.limit) == "3");
  parse_error("from Users update");
  parse_error("from Users update { x } select Name");
  parse_error("from Users update { x ");
}

TEST_CASE("RQL parser: the npm client's emitted queries (REST.md section 4)") {
  CHECK(where_of("from 'Users' where name = $p0") == "(= name $p0)");

  Query q = parse_ok("from 'Users' where name = $p0 order by age limit $p1, $p2");
  CHECK(show(*q.where) == "(= name $p0)");
  REQUIRE(q.order_by.size() == 1);
  CHECK(show(q.order_by[0].field) == "age");
  CHECK(show(*q.offset) == "$p1");
  CHECK(show(*q.limit) == "$p2");

  q = parse_ok("from 'Users' where name = $p0 order by age as long desc limit $p1, $p2");
  CHECK(q.order_by[0].type == OrderingType::Long);
  CHECK(q.order_by[0].descending);

  q = parse_ok("from 'Users' where age > $p0 and startsWith(name, $p1) include friendId");
  CHECK(show(*q.where) == "(and (> age $p0) (startsWith name $p1))");
  REQUIRE(q.includes.size() == 1);
  CHECK(show(q.includes[0].path) == "friendId");

  q = parse_ok("from index 'Users/ByName' where name in ($p0)");
  CHECK(q.source == SourceKind::Index);
  CHECK(show(*q.where) == "(in name $p0)");

  CHECK(where_of("from 'Users' where search(name, $p0)") == "(search name $p0)");
  CHECK(where_of("from Users where name = $n") == "(= name $n)");

  // Other shapes the client's tokens produce.
  CHECK(where_of("from 'Users' where (name = $p0 or name = $p1) and exists(age)") ==
        "(and (or (= name $p0) (= name $p1)) (exists age))");
  CHECK(where_of("from 'Users' where exact(name = $p0)") == "(exact = name $p0)");
  CHECK(where_of("from 'Users' where age between $p0 and $p1") == "(between age $p0 $p1)");
  q = parse_ok("from 'Users' select distinct name limit $p0, $p1");
  CHECK(q.distinct);
  q = parse_ok("from 'Orders' include company,counters('likes'),cmpxchg('owner')");
  CHECK(q.includes.size() == 3);
  q = parse_ok("from 'Users' as x where x.name = $p0 select x.name, x.age as years");
  CHECK(show(q.select[1].field) == "x:age");
  CHECK(q.select[1].name == "years");
}

TEST_CASE("RQL parser: errors name the token and where it is") {
  CHECK(parse_error("from Users where limit 10") ==
        "RQL: expected a field name after 'where' at line 1, column 18 (offset 17), found 'limit'");
  CHECK(parse_error("from Users where") ==
        "RQL: expected a field name after 'where' at line 1, column 17 (offset 16), found end of "
        "query");
  CHECK(parse_error("from Users\nwhere Name = ") ==
        "RQL: expected a value (string, number, true, false, null or $parameter) after '=' at line "
        "2, "
        "column 14 (offset 24), found end of query");
  CHECK(parse_error("Users") ==
        "RQL: expected 'from' at line 1, column 1 (offset 0), found 'Users'");
  CHECK(parse_error("") ==
        "RQL: expected 'from' at line 1, column 1 (offset 0), found end of query");
  CHECK(parse_error("from Users where Name = 'abc") ==
        "RQL: unterminated string at line 1, column 25 (offset 24)");
  CHECK(parse_error("from Users where Name ~ 1") ==
        "RQL: unexpected character at line 1, column 23 (offset 22)");
  CHECK(parse_error("from Users where Name 1").find("expected an operator") != std::string::npos);
  CHECK(parse_error("from Users where (Name = 1").find("expected ')'") != std::string::npos);
  CHECK(parse_error("from Users where Name in (1,)").find("expected a value") != std::string::npos);
  CHECK(parse_error("from Users where Age between 1 or 2").find("expected 'and'") !=
        std::string::npos);
  CHECK(parse_error("from Users where Name = 1 Age = 2") ==
        "RQL: expected a clause (where, order by, load, select, update, include, limit) or the end "
        "of the query after '1' at line 1, column 27 (offset 26), found 'Age'");
  CHECK(parse_error("from Users where Lines[0].x = 1").find("only name[] is supported") !=
        std::string::npos);
  CHECK(parse_error("from Users where Lines[][] = 1")
            .find("name[][] (nested arrays) is not supported") != std::string::npos);
  CHECK(parse_error("from Users where 'Lines[]'[] = 1")
            .find("name[][] (nested arrays) is not supported") != std::string::npos);
  CHECK(parse_error("from Users where 'a..b' = 1") ==
        "RQL: a malformed path 'a..b' at line 1, column 18 (offset 17)");
  CHECK(parse_error("from Users where '' = 1") ==
        "RQL: an empty field name at line 1, column 18 (offset 17)");
  CHECK(parse_error("from Users where a = 1 where b = 2").find("a second 'where'") !=
        std::string::npos);
  CHECK(parse_error("from Users where Name = Other").find("found 'Other'") != std::string::npos);
  CHECK(parse_error("from Users where search(Name, $p, maybe)").find("'and' or 'or'") !=
        std::string::npos);
  CHECK(parse_error("from Users where Name = 'a' 'b'").find("found 'b'") != std::string::npos);
  const std::string long_token(100, 'x');
  auto msg = parse_error("from Users where Name = 1 " + long_token);
  CHECK(msg.find("found '" + std::string(40, 'x') + "...'") != std::string::npos);
}

TEST_CASE("RQL parser: unsupported constructs say so") {
  const std::pair<const char*, const char*> cases[] = {
      {"declare function f(x) { return x; } from Users", "declare function is not supported"},
      {"from Users group by Name", "group by is not supported"},
      {"from Users select { Name: this.Name }",
       "select { ... } (JavaScript projections) is not supported"},
      {"from Users where a = 1 filter b = 2", "filter is not supported"},
      {"from Users include explanations()", "include explanations() is not supported"},
      {"from Users include highlight(Name, 18, 2)", "include highlight() is not supported"},
      {"from Users include revisions($p0)", "include revisions() is not supported"},
      {"from Users include timeseries('HeartRate')", "include timeseries() is not supported"},
      {"with { from Users } as u match (u)", "with (graph queries) is not supported"},
      {"match (Users as u)-[Friend]->(Users as f)", "match (graph queries) is not supported"},
      {"from Users where fuzzy(Name = $p0, 0.5)", "fuzzy() is not supported"},
      {"from Users where boost(Name = $p0, 2)", "boost() is not supported"},
      {"from Users where proximity(search(Name, $p0), 2)", "proximity() is not supported"},
      {"from Users where moreLikeThis(id() = $p0)", "moreLikeThis() is not supported"},
      {"from Users where intersect(a = 1, b = 2)", "intersect() is not supported"},
      {"from Users where spatial.within(Loc, spatial.circle(1, 2, 3))",
       "spatial.within() is not supported"},
      {"from Users order by spatial.distance(Loc, spatial.point(1, 2))",
       "order by spatial.distance is not supported"},
      {"from Users where lucene(Name, 'a*')", "lucene() is not supported"},
      {"from Users order by custom(Name, 'MySorter')", "order by custom() is not supported"},
      {"from Users where Name = other($p0)", "other() as a value is not supported"},
      {"from Users select count()", "count() in select is not supported"},
      {"from Users as u load u.Friend as f select counter(f, 'likes')",
       "counter(f, ...) of a document other than the queried one is not supported"},
      {"from Dogs (Revisions = true) as d",
       "from <collection> (<filter>) (revisions queries) is not supported"},
      {"from index 'Cameras' select facet(id('facets/1'))", "facet() in select is not supported"},
  };
  for (const auto& [query, expected] : cases) {
    INFO(query);
    const std::string msg = parse_error(query);
    CHECK(msg.find(expected) != std::string::npos);
    CHECK(msg.find("(at line 1, column") != std::string::npos);
  }
}

TEST_CASE("RQL parser: keywords are case-insensitive, identifiers keep their case") {
  Query q = parse_ok(
      "FROM Users AS u WHERE u.Name = 'X' AND NOT u.Age < 3 OR True ORDER BY u.Name DESC "
      "LOAD u.Boss AS b SELECT DISTINCT b.Name AS BossName INCLUDE u.Boss LIMIT 1 OFFSET 2");
  CHECK(q.alias == "u");
  CHECK(show(*q.where) == "(or (and (= u:Name \"X\") (not (< u:Age 3))) true)");
  CHECK(q.order_by[0].descending);
  CHECK(q.distinct);
  CHECK(q.select[0].name == "BossName");
  CHECK(show(q.select[0].field) == "b:Name");
  CHECK(show(*q.offset) == "2");
}

TEST_CASE("RQL parser: hostile input ends in ok or InvalidArgument") {
  const std::string valid[] = {
      "from 'Users' as u where u.Name = $p0 and not (exists(u.Age) or u.Tags all in ('a', \"b\")) "
      "order by u.Age as long desc, random('x') load u.Boss as b select distinct b.Name as N, "
      "id(u) "
      "include counters(u, 'c'), cmpxchg('k'), 'Lines[].Product' limit $p1, $p2",
      "from index 'I' where exact(search(Name, 'a b', and)) and Age between -1.5 and 2e3 update { "
      "this.a = `${'}'}`; } limit 3 offset 4",
  };
  for (const std::string& text : valid) {
    REQUIRE(parse_rql(text).ok());
    for (size_t n = 0; n < text.size(); ++n) {
      auto r = parse_rql(text.substr(0, n));
      CHECK((r.ok() || r.status().is_invalid_argument()));
    }
  }
  // Random garbage built from RQL's own pieces, with a fixed seed so a failure replays.
  const std::string pieces[] = {
      "from",   "Users", "where", "(",     ")",       "and",       "or",     "not",     "=",
      "'s'",    "\"",    "'",     "$p",    "$",       "1",         "-",      ".",       "[",
      "]",      ",",     "{",     "}",     "`",       "in",        "all",    "between", "id(",
      "exact(", "order", "by",    "limit", "include", "counters(", "select", "load",    "as",
      "true",   "\\",    "/*",    "//",    "\n",      "@",         "\xff"};
  std::mt19937 rng(20261206);
  for (int i = 0; i < 3000; ++i) {
    std::string text = rng() % 2 ? "from Users " : "";
    const int n = static_cast<int>(rng() % 20);
    for (int k = 0; k < n; ++k) {
      text += pieces[rng() % std::size(pieces)];
      if (rng() % 2) text += ' ';
    }
    auto r = parse_rql(text);
    INFO(text);
    CHECK((r.ok() || r.status().is_invalid_argument()));
  }
  // Deep nesting and long chains are refused, not a stack overflow.
  const std::string deep = "from Users where " + std::string(100000, '(') + "a = 1";
  CHECK(parse_error(deep).find("nesting deeper than") != std::string::npos);
  std::string nots = "from Users where ";
  for (int i = 0; i < 50000; ++i) nots += "not ";
  CHECK(parse_error(nots + "a = 1").find("nesting deeper than") != std::string::npos);
  std::string chain = "from Users where a = 1";
  for (int i = 1; i < 4096; ++i) chain += " or a = 1";
  CHECK(parse_rql(chain).ok());
  chain += " or a = 1";
  CHECK(parse_error(chain).find("more than 4096 conditions") != std::string::npos);
}

TEST_CASE("RQL parser: cmpxchg() as a value, by literal or parameter key") {
  auto q = parse_ok("from Users where Name = cmpxchg('Hera') and LastName in (cmpxchg($p1), 'x')");
  const auto& both = std::get<And>(q.where->node);
  const auto& eq = std::get<Comparison>(both.left->node);
  const auto& v = std::get<CompareExchangeValue>(eq.value);
  CHECK(std::get<Literal>(v.key).value == boost::json::value("Hera"));
  CHECK(v.position == 24);
  const auto& in = std::get<InList>(both.right->node);
  REQUIRE(in.values.size() == 2);
  CHECK(std::get<Parameter>(std::get<CompareExchangeValue>(in.values[0]).key).name == "p1");
  CHECK(parse_error("from Users where Name = cmpxchg(Name)").find("a compare-exchange key") != std::string::npos);
  CHECK(parse_error("from Users where Name = cmpxchg('a'").find("')'") != std::string::npos);
}

TEST_CASE("RQL parser: counter() in select, named by its alias, its literal name or later") {
  auto q = parse_ok("from Users as u select Name, counter('Likes'), counter(u, \"Downloads\") as d, counter($p0)");
  REQUIRE(q.select.size() == 4);
  CHECK_FALSE(q.select[0].counter);
  REQUIRE(q.select[1].counter);
  CHECK(q.select[1].name == "Likes");
  CHECK(q.select[1].field.alias.empty());
  CHECK(q.select[2].name == "d");
  CHECK(q.select[2].field.alias == "u");
  REQUIRE(q.select[3].counter);
  CHECK(std::get<Parameter>(*q.select[3].counter).name == "p0");
  CHECK(q.select[3].name.empty());  // the parameter's value names it when the query runs
  CHECK(parse_error("from Users select counter(Name)").find("a counter name") != std::string::npos);
}
