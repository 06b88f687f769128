#include "query/index_lookup.h"

#include <cmath>
#include <cstdlib>

#include "query/operand_value.h"
#include "query/value_comparison.h"

namespace corvus::query {

namespace {

using Candidates = std::optional<IndexCandidates>;
using DocumentIdSet = std::unordered_map<std::string, uint64_t>;

// Numbers whose double term stands for them alone: below 2^53 every integer
// is a distinct double, so equality and order on the terms are exact.
bool exactly_represented(const boost::json::value& v) {
  if (v.is_int64()) return std::llabs(v.get_int64()) < (int64_t{1} << 53);
  if (v.is_uint64()) return v.get_uint64() < (uint64_t{1} << 53);
  return v.is_double() && std::fabs(v.get_double()) < kExactIntegerLimit;
}

// Whether the string `text` parses wholly as a number (then "5" also equals the number 5).
std::optional<double> number_in(std::string_view text) {
  std::string s(text);
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) return std::nullopt;
  return d;
}

class Lookup {
 public:
  Lookup(const AutoIndex& index, const boost::json::object& parameters) : index_(index), parameters_(parameters) {}

  Result<Candidates> of(const Expression& e) {
    return std::visit([&](const auto& node) { return visit(node); }, e.node);
  }

 private:
  int field_of(const FieldPath& path) const {
    if (path.is_id) return -1;
    return index_.definition().field_number(path.text);
  }

  Result<boost::json::value> value_of(const Operand& operand) const { return resolve_operand(operand, parameters_); }

  static AutoIndex::Found collector(DocumentIdSet& out) {
    return [&out](std::string_view id, uint64_t etag) {
      out.emplace(id, etag);
      return true;
    };
  }

  // Adds the documents equal to `v`; clears `exact` when the terms looked up
  // may hold documents that are not equal (the filter then decides).
  Status add_equal(uint8_t field, const boost::json::value& v, bool case_sensitive, DocumentIdSet& out,
                   bool& narrowed, bool& exact) const {
    auto collect = collector(out);
    if (is_number(v)) {
      exact = exact && exactly_represented(v);
      return index_.lookup_equal(field, *term_of(v), collect);
    }
    if (v.is_bool()) return index_.lookup_equal(field, string_term(v.get_bool() ? "true" : "false"), collect);
    if (v.is_string()) {
      exact = exact && !case_sensitive;
      if (Status s = index_.lookup_equal(field, string_term(v.get_string()), collect); !s.ok()) return s;
      // "5" equals the number 5 (its canonical text): look the number up too.
      if (auto d = number_in(v.get_string())) {
        exact = false;  // "5.0" finds the number 5, whose text is "5"
        return index_.lookup_equal(field, number_term(*d), collect);
      }
      return Status::Ok();
    }
    if (v.is_null()) narrowed = false;  // `= null` also matches documents without the field
    return Status::Ok();                 // arrays and objects equal nothing
  }

  Result<Candidates> equal_any(const FieldPath& path, const std::vector<boost::json::value>& values,
                               bool case_sensitive) const {
    int field = field_of(path);
    if (field < 0) return Candidates();
    IndexCandidates out;
    out.exact = true;
    bool narrowed = true;
    for (const auto& v : values)
      if (Status s = add_equal(static_cast<uint8_t>(field), v, case_sensitive, out.documents, narrowed, out.exact);
          !s.ok())
        return s;
    if (!narrowed) return Candidates();
    return Candidates(std::move(out));
  }

  // Documents with a value between `low` and `high` (nullptr: unbounded), each
  // bound inclusive or not as the comparison says.
  Result<Candidates> range(const FieldPath& path, const boost::json::value* low, bool low_inclusive,
                           const boost::json::value* high, bool high_inclusive, bool exact) const {
    int field = field_of(path);
    if (field < 0) return Candidates();
    IndexCandidates out;
    out.exact = true;
    auto collect = collector(out.documents);
    const boost::json::value* any = low ? low : high;
    // A bound orders only values of its own type: numbers, or strings.
    auto same_type = [&](const boost::json::value* v) {
      return !v || (is_number(*any) ? is_number(*v) : v->is_string());
    };
    if (!any || !(is_number(*any) || any->is_string()) || !same_type(low) || !same_type(high))
      return Candidates(std::move(out));  // never matches: exactly nothing
    // Strings with exact(): the index holds lower-cased terms, whose order is not the exact one.
    if (any->is_string() && exact) return Candidates();
    auto bound = [&out](const boost::json::value* v, bool inclusive) -> std::optional<AutoIndex::Bound> {
      if (!v) return std::nullopt;
      if (v->is_string()) return AutoIndex::Bound{string_term(v->get_string()).value, inclusive};
      // Beyond 2^53 doubles merge neighbouring integers: inclusive, and the filter decides.
      if (!exactly_represented(*v)) {
        out.exact = false;
        inclusive = true;
      }
      return AutoIndex::Bound{term_of(*v)->value, inclusive};
    };
    TermType type = is_number(*any) ? TermType::Number : TermType::String;
    if (Status s = index_.lookup_range(static_cast<uint8_t>(field), type, bound(low, low_inclusive),
                                       bound(high, high_inclusive), collect);
        !s.ok())
      return s;
    return Candidates(std::move(out));
  }

