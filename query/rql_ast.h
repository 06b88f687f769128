#pragma once
// The RQL syntax tree: what parse_rql (query/rql_parser.h) returns and what the
// query runner plans and evaluates. Plain values, no behaviour; parameters stay
// unresolved ($p0) so a parsed query can be cached and run with other values.
// Positions are byte offsets into the query text, for error messages.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/json/value.hpp>

namespace corvus::query {

// A path into a document: `Name`, `Address.City`, `Lines[].Product`.
// `id()` is the document id, not a field. A path that starts with an alias
// declared by `from X as a` or `load ... as b` has the alias moved to
// `alias` and removed from `segments`.
struct FieldPath {
  struct Segment {
    std::string name;
    bool each = false;  // written `name[]`: every element of the array at `name`
  };
  std::vector<Segment> segments;
  bool is_id = false;    // id() or id(alias)
  std::string alias;     // empty: the queried document itself
  std::string text;      // as written (without the alias), for names and messages
  size_t position = 0;
};

// A value written in the query or passed as a parameter.
struct Literal {
  boost::json::value value;  // string, int64, double, bool or null
};
struct Parameter {
  std::string name;  // without the '$'
  size_t position = 0;
};
// cmpxchg('key') / cmpxchg($p): the value of a compare-exchange entry of the
// database, read when the query starts (query/operand_value.h).
struct CompareExchangeValue {
  std::variant<Literal, Parameter> key;
  size_t position = 0;
};
using Operand = std::variant<Literal, Parameter, CompareExchangeValue>;

enum class CompareOp { Equal, NotEqual, Less, LessOrEqual, Greater, GreaterOrEqual };

struct Expression;
using ExpressionPtr = std::unique_ptr<Expression>;

// field <op> value. `exact`: inside exact(...): strings compare case-sensitively.
struct Comparison {
  FieldPath field;
  CompareOp op = CompareOp::Equal;
  Operand value;
  bool exact = false;
};
// field in (v1, v2, ...) / field all in (...). A single parameter may hold an array.
struct InList {
  FieldPath field;
  std::vector<Operand> values;
  bool all = false;
  bool exact = false;
};
// field between low and high (inclusive).
struct Between {
  FieldPath field;
  Operand low;
  Operand high;
  bool exact = false;
};
// startsWith(f, v), endsWith(f, v), exists(f), regex(f, v), search(f, v).
enum class MethodKind { StartsWith, EndsWith, Exists, Regex, Search };
struct MethodCall {
  MethodKind kind = MethodKind::Exists;
  FieldPath field;
  std::vector<Operand> arguments;  // exists: none; search: terms [, 'and'|'or']
  bool exact = false;
  size_t position = 0;
};
// `where true`: every document.
struct TrueExpression {};
struct And {
  ExpressionPtr left;
  ExpressionPtr right;
};
struct Or {
  ExpressionPtr left;
  ExpressionPtr right;
};
struct Not {
  ExpressionPtr operand;
};

struct Expression {
  std::variant<Comparison, InList, Between, MethodCall, TrueExpression, And, Or, Not> node;
};

// order by <field> [as long|double|alphaNumeric|string] [asc|desc], random(), score().
enum class OrderingType { String, Long, Double, AlphaNumeric };
struct OrderBy {
  enum class Kind { Field, Random, Score } kind = Kind::Field;
  FieldPath field;                     // Kind::Field
  OrderingType type = OrderingType::String;
  bool type_given = false;             // `as ...` was written
  bool descending = false;
  std::optional<Operand> random_seed;  // random('seed')
};

// load <path> as <alias>: the document whose id is at path, for projections.
struct Load {
  FieldPath path;
  std::string alias;
};

// One projected field: select Name, Address.City as City, id() as Id, c.Name as Company,
// counter('Likes') as Likes, counter(u, $name).
struct Projection {
  FieldPath field;   // counter(): only its alias (the queried document's, or empty)
  std::string name;  // the alias given with `as`, else the last segment's name ("Id" for id(), the counter's name)
  std::optional<Operand> counter;  // counter(...): the counter's name
};

// include <path>, include counters([alias,] 'name'...) / counters(), cmpxchg(<path or value>).
struct Include {
  enum class Kind { Document, Counters, AllCounters, CompareExchange } kind = Kind::Document;
  FieldPath path;                 // Document: the id-valued field; CompareExchange: the key path
  std::vector<Operand> counters;  // Counters: names (a parameter may hold an array)
  std::optional<Operand> key;     // CompareExchange with a literal or parameter key
};

enum class SourceKind { Collection, AllDocs, Index };

struct Query {
  SourceKind source = SourceKind::AllDocs;
  std::string source_name;  // the collection or the index, unquoted; empty for @all_docs
  std::string alias;        // from Users as u
  ExpressionPtr where;      // nullptr: no filter
  std::vector<Load> loads;
  std::vector<OrderBy> order_by;
  bool distinct = false;
  std::vector<Projection> select;  // empty: whole documents
  std::vector<Include> includes;
  bool timings = false;  // include timings(): the answer says how long each phase took
  // limit <count> | limit <offset>, <count> | limit <count> offset <offset>.
  std::optional<Operand> limit;
  std::optional<Operand> offset;
  // update { ... }: the patch script's text as written (JavaScript; patch by query).
  std::optional<std::string> update_script;
};

}  // namespace corvus::query
