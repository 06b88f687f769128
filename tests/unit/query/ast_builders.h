#pragma once
// Hand-built RQL syntax trees for the evaluator's tests (the parser is tested on
// its own): path("Lines[].Product"), eq(path("Name"), lit("x")), and_(a, b), ...

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <utility>
#include <vector>

#include "query/rql_ast.h"

namespace corvus::query::test {

// "Address.City", "Lines[].Product"; "u.Name" with alias "u" when given.
inline FieldPath path(const std::string& text, const std::string& alias = "") {
  FieldPath p;
  p.text = text;
  p.alias = alias;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    size_t dot = text.find('.', start);
    std::string part = text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    FieldPath::Segment segment;
    if (part.size() > 2 && part.substr(part.size() - 2) == "[]") {
      segment.each = true;
      part.resize(part.size() - 2);
    }
    segment.name = part;
    p.segments.push_back(segment);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return p;
}

inline FieldPath id_path(const std::string& alias = "") {
  FieldPath p;
  p.is_id = true;
  p.alias = alias;
  p.text = "id()";
  return p;
}

// A bare alias: `select u`.
inline FieldPath alias_path(const std::string& alias) {
  FieldPath p;
  p.alias = alias;
  p.text = alias;
  return p;
}

inline Operand lit(boost::json::value v) { return Literal{std::move(v)}; }
inline Operand param(const std::string& name, size_t position = 0) { return Parameter{name, position}; }

inline boost::json::value doc(const char* json) { return boost::json::parse(json); }
inline boost::json::object params(const char* json) { return boost::json::parse(json).as_object(); }

inline ExpressionPtr wrap(auto node) {
  auto e = std::make_unique<Expression>();
  e->node = std::move(node);
  return e;
}

inline ExpressionPtr cmp(FieldPath field, CompareOp op, Operand value, bool exact = false) {
  return wrap(Comparison{std::move(field), op, std::move(value), exact});
}
inline ExpressionPtr eq(FieldPath field, Operand value, bool exact = false) {
  return cmp(std::move(field), CompareOp::Equal, std::move(value), exact);
}
inline ExpressionPtr in(FieldPath field, std::vector<Operand> values, bool all = false, bool exact = false) {
  return wrap(InList{std::move(field), std::move(values), all, exact});
}
inline ExpressionPtr between(FieldPath field, Operand low, Operand high, bool exact = false) {
  return wrap(Between{std::move(field), std::move(low), std::move(high), exact});
}
inline ExpressionPtr method(MethodKind kind, FieldPath field, std::vector<Operand> arguments, bool exact = false,
                            size_t position = 0) {
  return wrap(MethodCall{kind, std::move(field), std::move(arguments), exact, position});
}
inline ExpressionPtr and_(ExpressionPtr l, ExpressionPtr r) { return wrap(And{std::move(l), std::move(r)}); }
inline ExpressionPtr or_(ExpressionPtr l, ExpressionPtr r) { return wrap(Or{std::move(l), std::move(r)}); }
inline ExpressionPtr not_(ExpressionPtr e) { return wrap(Not{std::move(e)}); }

}  // namespace corvus::query::test