  Result<Candidates> visit(const Comparison& c) {
    auto v = value_of(c.value);
    if (!v.ok()) return v.status();
    switch (c.op) {
      case CompareOp::Equal:
        return equal_any(c.field, {v.value()}, c.exact);
      case CompareOp::NotEqual:
        return Candidates();
      case CompareOp::Less:
        return range(c.field, nullptr, false, &v.value(), false, c.exact);
      case CompareOp::LessOrEqual:
        return range(c.field, nullptr, false, &v.value(), true, c.exact);
      case CompareOp::Greater:
        return range(c.field, &v.value(), false, nullptr, false, c.exact);
      case CompareOp::GreaterOrEqual:
        return range(c.field, &v.value(), true, nullptr, false, c.exact);
    }
    return Candidates();
  }

  Result<Candidates> visit(const InList& in) {
    std::vector<boost::json::value> values;
    for (const auto& operand : in.values) {
      auto v = value_of(operand);
      if (!v.ok()) return v.status();
      if (v.value().is_array()) {
        for (const auto& e : v.value().as_array()) values.push_back(e);
      } else {
        values.push_back(std::move(v).value());
      }
    }
    if (in.all) {
      // Every listed value must be there: the documents holding the first one are enough.
      if (values.empty()) return Candidates();
      values.resize(1);
      auto first = equal_any(in.field, values, in.exact);
      if (first.ok() && first.value()) first.value()->exact = false;
      return first;
    }
    return equal_any(in.field, values, in.exact);
  }

  Result<Candidates> visit(const Between& b) {
    auto low = value_of(b.low);
    if (!low.ok()) return low.status();
    auto high = value_of(b.high);
    if (!high.ok()) return high.status();
    return range(b.field, &low.value(), true, &high.value(), true, b.exact);
  }

  Result<Candidates> visit(const MethodCall& m) {
    int field = field_of(m.field);
    if (field < 0) return Candidates();
    if (m.kind == MethodKind::StartsWith && m.arguments.size() == 1) {
      auto v = value_of(m.arguments[0]);
      if (!v.ok()) return v.status();
      if (!v.value().is_string()) return Candidates();
      IndexCandidates out;
      out.exact = !m.exact;
      if (Status s = index_.lookup_prefix(static_cast<uint8_t>(field), to_lower(v.value().get_string()),
                                          collector(out.documents));
          !s.ok())
        return s;
      return Candidates(std::move(out));
    }
    // exists(): no narrowing. Objects reach a path (exists(Address) with
    // Address {...} holds, as in RavenDB) but have no term in the index, so the
    // documents holding terms are not all the documents that match.
    return Candidates();
  }

  Result<Candidates> visit(const TrueExpression&) { return Candidates(); }
  Result<Candidates> visit(const Not&) { return Candidates(); }

  Result<Candidates> visit(const And& a) {
    auto left = of(*a.left);
    if (!left.ok()) return left;
    auto right = of(*a.right);
    if (!right.ok()) return right;
    // An `and` is never exact: `f > 1 and f < 5` wants one value of f in
    // both, which two lookups on an array field cannot tell.
    if (!left.value() && right.value()) right.value()->exact = false;
    if (!left.value()) return right;
    left.value()->exact = false;
    if (!right.value()) return left;
    DocumentIdSet& l = left.value()->documents;
    DocumentIdSet& r = right.value()->documents;
    DocumentIdSet& small = l.size() <= r.size() ? l : r;
    DocumentIdSet& large = &small == &l ? r : l;
    IndexCandidates both;
    for (const auto& entry : small)
      if (large.count(entry.first)) both.documents.insert(entry);
    return Candidates(std::move(both));
  }

  Result<Candidates> visit(const Or& o) {
    auto left = of(*o.left);
    if (!left.ok() || !left.value()) return left;
    auto right = of(*o.right);
    if (!right.ok() || !right.value()) return right;
    left.value()->documents.merge(right.value()->documents);
    left.value()->exact = left.value()->exact && right.value()->exact;
    return left;
  }

  const AutoIndex& index_;
  const boost::json::object& parameters_;
};

}  // namespace

Result<std::optional<IndexCandidates>> index_candidates(const Expression& where, const AutoIndex& index,
                                                        const boost::json::object& parameters) {
  return Lookup(index, parameters).of(where);
}

}  // namespace corvus::query
