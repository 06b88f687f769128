#include "query/index_lookup.h"

#include <cstdlib>

#include "query/operand_value.h"
#include "query/value_comparison.h"

namespace corvus::query {

namespace {

using Candidates = std::optional<DocumentIdSet>;

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

  Status add_equal(uint8_t field, const boost::json::value& v, DocumentIdSet& out, bool& narrowed) const {
    auto collect = [&out](std::string_view id) {
      out.emplace(id);
      return true;
    };
    if (is_number(v)) return index_.lookup_equal(field, *term_of(v), collect);
    if (v.is_bool()) return index_.lookup_equal(field, string_term(v.get_bool() ? "true" : "false"), collect);
    if (v.is_string()) {
      if (Status s = index_.lookup_equal(field, string_term(v.get_string()), collect); !s.ok()) return s;
      // "5" equals the number 5 (its canonical text): look the number up too.
      std::string text(v.get_string());
      char* end = nullptr;
      double d = std::strtod(text.c_str(), &end);
      if (!text.empty() && end == text.c_str() + text.size())
        return index_.lookup_equal(field, number_term(d), collect);
      return Status::Ok();
    }
    if (v.is_null()) narrowed = false;  // `= null` also matches documents without the field
    return Status::Ok();                 // arrays and objects equal nothing
  }

  Result<Candidates> equal_any(const FieldPath& path, const std::vector<boost::json::value>& values) const {
    int field = field_of(path);
    if (field < 0) return Candidates();
    DocumentIdSet out;
    bool narrowed = true;
    for (const auto& v : values)
      if (Status s = add_equal(static_cast<uint8_t>(field), v, out, narrowed); !s.ok()) return s;
    if (!narrowed) return Candidates();
    return Candidates(std::move(out));
  }

  Result<Candidates> range(const FieldPath& path, const boost::json::value* low, const boost::json::value* high,
                           bool exact) const {
    int field = field_of(path);
    if (field < 0) return Candidates();
    DocumentIdSet out;
    auto collect = [&out](std::string_view id) {
      out.emplace(id);
      return true;
    };
    const boost::json::value* any = low ? low : high;
    // A bound orders only values of its own type: numbers, or strings.
    auto same_type = [&](const boost::json::value* v) {
      return !v || (is_number(*any) ? is_number(*v) : v->is_string());
    };
    if (!any || !(is_number(*any) || any->is_string()) || !same_type(low) || !same_type(high))
      return Candidates(std::move(out));  // never matches
    // Strings with exact(): the index holds lower-cased terms, whose order is not the exact one.
    if (any->is_string() && exact) return Candidates();
    auto bound = [](const boost::json::value* v) -> std::optional<AutoIndex::Bound> {
      if (!v) return std::nullopt;
      // Inclusive even for < and >: doubles can merge neighbouring int64s; the filter decides.
      return AutoIndex::Bound{v->is_string() ? string_term(v->get_string()).value : term_of(*v)->value, true};
    };
    TermType type = is_number(*any) ? TermType::Number : TermType::String;
    if (Status s = index_.lookup_range(static_cast<uint8_t>(field), type, bound(low), bound(high), collect); !s.ok())
      return s;
    return Candidates(std::move(out));
  }

  Result<Candidates> visit(const Comparison& c) {
    auto v = value_of(c.value);
    if (!v.ok()) return v.status();
    switch (c.op) {
      case CompareOp::Equal:
        return equal_any(c.field, {v.value()});
      case CompareOp::NotEqual:
        return Candidates();
      case CompareOp::Less:
      case CompareOp::LessOrEqual:
        return range(c.field, nullptr, &v.value(), c.exact);
      case CompareOp::Greater:
      case CompareOp::GreaterOrEqual:
        return range(c.field, &v.value(), nullptr, c.exact);
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
    }
    return equal_any(in.field, values);
  }

  Result<Candidates> visit(const Between& b) {
    auto low = value_of(b.low);
    if (!low.ok()) return low.status();
    auto high = value_of(b.high);
    if (!high.ok()) return high.status();
    return range(b.field, &low.value(), &high.value(), b.exact);
  }

  Result<Candidates> visit(const MethodCall& m) {
    int field = field_of(m.field);
    if (field < 0) return Candidates();
    DocumentIdSet out;
    auto collect = [&out](std::string_view id) {
      out.emplace(id);
      return true;
    };
    if (m.kind == MethodKind::StartsWith && m.arguments.size() == 1) {
      auto v = value_of(m.arguments[0]);
      if (!v.ok()) return v.status();
      if (!v.value().is_string()) return Candidates();
      if (Status s = index_.lookup_prefix(static_cast<uint8_t>(field), to_lower(v.value().get_string()), collect);
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
    if (!left.value()) return right;
    if (!right.value()) return left;
    DocumentIdSet& small = left.value()->size() <= right.value()->size() ? *left.value() : *right.value();
    DocumentIdSet& large = &small == &*left.value() ? *right.value() : *left.value();
    DocumentIdSet both;
    for (const auto& id : small)
      if (large.count(id)) both.insert(id);
    return Candidates(std::move(both));
  }

  Result<Candidates> visit(const Or& o) {
    auto left = of(*o.left);
    if (!left.ok() || !left.value()) return left;
    auto right = of(*o.right);
    if (!right.ok() || !right.value()) return right;
    left.value()->merge(*right.value());
    return left;
  }

  const AutoIndex& index_;
  const boost::json::object& parameters_;
};

}  // namespace

Result<std::optional<DocumentIdSet>> index_candidates(const Expression& where, const AutoIndex& index,
                                                      const boost::json::object& parameters) {
  return Lookup(index, parameters).of(where);
}

}  // namespace corvus::query
